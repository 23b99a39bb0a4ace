"""Resident memory of the daemon and its 2 workers, idle and after 60 s of load (issue 13).

RSS of the daemon process plus every descendant (the workers, and whatever else it started),
as `ps` would add it up, shared pages counted in each process. Targets: <= 120 MiB idle,
<= 150 MiB after 60 s of wrk at 16 connections on the KV counter + log line.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from bench.harness import COUNTER, HELLO, create_function, descendants, rss_mib, start_lunard, wrk


def _settle(pid: int, workers: int, seconds: float = 5.0) -> None:
    """Wait until `workers` children run, then `seconds` more for start-up garbage to go."""
    deadline = time.monotonic() + 60
    while len(descendants(pid)) < workers and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(seconds)


def _split(pid: int) -> tuple[float, list[float]]:
    """The daemon's own RSS and each descendant's, MiB."""
    children = [rss_mib(child) for child in descendants(pid)]
    return rss_mib(pid) - sum(children), children


def _pyarrow_mapped(pid: int) -> bool:
    """Whether the daemon has pyarrow loaded (issue 13: it must not, unless SQL ran)."""
    return "pyarrow" in Path(f"/proc/{pid}/maps").read_text()


def memory_bench(load_seconds: int = 60) -> None:
    daemon = start_lunard(extra_env={"LUNARD_WORKERS": "2"})
    try:
        pid = daemon.proc.pid
        hello = f"{daemon.url}/fn/" + create_function(daemon.url, "mem-hello", HELLO)
        counter = f"{daemon.url}/fn/" + create_function(daemon.url, "mem-counter", COUNTER)
        httpx.get(hello, timeout=30).raise_for_status()
        _settle(pid, 2)
        processes = 1 + len(descendants(pid))
        idle = rss_mib(pid)
        daemon_only, workers_idle = _split(pid)
        wrk("memory load: /fn hello", hello, seconds=load_seconds // 2)
        wrk("memory load: /fn kv counter + log", counter, seconds=load_seconds - load_seconds // 2)
        time.sleep(2)
        loaded = rss_mib(pid)
        daemon_loaded, workers_loaded = _split(pid)
        pyarrow = _pyarrow_mapped(pid)
    finally:
        daemon.stop()
    print(f"processes: {processes} (daemon + workers); daemon alone idle: {daemon_only:.0f} MiB")
    print(f"daemon alone after load: {daemon_loaded:.0f} MiB; workers idle: "
          f"{', '.join(f'{w:.0f}' for w in workers_idle)} MiB, after load: "
          f"{', '.join(f'{w:.0f}' for w in workers_loaded)} MiB; "
          f"pyarrow loaded in the daemon: {'yes' if pyarrow else 'no'}")  # fmt: skip
    print(f"idle RSS, daemon + 2 workers: {idle:.0f} MiB   (target <= 120: "
          f"{'met' if idle <= 120 else 'NOT met'})")  # fmt: skip
    print(f"RSS after {load_seconds} s of load: {loaded:.0f} MiB   (target <= 150: "
          f"{'met' if loaded <= 150 else 'NOT met'})")  # fmt: skip


if __name__ == "__main__":
    memory_bench()
