"""`make bench`: the /fn runtime against the ceiling of our HTTP stack, in one run.

(a) a bare quart-trio app on hypercorn returning "hello"; (b) /fn hello world; (c) /fn KV
counter with a log line; (d) a CPU-bound function (3,000,000-iteration loop). wrk at 16
connections, 10 s each. Targets on a 2-core machine: (b)/(a) >= 0.6, p99 of (b) <= 50 ms,
(d) median <= 20 ms (one request at a time), zero errors. (a) and (b) alternate three
times and the medians are compared.
"""

from __future__ import annotations

import statistics

from bench.analytics import analytics_bench
from bench.durability import durability_bench
from bench.harness import (
    COUNTER,
    create_function,
    median_run,
    sequential_latencies,
    start_bare,
    start_lunard,
    wrk,
)

HELLO = 'function handler(ctx, event) return {statusCode = 200, body = "hello"} end'
CPU_LOOP = "local x = 0 for i = 1, 3000000 do x = x + i end"
CPU = f"""
function handler(ctx, event)
  {CPU_LOOP}
  return {{statusCode = 200, body = tostring(x)}}
end
"""


def raw_luajit_ms(runs: int = 20) -> float:
    """The same loop in a bare LuaJIT state: what the Lua work alone costs here."""
    import time

    import lupa.luajit21

    loop = lupa.luajit21.LuaRuntime().eval(f"function() {CPU_LOOP} return x end")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        loop()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def runtime_bench(seconds: int = 10, rounds: int = 3) -> None:
    """(a) and (b) run alternately `rounds` times and report their medians, so a noisy
    neighbour on the machine hits both sides of the ratio alike."""
    bare = start_bare()
    daemon = start_lunard()
    try:
        hello = create_function(daemon.url, "bench-hello", HELLO)
        counter = create_function(daemon.url, "bench-counter", COUNTER)
        cpu = create_function(daemon.url, "bench-cpu", CPU)
        sequential_latencies(f"{daemon.url}/fn/{hello}", 50)  # warm the workers
        runs_a, runs_b = [], []
        for _ in range(rounds):
            runs_a.append(wrk("(a) bare quart-trio hello", bare.url + "/", seconds=seconds))
            runs_b.append(wrk("(b) /fn hello", f"{daemon.url}/fn/{hello}", seconds=seconds))
        a, b = median_run(runs_a), median_run(runs_b)
        c = wrk("(c) /fn kv counter + log", f"{daemon.url}/fn/{counter}", seconds=seconds)
        d = wrk("(d) /fn 3M-iteration loop", f"{daemon.url}/fn/{cpu}", seconds=seconds)
        cpu_times = sequential_latencies(f"{daemon.url}/fn/{cpu}", 40)
    finally:
        bare.stop()
        daemon.stop()

    print(f"{'scenario':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}")
    for r in (a, b, c, d):
        print(
            f"{r.label:34} {r.rps:9.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} "
            f"{r.requests:9d} {r.errors:7d}"
        )
    print(f"(a) runs: {', '.join(f'{r.rps:.0f}' for r in runs_a)} req/s")
    print(f"(b) runs: {', '.join(f'{r.rps:.0f}' for r in runs_b)} req/s")
    ratio = b.rps / a.rps
    cpu_median = statistics.median(cpu_times)
    print()
    print(f"(b)/(a) throughput ratio: {ratio:.2f}   (target >= 0.6)")
    print(f"(b) p99: {b.p99_ms:.1f} ms   (target <= 50 ms)")
    print(
        f"(d) median, one request at a time: {cpu_median:.1f} ms   (target <= 20 ms; "
        f"the loop alone in bare LuaJIT: {raw_luajit_ms():.1f} ms)"
    )
    print(f"errors: {a.errors + b.errors + c.errors + d.errors}   (target 0)")


def main() -> None:
    runtime_bench()
    print()
    durability_bench()
    print()
    analytics_bench()


if __name__ == "__main__":
    main()
