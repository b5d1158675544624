"""Service call overhead from Jython and Groovy, next to a no-op Java call (target: <= 50 us per call),
and the menu command round trip (target: <= 5 ms more than the direct service call).

Run: .venv/bin/python benchmarks/bench_service.py [--calls 2000] [--batches 25] [--commands 200]
Each figure is the median over batches of (batch time / calls), timed inside the JVM with System.nanoTime.
"bare JPype proxy" is a Python Function that does nothing: the floor of any Java -> Python call.
"menu command round trip": IJ.run of a one-line Fiji Bridge Jython command that calls the service
("ping" through bridgeclient, as every command does) vs the same ping made directly from Jython; median ms.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

GROOVY = """
import java.util.function.Function
def svc = System.getProperties().get("fiji_bridge.service")
def bare = System.getProperties().get("fiji_bridge.bench.bare")
Function noop = { x -> x } as Function
def request = ["ping"]
def image = new short[256 * 256]
def timings = [service: [], noop: [], service_with_array: [], bare_proxy: []]
BATCHES.times {
    long t0 = System.nanoTime(); CALLS.times { svc.apply(request) }
    long t1 = System.nanoTime(); CALLS.times { noop.apply(request) }
    long t2 = System.nanoTime(); CALLS.times { svc.apply(["ping", image]) }
    long t3 = System.nanoTime(); CALLS.times { bare.apply(request) }
    long t4 = System.nanoTime()
    timings.service << (t1 - t0) / CALLS / 1000.0
    timings.noop << (t2 - t1) / CALLS / 1000.0
    timings.service_with_array << (t3 - t2) / CALLS / 1000.0
    timings.bare_proxy << (t4 - t3) / CALLS / 1000.0
}
timings
"""

JYTHON = """
from java.lang import System
from java.util.function import Function
from jarray import zeros

class Noop(Function):
    def apply(self, x):
        return x

svc = System.getProperties().get("fiji_bridge.service")
bare = System.getProperties().get("fiji_bridge.bench.bare")
noop = Noop()
request = ["ping"]
image = zeros(256 * 256, "h")
timings = {"service": [], "noop": [], "service_with_array": [], "bare_proxy": []}
for _ in range(BATCHES):
    t0 = System.nanoTime()
    for _ in xrange(CALLS):
        svc.apply(request)
    t1 = System.nanoTime()
    for _ in xrange(CALLS):
        noop.apply(request)
    t2 = System.nanoTime()
    for _ in xrange(CALLS):
        svc.apply(["ping", image])
    t3 = System.nanoTime()
    for _ in xrange(CALLS):
        bare.apply(request)
    t4 = System.nanoTime()
    timings["bare_proxy"].append((t4 - t3) / 1000.0 / CALLS)
    timings["service"].append((t1 - t0) / 1000.0 / CALLS)
    timings["noop"].append((t2 - t1) / 1000.0 / CALLS)
    timings["service_with_array"].append((t3 - t2) / 1000.0 / CALLS)
