"""The Java-facing service, called from Jython and Groovy running inside ImageJ."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from fiji_bridge.errors import FijiBridgeError
from fiji_bridge.install import plugin_scripts_dir
from fiji_bridge.runtime.macro import MacroError
from fiji_bridge.service import commands, registry
from fiji_bridge.service.progress import Progress

RESULT = "fiji_bridge.test.result"


@commands.command("test_echo")
def _echo(bridge, *args, **options):
    return {"args": list(args), "types": [type(a).__name__ for a in args], "options": options}


@commands.command("test_fail")
def _fail(bridge, kind="value"):
    if kind == "user":
        raise FijiBridgeError("That image has no ROIs.")
    if kind == "exit":
        sys.exit(3)
    raise ValueError("boom\nsecond line")


@commands.command("test_progress")
def _progress(bridge, steps):
    with Progress(steps, "Testing") as progress:
        for _ in range(steps):
            progress.step()
    return progress.done


def groovy(code: str):
    from jpype import JClass

    return JClass("groovy.lang.GroovyShell")().evaluate(textwrap.dedent(code))


def run_script(bridge, tmp_path: Path, name: str, code: str):
    """Run a script file through ImageJ (Jython shim / Groovy runner); it stores its result in RESULT."""
    from jpype import JClass

    System = JClass("java.lang.System")
    System.getProperties().remove(RESULT)
    script = tmp_path / name
    script.write_text(textwrap.dedent(code))
    if script.suffix == ".py":
        bridge.run_macro(f'runMacro("{script}");')
    else:
        bridge.run_macro(f'call("ij.IJ.runPlugIn", "FijiBridgeGroovy", "{script}");')
    return System.getProperties().get(RESULT)


def test_builtin_commands_from_groovy(bridge):
    result = groovy("""
        def svc = System.getProperties().get("fiji_bridge.service")
        [svc.apply(["ping"]), svc.apply(["version"]), svc.apply(["list_commands"])]
    """)
    ping, version, names = result
    assert ping.get("ok") and str(ping.get("value")) == "pong"
    assert str(version.get("value")).startswith("fiji_bridge ") and "1.5" in str(version.get("value"))
    assert {"ping", "version", "list_commands", "test_echo"} <= {str(n) for n in names.get("value")}


def test_arguments_and_options_from_a_jython_script_file(clean_ij, tmp_path):
    value = run_script(clean_ij, tmp_path, "echo_test.py", """
        import bridgeclient
        from ij import IJ
        from java.lang import System
        imp = IJ.createImage("img", "8-bit", 4, 4, 1)
        value = bridgeclient.call("test_echo", "text", 7, 2.5, True, imp, {"clear": True, "slices": "all"})
        System.getProperties().put("fiji_bridge.test.result", value)
    """)
    assert value is not None, clean_ij.log_text()
    assert [str(t) for t in value.get("types")] == ["str", "int", "float", "bool", "ij.ImagePlus"]
    assert str(value.get("args").get(0)) == "text" and int(value.get("args").get(1)) == 7
    assert str(value.get("args").get(4).getTitle()) == "img"
    assert bool(value.get("options").get("clear")) and str(value.get("options").get("slices")) == "all"


def test_object_array_request_from_groovy_script_file(clean_ij, tmp_path):
    value = run_script(clean_ij, tmp_path, "echo_test.groovy", """
        def svc = System.getProperties().get("fiji_bridge.service")
        Object[] request = ["test_echo", 3L, "x", [k: 1]] as Object[]
        System.getProperties().put("fiji_bridge.test.result", svc.apply(request))
    """)
    assert value is not None and value.get("ok"), clean_ij.log_text()
    assert [str(t) for t in value.get("value").get("types")] == ["int", "str"]
    assert int(value.get("value").get("options").get("k")) == 1


def test_python_failure_is_a_one_line_error_and_the_next_call_works(bridge):
    result = groovy("""
        def svc = System.getProperties().get("fiji_bridge.service")
        [svc.apply(["test_fail"]), svc.apply(["test_fail", "user"]), svc.apply(["test_fail", "exit"]),
         svc.apply(["no_such_command"]), svc.apply([]), svc.apply(["ping"])]
    """)
    crash, user, exiting, unknown, empty, ping = result
    log = registry.log_file(bridge)
    assert not crash.get("ok") and crash.get("value") is None
    error = str(crash.get("error"))
    assert "ValueError: boom second line" in error and str(log) in error
    assert "\n" not in error and "Traceback" not in error
    assert "Traceback" in log.read_text() and "raise ValueError" in log.read_text()
    assert str(user.get("error")) == "That image has no ROIs."
    assert "SystemExit" in str(exiting.get("error"))
    assert "Unknown fiji_bridge command 'no_such_command'" in str(unknown.get("error"))
    assert "ping" in str(unknown.get("error")) and "command name" in str(empty.get("error"))
    assert ping.get("ok") and str(ping.get("value")) == "pong"


def test_many_java_threads_call_the_service_at_once(bridge):
    wrong = groovy("""
        def svc = System.getProperties().get("fiji_bridge.service")
        def wrong = Collections.synchronizedList([])
        def threads = (0..<8).collect { n ->
            Thread.start {
                200.times { i ->
                    def r = svc.apply(["test_echo", n * 1000 + i])
                    if (!r.ok || r.value.args[0] != n * 1000 + i) wrong.add([n, i, r].toString())
                }
            }
        }
        threads.each { it.join(120000) }
        if (threads.any { it.isAlive() }) wrong.add("threads still running")
        wrong
    """)
    assert list(wrong) == []


def test_progress_reaches_imagej(bridge):
    result = groovy("""System.getProperties().get("fiji_bridge.service").apply(["test_progress", 5])""")
    assert result.get("ok") and int(result.get("value")) == 5


def test_missing_service_tells_how_to_start_fiji_bridge(clean_ij, tmp_path):
    from jpype import JClass

    properties = JClass("java.lang.System").getProperties()
    service = properties.remove(registry.PROPERTY)
    try:
        with pytest.raises(MacroError, match="fiji-bridge gui"):
            clean_ij.run_macro('run("About Fiji Bridge");')
        with pytest.raises(MacroError, match=r"fiji_bridge.start\(mode=.gui.\)"):
            run_script(clean_ij, tmp_path, "needs_service.py", """
                import bridgeclient
                bridgeclient.run(bridgeclient.service)
            """)
    finally:
        properties.put(registry.PROPERTY, service)
    assert clean_ij.run_macro('run("About Fiji Bridge"); return getInfo("log");').startswith("fiji_bridge ")


def test_script_side_messages_match_the_python_one():
    scripts = plugin_scripts_dir()
    jython: dict = {}
    text = (scripts / "bridgeclient.py").read_text()
    start = text.index("MISSING_SERVICE_MESSAGE = (")
    exec(text[start:text.index("\n)\n", start) + 3], jython)
    assert jython["MISSING_SERVICE_MESSAGE"] == registry.MISSING_SERVICE_MESSAGE
    groovy_text = (scripts / "About_Fiji_Bridge.groovy").read_text()
    for line in registry.MISSING_SERVICE_MESSAGE.splitlines():
        assert line.replace('"', '\\"') in groovy_text
