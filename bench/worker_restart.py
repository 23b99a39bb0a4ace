"""How long a slot is gone after its worker is killed: `python -m bench.worker_restart`.

A real daemon with one worker (so the killed worker's slot is the only one and the next call
must wait for its replacement) runs a hello function. Each round SIGKILLs the worker and at
once sends a call; the figure is the time from the kill to that call's answer (a call
answered as failed by the dying worker is sent again and counts in the same figure). Also
printed: a bare worker process start (spawn to its ready line), for comparison. Target
(issue 13): the replacement answers its first job within 250 ms of the kill.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import create_function, descendants, rss_mib, start_lunard

HELLO = 'function handler(ctx, event) return {statusCode = 200, body = "hello"} end'
TARGET_MS = 250.0


def _worker_pid(daemon_pid: int, not_pid: int = 0, timeout: float = 30.0) -> int:
    """The pid of the daemon's one worker (a new one when `not_pid` is given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [pid for pid in descendants(daemon_pid) if pid != not_pid and _is_worker(pid)]
        if pids:
            return pids[0]
        time.sleep(0.01)
    raise RuntimeError("the daemon has no worker process")


def _is_worker(pid: int) -> bool:
    try:
        return b"lunard.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False


def kill_to_answer_ms(client: httpx.Client, url: str, pid: int) -> tuple[float, int]:
    """Kill `pid`, then call `url` until it answers 200; (ms from the kill, failed calls)."""
    os.kill(pid, signal.SIGKILL)
    killed = time.perf_counter()
    failed = 0
    while True:
        response = client.get(url)
        if response.status_code == 200:
            return (time.perf_counter() - killed) * 1000, failed
        failed += 1


def worker_start_ms(runs: int = 5) -> list[float]:
    """Spawn `python -m lunard.worker` and wait for its ready line, `runs` times."""
    from lunard.state.db import StateStore

    scratch = Path(tempfile.mkdtemp(prefix="lunard-wstart-"))
    store = StateStore.open(scratch)
    store.close()
    times = []
    for index in range(runs):
        start = time.perf_counter()
        argv = [sys.executable, "-m", "lunard.worker", "--address", f"ipc://{scratch}/w{index}"]
        proc = subprocess.Popen([*argv, "--state", str(store.path)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        proc.stdout.readline()
        times.append((time.perf_counter() - start) * 1000)
        proc.kill()
        proc.wait()
    return times


def restart_bench(kills: int = 9) -> None:
    """Median of `kills` kill-to-answer times on a one-worker daemon, against the target."""
    spawn = worker_start_ms()
    daemon = start_lunard(extra_env={"LUNARD_WORKERS": "1"})
    try:
        url = f"{daemon.url}/fn/{create_function(daemon.url, 'bench-restart', HELLO)}"
        figures: list[float] = []
        failures = 0
        with httpx.Client(timeout=30) as client:
            for _ in range(20):  # warm: the first calls of a worker are slower
                client.get(url).raise_for_status()
            idle_rss = rss_mib(daemon.proc.pid)
            pid = _worker_pid(daemon.proc.pid)
            worker_rss = rss_mib(pid)
            for _ in range(kills):
                elapsed, failed = kill_to_answer_ms(client, url, pid)
                figures.append(elapsed)
                failures += failed
                pid = _worker_pid(daemon.proc.pid, not_pid=pid)
                time.sleep(0.3)  # let the new worker settle (prepare its next state)
    finally:
        daemon.stop()
    median = statistics.median(figures)
    print(f"worker start, spawn to ready line: median {statistics.median(spawn):.0f} ms")
    print(
        f"kill -9 to the next answer on that slot: median {median:.0f} ms, "
        f"min {min(figures):.0f}, max {max(figures):.0f} ({kills} kills, "
        f"{failures} calls answered as failed by the dying worker)"
    )
    print(f"target <= {TARGET_MS:.0f} ms: {'met' if median <= TARGET_MS else 'NOT met'}")
    print(f"memory: daemon + 1 idle worker {idle_rss:.0f} MiB RSS, the worker {worker_rss:.0f} MiB")


if __name__ == "__main__":
    restart_bench()
