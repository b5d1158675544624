"""fiji_bridge.start and the Bridge against real ImageJ 1.x (interactive mode under Xvfb)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import jpype
import pytest

import fiji_bridge
from fiji_bridge.errors import FijiBridgeError, InputError, RuntimeNotAvailable
from fiji_bridge.runtime import home, jvm, locate
from fiji_bridge.runtime.macro import MacroError


def test_start_twice_returns_the_running_bridge(bridge):
    assert fiji_bridge.start() is bridge
    assert fiji_bridge.start(mode="interactive") is bridge


def test_start_in_another_mode_is_a_clear_error(bridge):
    with pytest.raises(FijiBridgeError, match="already running in interactive mode"):
        fiji_bridge.start(mode="gui")


def test_unknown_mode_is_rejected():
    with pytest.raises(InputError, match="mode must be one of"):
        fiji_bridge.start(mode="fullscreen")


def test_interactive_bridge_has_display_imagej_and_managed_home(bridge):
    from jpype import JClass

    System = JClass("java.lang.System")
    assert bridge.flavour == "ImageJ 1.x" and bridge.mode == "interactive"
    assert not bridge.headless and os.environ.get("DISPLAY")
    assert bridge.IJ.getInstance() is not None and not bridge.IJ.getInstance().isShowing()
    assert str(System.getProperty("plugins.dir")) == str(home.managed_home())
    assert JClass("java.lang.Runtime").getRuntime().maxMemory() > 1 << 30
    assert bridge.imagej_version().startswith("1.")


def test_roi_groups_find_the_managed_luts(clean_ij):
    from jpype import JClass

    polygon = JClass("ij.gui.Roi")(1, 1, 5, 5)
    polygon.setGroup(3)
    assert polygon.getGroup() == 3
    assert "LUT not found" not in clean_ij.log_text()


def test_glasbey_lut_is_an_imagej_lut(bridge):
    from jpype import JClass, JInt

    lut = JClass("ij.plugin.LutLoader").openLut(str(home.managed_home() / "luts" / "Glasbey.lut"))
    assert lut is not None and lut.getMapSize() == 256
    colours = [lut.getRGB(JInt(i)) & 0xFFFFFF for i in range(256)]
    assert colours[0] == 0 and len(set(colours[1:])) > 200


def test_macro_returns_its_value(clean_ij):
    assert clean_ij.run_macro('return "" + (6 * 7);') == "42"
    assert clean_ij.run_macro("return getArgument();", "hello") == "hello"
    assert clean_ij.run_macro("x = 1;") == ""
    assert clean_ij.run_macro("exit;") == ""


def test_a_macro_run_from_the_event_thread_still_reports_its_error(clean_ij):
    """Off Python's main thread the macro runs on the calling thread: from the Swing event thread
    a worker thread would wait for the event thread, which waits for the worker."""
    import threading

    done, outcome = threading.Event(), []

    def call() -> None:
        try:
            clean_ij.run_macro('exit("stopped from the event thread");')
            outcome.append("no error")
        except MacroError as exc:
            outcome.append(str(exc))
        done.set()

    jpype.JClass("java.awt.EventQueue").invokeLater(jpype.JProxy("java.lang.Runnable", dict={"run": call}))
    assert done.wait(20), "the macro never came back"
    assert "stopped from the event thread" in outcome[0]


@pytest.mark.parametrize("code, expected", [
    ("y = undefinedvar + 1;", "Undefined variable"),
    ('run("No Such Command");', "Unrecognized command"),
    ('open("/nonexistent/none.tif");', "File not found"),
    ('exit("stopped on purpose");', "stopped on purpose"),
    ('waitForUser("click me");', "click me"),
    ('newImage("a", "8-bit", 8, 8, 1); run("Gaussian Blur...");', "asked for input"),
    ('run("Gaussian Blur...", "sigma=2");', "no images"),
])
def test_macro_error_comes_back_within_seconds(clean_ij, code, expected):
    started = time.monotonic()
    with pytest.raises(MacroError, match=expected):
        clean_ij.run_macro(code)
    assert time.monotonic() - started < 10
    assert clean_ij.run_macro('return "still works";') == "still works"


def test_many_error_dialogs_in_a_row_never_block(clean_ij, tmp_path):
    script = tmp_path / "Fails_Loudly.py"
    script.write_text("from ij import IJ\nIJ.error('Fails Loudly', 'a failure from a script')\n")
    for _ in range(15):
        started = time.monotonic()
        with pytest.raises(MacroError, match="a failure from a script"):
            clean_ij.run_macro(f'newImage("a", "8-bit", 8, 8, 1); runMacro("{script}");')
        assert time.monotonic() - started < 10
        clean_ij.close_images()


def test_the_guard_can_release_a_dialog_wait_loop(bridge):
    from fiji_bridge.runtime import macro

    assert macro._secondary_loop_field() is not None  # needs --add-opens java.desktop/java.awt


def test_no_dialog_is_left_open_after_a_macro_error(clean_ij):
    from jpype import JClass

    with pytest.raises(MacroError):
        clean_ij.run_macro('showMessage("Title", "a message box");')
    Dialog = JClass("java.awt.Dialog")
    assert not [w for w in JClass("java.awt.Window").getWindows() if isinstance(w, Dialog) and w.isShowing()]


def test_tool_windows_opened_by_a_macro_stay_open(clean_ij):
    clean_ij.run_macro('newImage("a", "8-bit ramp", 64, 64, 1); run("Brightness/Contrast...");')
    assert clean_ij.WindowManager.getWindow("B&C") is not None
    clean_ij.WindowManager.getWindow("B&C").close()


def test_reset_closes_images_and_clears_roi_manager(bridge):
    bridge.run_macro('newImage("a", "8-bit", 8, 8, 1); makeRectangle(1, 1, 3, 3); roiManager("add");')
    assert bridge.WindowManager.getImageCount() == 1 and bridge.roi_manager().getCount() == 1
    bridge.reset()
    assert bridge.WindowManager.getImageCount() == 0 and bridge.roi_manager().getCount() == 0


def test_missing_ij_jar_is_named_in_the_error(monkeypatch, tmp_path):
    monkeypatch.setenv("FIJI_BRIDGE_IJ_JAR", str(tmp_path / "nowhere" / "ij.jar"))
    with pytest.raises(RuntimeNotAvailable, match="nowhere/ij.jar.*apt-get install"):
        locate.imagej1_jars()


def test_fiji_target_accepts_folders_and_endpoints_only(tmp_path, monkeypatch):
    monkeypatch.delenv("FIJI_DIR", raising=False)
    assert locate.fiji_target(None) is None
    assert locate.fiji_target(tmp_path) == str(tmp_path.resolve())
    assert locate.fiji_target("sc.fiji:fiji:2.14.0") == "sc.fiji:fiji:2.14.0"
    monkeypatch.setenv("FIJI_DIR", str(tmp_path / "no such Fiji.app"))
    with pytest.raises(RuntimeNotAvailable, match="FIJI_DIR"):
        locate.fiji_target(None)


def test_heap_defaults_to_half_the_memory_and_can_be_set(monkeypatch):
    monkeypatch.delenv("FIJI_BRIDGE_HEAP", raising=False)
    total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    assert abs(int(jvm.heap_size().rstrip("m")) - total_mb // 2) <= 1
    monkeypatch.setenv("FIJI_BRIDGE_HEAP", "3g")
    assert "-Xmx3g" in jvm.imagej1_options("headless", home.managed_home())
    monkeypatch.setenv("FIJI_BRIDGE_HEAP", "lots")
    with pytest.raises(RuntimeNotAvailable, match="FIJI_BRIDGE_HEAP"):
        jvm.heap_size()


def _run_python(code: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_headless_mode_runs_without_display_and_shuts_down_cleanly():
    done = _run_python("""
        import os, time
        os.environ.pop("DISPLAY", None)
        import fiji_bridge, fiji_bridge.runtime.macro
        from jpype import JClass
        b = fiji_bridge.start(mode="headless")
        shell = JClass("groovy.lang.GroovyShell")()
        print("headless", JClass("java.awt.GraphicsEnvironment").isHeadless(), "DISPLAY" in os.environ)
        print("ping", shell.evaluate('System.getProperties().get("fiji_bridge.service").apply(["ping"]).value'))
        try:
            b.roi_manager()
        except fiji_bridge.errors.RuntimeNotAvailable as e:
            print("roi manager:", e)
        try:
            b.IJ.getImage()  # no image and no ImageJ window: ImageJ calls System.exit here
        except Exception as e:
            print("getImage:", e)
        try:
            b.run_macro('newImage("a", "8-bit", 8, 8, 1); run("Invert");')
        except fiji_bridge.runtime.macro.MacroError as e:
            print("macro:", e)
        t = time.monotonic(); b.shutdown(); print("shutdown s", round(time.monotonic() - t, 1))
    """)
    assert done.returncode == 0, done.stderr
    assert "headless True False" in done.stdout and "ping pong" in done.stdout
    assert "roi manager: The ROI Manager needs a display" in done.stdout
    assert "getImage: java.lang.SecurityException: System.exit(0) was blocked" in done.stdout
    assert "macro: Macro error: this needs a display" in done.stdout
    assert "WARNING" not in done.stderr


def test_gui_mode_shows_the_imagej_window_and_exits_cleanly():
    done = _run_python("""
        import fiji_bridge
        b = fiji_bridge.start(mode="gui")
        print("showing", b.IJ.getInstance().isShowing())
        try:
            fiji_bridge.start(mode="headless")
        except fiji_bridge.errors.FijiBridgeError as e:
            print("second:", e)
    """)
    assert done.returncode == 0, done.stderr
    assert "showing True" in done.stdout and "already running in gui mode" in done.stdout


def test_a_fiji_folder_goes_through_pyimagej(tmp_path):
    fiji = tmp_path / "Fiji.app"
    (fiji / "jars").mkdir(parents=True)
    done = _run_python(f"""
        import fiji_bridge
        try:
            fiji_bridge.start(fiji={str(fiji)!r})
        except fiji_bridge.errors.RuntimeNotAvailable as e:
            print("error:", e)
    """, env={"DISPLAY": ""})
    assert f"error: Fiji at '{fiji}' could not be started through pyimagej" in done.stdout, done.stderr
