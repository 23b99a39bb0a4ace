"""The journal's cost: /fn KV counter + log line at 16 connections with durability off,
process and fsync, three daemons side by side, rounds alternating so noise hits all alike."""

from __future__ import annotations

from bench.harness import COUNTER, WrkResult, create_function, median_run, start_lunard, wrk

MODES = ("off", "process", "fsync")


def durability_bench(seconds: int = 8, rounds: int = 3) -> dict[str, WrkResult]:
    """Print req/s, p50, p99 per mode and the ratio of each to `off`; return the medians."""
    daemons = {mode: start_lunard(extra_env={"LUNARD_DURABILITY": mode}) for mode in MODES}
    runs: dict[str, list[WrkResult]] = {mode: [] for mode in MODES}
    try:
        urls = {
            mode: f"{d.url}/fn/{create_function(d.url, 'bench-counter', COUNTER)}"
            for mode, d in daemons.items()
        }
        for mode in MODES:
            wrk(f"warm-up {mode}", urls[mode], seconds=2)
        for _ in range(rounds):
            for mode in MODES:
                runs[mode].append(wrk(f"durability={mode}", urls[mode], seconds=seconds))
    finally:
        for daemon in daemons.values():
            daemon.stop()
    medians = {mode: median_run(r) for mode, r in runs.items()}
    print("/fn KV counter + log line, 16 connections, by durability (median of 3 runs)")
    print(f"{'durability':12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs off':>7}")
    for mode, r in medians.items():
        ratio = r.rps / medians["off"].rps
        print(f"{mode:12} {r.rps:9.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.errors:7d} {ratio:7.2f}")
    for mode in MODES:
        print(f"{mode} runs: {', '.join(f'{r.rps:.0f}' for r in runs[mode])} req/s")
    return medians


if __name__ == "__main__":
    durability_bench()