"""


def run_groovy(calls: int, batches: int) -> dict[str, list[float]]:
    from jpype import JClass

    shell = JClass("groovy.lang.GroovyShell")()
    shell.setVariable("CALLS", calls)
    shell.setVariable("BATCHES", batches)
    result = shell.evaluate(GROOVY)
    return {str(k): [float(v.doubleValue()) for v in result.get(k)] for k in result.keySet()}


def run_jython(calls: int, batches: int) -> dict[str, list[float]]:
    from jpype import JClass

    python = JClass("org.python.util.PythonInterpreter")()
    python.set("CALLS", JClass("java.lang.Integer")(calls))
    python.set("BATCHES", JClass("java.lang.Integer")(batches))
    python.exec_(JYTHON)
    timings = python.get("timings")
    return {str(k): [float(v) for v in timings.get(k)] for k in ("service", "noop", "service_with_array", "bare_proxy")}


def register_bare_proxy() -> None:
    """A Python Function that only returns its argument: the floor of any Java -> Python call."""
    from jpype import JClass, JImplements, JOverride

    @JImplements("java.util.function.Function")
    class Bare:
        @JOverride
        def apply(self, request):
            return request

    register_bare_proxy.keep = Bare()
    JClass("java.lang.System").getProperties().put("fiji_bridge.bench.bare", register_bare_proxy.keep)


BENCH_FOLDER = "Fiji_Bridge_Bench"  # next to the installed commands, so ImageJ lists it as a menu command
BENCH_COMMAND = "Bench_Round_Trip.py"  # menu title "Bench Round Trip"
BENCH_RESULT = "fiji_bridge.bench.command"
BENCH_SCRIPT = ("import bridgeclient\nfrom java.lang import System\n"
                f"bridgeclient.run(lambda: System.setProperty('{BENCH_RESULT}', bridgeclient.call('ping')))\n")


def add_bench_command() -> Path:
    """Write the trivial command into the managed home's plugins/ (before ImageJ builds its menus)."""
    from fiji_bridge.runtime.home import ensure_home

    folder = ensure_home() / "plugins" / BENCH_FOLDER
    folder.mkdir(exist_ok=True)
    (folder / BENCH_COMMAND).write_text(BENCH_SCRIPT)
    return folder


def menu_round_trip(IJ, properties, runs: int) -> float:
    """Median ms of IJ.run("Bench Round Trip") (`IJ`: the bridge's ij.IJ; `properties`: System's)."""
    title = Path(BENCH_COMMAND).stem.replace("_", " ")
    properties.remove(BENCH_RESULT)
    IJ.run(title)
    if str(properties.get(BENCH_RESULT)) != "pong":
        raise SystemExit(f"'{title}' did not run through ImageJ; Log:\n{IJ.getLog()}")
    times = []
    for i in range(runs + 10):
        t0 = time.perf_counter()
        IJ.run(title)
        if i >= 10:  # warm-up
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=25)
    parser.add_argument("--commands", type=int, default=200, help="menu command round trips timed")
    args = parser.parse_args()

    import fiji_bridge
    from fiji_bridge.install import install

    install()
    bench_folder = add_bench_command()
    try:
        bridge = fiji_bridge.start(mode="interactive")  # IJ.run of menu commands needs a display (Xvfb)
        run_all(bridge, args)
    finally:
        shutil.rmtree(bench_folder, ignore_errors=True)


def run_all(bridge, args: argparse.Namespace) -> None:
    """Print the service call table and the menu command round trip."""
    from jpype import JClass

    command = menu_round_trip(bridge.IJ, JClass("java.lang.System").getProperties(), args.commands)
    register_bare_proxy()
    print(f"{bridge!r}; {args.batches} batches x {args.calls} calls, median per call (us)")
    print(f"{'caller':8} {'no-op Java Function':>20} {'bare JPype proxy':>17} {'service ping':>13} "
          f"{'ping + 256x256 short[]':>23} {'target':>7}")
    for caller, run in (("Groovy", run_groovy), ("Jython", run_jython)):
        run(args.calls, 2)  # warm-up (JIT, Python call paths)
        t = {k: statistics.median(v) for k, v in run(args.calls, args.batches).items()}
        verdict = "ok" if t["service"] <= 50 else "MISSED"
        print(f"{caller:8} {t['noop']:20.2f} {t['bare_proxy']:17.2f} {t['service']:13.2f} "
              f"{t['service_with_array']:23.2f} {verdict:>7}")
    direct = t["service"] / 1000  # the last row: the same ping made from Jython directly
    verdict = "ok" if command - direct <= 5 else "MISSED"
    print(f"\nmenu command round trip ({args.commands} runs, median ms): IJ.run of a Jython command "
          f"calling ping {command:.2f}, direct service ping {direct:.3f}, overhead {command - direct:.2f} {verdict}")
    bridge.shutdown()


if __name__ == "__main__":
    main()
