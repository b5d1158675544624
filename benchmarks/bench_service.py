"""Service call overhead from Jython and Groovy, next to a no-op Java call (target: <= 50 us per call).

Run: .venv/bin/python benchmarks/bench_service.py [--calls 2000] [--batches 25]
Each figure is the median over batches of (batch time / calls), timed inside the JVM with System.nanoTime.
"bare JPype proxy" is a Python Function that does nothing: the floor of any Java -> Python call.
"""
from __future__ import annotations

import argparse
import statistics

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=25)
    args = parser.parse_args()

    import fiji_bridge

    bridge = fiji_bridge.start(mode="headless")
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
    bridge.shutdown()


if __name__ == "__main__":
    main()
