"""fiji-bridge install / doctor / macro, and the installed commands inside real ImageJ 1.x."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from fiji_bridge.errors import RuntimeNotAvailable
from fiji_bridge.install import command_title, install, install_imagej1, is_command, plugin_scripts_dir
from fiji_bridge.runtime.macro import MacroError

SCRIPTS = plugin_scripts_dir()
COMMANDS = [p for p in sorted(SCRIPTS.iterdir()) if is_command(p)]


def cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fiji_bridge.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_every_plugin_script_is_a_fiji_bridge_menu_command(bridge):
    commands = bridge.Menus.getCommands()
    for script in COMMANDS:
        title = command_title(script)
        assert commands.containsKey(title), f"{title} is not an ImageJ command"
        assert script.name in str(commands.get(title))
    assert "FijiBridgeGroovy" in str(commands.get("About Fiji Bridge"))
    plugins = bridge.Menus.getImageJMenu("Plugins")
    labels = [str(plugins.getItem(i).getLabel()) for i in range(plugins.getItemCount()) if plugins.getItem(i)]
    assert labels.count("Fiji Bridge") == 1


def test_libraries_are_not_commands(bridge):
    assert not bridge.Menus.getCommands().containsKey("bridgeclient")
    assert (SCRIPTS / "bridgeclient.py").is_file() and not is_command(SCRIPTS / "bridgeclient.py")


def test_groovy_and_jython_commands_run_from_a_macro(clean_ij):
    log = clean_ij.run_macro('run("About Fiji Bridge"); return getInfo("log");')
    assert log.startswith("fiji_bridge ") and "list_commands" in log


def test_a_failing_jython_script_gives_a_short_message(clean_ij, tmp_path):
    script = tmp_path / "broken_script.py"
    script.write_text("raise ValueError('this script is broken')\n")
    started = time.monotonic()
    with pytest.raises(MacroError, match="The script failed: .*ValueError.*this script is broken"):
        clean_ij.run_macro(f'runMacro("{script}");')
    assert time.monotonic() - started < 30


def test_install_is_idempotent_and_removes_stale_files(tmp_path):
    first = install_imagej1(tmp_path)
    assert (tmp_path / "plugins" / "Fiji_Bridge_Shims.jar").is_file()
    assert sorted(p.name for p in (tmp_path / "plugins" / "Fiji_Bridge").iterdir()) == [p.name for p in COMMANDS]
    assert (tmp_path / "jars" / "Lib" / "bridgeclient.py").is_file()
    assert first.changed and (tmp_path / "luts" / "Glasbey.lut").is_file()
    stale = tmp_path / "plugins" / "Fiji_Bridge" / "Old_Command.py"
    stale.write_text("print('old')\n")
    second = install_imagej1(tmp_path)
    assert second.changed == [] and second.removed == [stale] and not stale.exists()


def test_install_into_a_fiji_app(tmp_path):
    fiji = tmp_path / "Fiji.app"
    (fiji / "jars").mkdir(parents=True)
    report = install(fiji)
    menu = fiji / "scripts" / "Plugins" / "Fiji_Bridge"
    assert sorted(p.name for p in menu.iterdir()) == [p.name for p in COMMANDS]
    assert (fiji / "jars" / "Lib" / "bridgeclient.py").is_file()
    assert report.flavour == "Fiji" and "About Fiji Bridge" in report.commands
    assert install(fiji).changed == []


def test_install_refuses_a_folder_that_is_not_fiji(tmp_path):
    with pytest.raises(RuntimeNotAvailable, match="does not look like a Fiji.app"):
        install(tmp_path)


def test_doctor_reports_a_usable_setup():
    done = cli("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    for topic in ("Java:", "ImageJ 1.x (ij.jar):", "Jython:", "Groovy:", "Installed commands:", "torch:",
                  "Display:", "Model 'nucleus'", "ImageJ start: ImageJ 1.x 1.5"):
        assert topic in done.stdout
    assert done.stdout.rstrip().endswith("fiji_bridge is usable.")


def test_doctor_names_what_is_missing(tmp_path):
    done = cli("doctor", "--no-start", env={"FIJI_BRIDGE_IJ_JAR": str(tmp_path / "ij.jar")})
    assert done.returncode == 1
    assert f"[MISSING] ImageJ 1.x (ij.jar): ImageJ was not found at {tmp_path / 'ij.jar'}" in done.stdout
    assert "NOT usable" in done.stdout


def _no_display() -> dict:
    return {"DISPLAY": ""}


def test_macro_command_prints_the_log_and_succeeds(tmp_path):
    macro = tmp_path / "count.ijm"
    macro.write_text('print("arg=" + getArgument());\nnewImage("a", "8-bit black", 32, 32, 1);\n'
                     'makeRectangle(2, 2, 5, 5);\nroiManager("add");\nprint("rois=" + roiManager("count"));\n')
    done = cli("macro", str(macro), "hello", "--headless", env=_no_display())
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["arg=hello", "rois=1"]


def test_macro_command_exits_after_a_multithreaded_filter(tmp_path):
    """ImageJ's filters leave a thread pool running; the command must still end."""
    macro = tmp_path / "blur.ijm"
    macro.write_text('newImage("a", "32-bit ramp", 512, 512, 1);\nrun("Gaussian Blur...", "sigma=2");\nprint("blurred");\n')
    done = cli("macro", str(macro), "--headless", env=_no_display(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "blurred"


def test_macro_command_fails_fast_with_the_error_text(tmp_path):
    macro = tmp_path / "broken.ijm"
    macro.write_text('print("before");\nx = nothere + 1;\nprint("after");\n')
    done = cli("macro", str(macro), "--headless", env=_no_display(), timeout=120)
    assert done.returncode == 1
    assert "before" in done.stdout and "after" not in done.stdout
    assert "Undefined variable in line 2" in done.stderr


def test_macro_command_names_a_missing_file(tmp_path):
    done = cli("macro", str(tmp_path / "none.ijm"), env=_no_display())
    assert done.returncode == 1 and "Macro file not found" in done.stderr


def test_gui_command_returns_when_imagej_is_closed():
    code = """
import threading, time
import jpype
from fiji_bridge.cli.main import main

def close_imagej_when_shown():
    while not jpype.isJVMStarted():
        time.sleep(0.2)
    IJ = jpype.JClass("ij.IJ")
    while IJ.getInstance() is None or not IJ.getInstance().isShowing():
        time.sleep(0.2)
    print("menu:", IJ.getInstance().getMenuBar() is not None, flush=True)
    IJ.getInstance().quit()  # as File > Quit does

threading.Thread(target=close_imagej_when_shown, daemon=True).start()
print("exit status", main(["gui"]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "DISPLAY": ""})
    assert done.returncode == 0, done.stderr
    assert "is running with fiji_bridge" in done.stdout and "menu: True" in done.stdout
    assert done.stdout.rstrip().endswith("exit status 0")


def test_a_killed_macro_command_leaves_no_virtual_display(tmp_path):
    macro = tmp_path / "long.ijm"
    macro.write_text('print("started");\nwait(60000);\n')
    process = subprocess.Popen([sys.executable, "-m", "fiji_bridge.cli.main", "macro", str(macro), "--headless"],
                               stdout=subprocess.PIPE, text=True, env={**os.environ, **_no_display()})
    try:
        assert process.stdout.readline().strip() == "started"
        children = subprocess.run(["pgrep", "-P", str(process.pid), "-x", "Xvfb"], capture_output=True, text=True)
        [xvfb] = children.stdout.split()  # the command's private display
        process.terminate()
        process.wait(timeout=30)
        for _ in range(50):
            if not os.path.exists(f"/proc/{xvfb}"):
                break
            time.sleep(0.1)
        assert not os.path.exists(f"/proc/{xvfb}")
    finally:
        process.kill()
        process.stdout.close()
