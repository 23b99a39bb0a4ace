"""The /fn path against the ceiling of its HTTP stack, in one run (issue 13's table).

(a) a bare ASGI "hello" on hypercorn-trio (`bench.bare_app`); (b) `/fn` hello world; (c)
`/fn` KV counter with a log line; (d) a CPU-bound function (3,000,000-iteration loop); (e) the
floor of lunard's shape, the bare app plus one nng round trip to an echo process per request
(`bench.shape_floor`): what no `/fn` on this shape can beat. wrk with one thread; (a), (b),
(c) and (e) alternate `rounds` times and the medians are compared, so a noisy neighbour on
the machine hits both sides of each ratio alike.

Targets: 1 connection, p50 of (b) <= 1.6x (a); 16 connections, (b) >= 0.7x (a) req/s, (c) >=
0.6x, p99 of (b) <= 2x (a)'s, no errors; (d) median minus (b) median, one request at a time
(wrk's p50 at 1 connection, (d) alternating with (b); a Python client's own time per request
is too noisy for a ~2.5 ms difference), <= 1.3x the same loop in bare LuaJIT.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from bench.harness import (
    COUNTER,
    HELLO,
    WrkResult,
    create_function,
    median_run,
    sequential_latencies,
    start_bare,
    start_lunard,
    wrk,
)

CPU_LOOP = "local x = 0 for i = 1, 3000000 do x = x + i end"
CPU = f"""
function handler(ctx, event)
  {CPU_LOOP}
  return {{statusCode = 200, body = tostring(x)}}
end
"""


def raw_luajit_ms(runs: int = 40) -> float:
    """The same loop in a bare LuaJIT state: what the Lua work alone costs here."""
    import lupa.luajit21

    loop = lupa.luajit21.LuaRuntime().eval(f"function() {CPU_LOOP} return x end")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        loop()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _alternate(rounds: int, runs: dict[str, Callable[[], WrkResult]]) -> dict[str, WrkResult]:
    """Each scenario `rounds` times, interleaved; the median run of each."""
    results: dict[str, list[WrkResult]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            results[name].append(run())
    return {name: median_run(each) for name, each in results.items()}


def _row(r: WrkResult) -> str:
    return (
        f"{r.label:36} {r.rps:9.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.requests:9d} {r.errors:7d}"
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def runtime_bench(seconds: int = 10, rounds: int = 3) -> None:
    bare = start_bare()
    floor = start_bare("bench.shape_floor")
    daemon = start_lunard()
    try:
        hello = f"{daemon.url}/fn/" + create_function(daemon.url, "bench-hello", HELLO)
        counter = f"{daemon.url}/fn/" + create_function(daemon.url, "bench-counter", COUNTER)
        cpu = f"{daemon.url}/fn/" + create_function(daemon.url, "bench-cpu", CPU)
        sequential_latencies(hello, 200)  # warm the workers and the caches
        one = _alternate(
            rounds,
            {
                "a": lambda: wrk("(a) bare ASGI hello, 1 conn", bare.url + "/", connections=1,
                                 seconds=seconds),
                "b": lambda: wrk("(b) /fn hello, 1 conn", hello, connections=1, seconds=seconds),
                "e": lambda: wrk("(e) shape floor, 1 conn", floor.url + "/", connections=1,
                                 seconds=seconds),
                "d": lambda: wrk("(d) /fn 3M-iteration loop, 1 conn", cpu, connections=1,
                                 seconds=seconds),
            },
        )  # fmt: skip
        many = _alternate(
            rounds,
            {
                "a": lambda: wrk("(a) bare ASGI hello, 16 conns", bare.url + "/", seconds=seconds),
                "b": lambda: wrk("(b) /fn hello, 16 conns", hello, seconds=seconds),
                "c": lambda: wrk("(c) /fn kv counter + log, 16 conns", counter, seconds=seconds),
                "e": lambda: wrk("(e) shape floor, 16 conns", floor.url + "/", seconds=seconds),
            },
        )
        d = wrk("(d) /fn 3M-iteration loop, 16 conns", cpu, seconds=seconds)
        raw = raw_luajit_ms()
    finally:
        bare.stop()
        floor.stop()
        daemon.stop()

    print(f"{'scenario':36} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}")
    for r in (*one.values(), *many.values(), d):
        print(_row(r))
    p50_ratio = one["b"].p50_ms / one["a"].p50_ms
    rps_b, rps_c = many["b"].rps / many["a"].rps, many["c"].rps / many["a"].rps
    p99_ratio = many["b"].p99_ms / many["a"].p99_ms
    errors = sum(r.errors for r in (*one.values(), many["a"], many["b"], many["c"], d))
    lua_ms = one["d"].p50_ms - one["b"].p50_ms
    print()
    print(
        f"1 conn: (b) p50 / (a) p50 = {p50_ratio:.2f} (target <= 1.6: {_verdict(p50_ratio <= 1.6)})"
    )
    print(f"16 conns: (b)/(a) req/s = {rps_b:.2f}   (target >= 0.7: {_verdict(rps_b >= 0.7)})")
    print(f"16 conns: (c)/(a) req/s = {rps_c:.2f}   (target >= 0.6: {_verdict(rps_c >= 0.6)})")
    print(
        f"16 conns: (b) p99 / (a) p99 = {p99_ratio:.2f}   (target <= 2: {_verdict(p99_ratio <= 2)})"
    )
    print(f"errors: {errors}   (target 0: {_verdict(errors == 0)})")
    print(
        f"(d) p50 - (b) p50, one request at a time: {lua_ms:.2f} ms; the loop in bare "
        f"LuaJIT: {raw:.2f} ms; ratio {lua_ms / raw:.2f}   (target <= 1.3: "
        f"{_verdict(lua_ms <= 1.3 * raw)})"
    )  # fmt: skip
    print(
        f"the shape's floor (e), the bare app + one nng round trip: 1 conn p50 (e)/(a) = "
        f"{one['e'].p50_ms / one['a'].p50_ms:.2f}, 16 conns req/s (e)/(a) = "
        f"{many['e'].rps / many['a'].rps:.2f}; /fn against it: (b)/(e) p50 = "
        f"{one['b'].p50_ms / one['e'].p50_ms:.2f}, req/s = {many['b'].rps / many['e'].rps:.2f}"
    )


if __name__ == "__main__":
    runtime_bench()
