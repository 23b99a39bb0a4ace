"""Shared pieces of the benchmarks: processes, wrk runs and figures."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

BENCH_KEY = "bench-admin-key"
HELLO = 'function handler(ctx, event) return {statusCode = 200, body = "hello"} end'
# The KV counter + log line every benchmark of the record path runs.
COUNTER = """
function handler(ctx, event)
  local n = tonumber(kv.get("n") or "0") + 1
  kv.set("n", n)
  log.info("count " .. n)
  return {statusCode = 200, body = tostring(n)}
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_bare(module: str = "bench.bare_app") -> Process:
    """The bare ASGI app (or another of its kind, e.g. `bench.shape_floor`) on a free port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/")
    return Process(proc, url)


def start_lunard(data_dir: Path | None = None, extra_env: dict[str, str] | None = None) -> Process:
    port = free_port()
    data = data_dir or Path(tempfile.mkdtemp(prefix="lunard-bench-")) / "data"
    env = dict(os.environ, DATA_DIR=str(data), PORT=str(port), API_KEY=BENCH_KEY)
    env["LUNARD_LOG_LEVEL"] = "WARNING"  # the access log would be the benchmark
    env["LUNARD_DRAIN_DELAY"] = "0"  # no proxy in front: stop at once
    env.update(extra_env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "lunard", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/readyz")
    return Process(proc, url)


def admin(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {BENCH_KEY}"}, timeout=30)


def create_function(url: str, name: str, code: str) -> str:
    with admin(url) as client:
        response = client.post("/api/functions", json={"name": name, "code": code})
        response.raise_for_status()
        return str(response.json()["id"])


@dataclass
class WrkResult:
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    label: str, url: str, *, connections: int = 16, seconds: int = 10, script: str | None = None
) -> WrkResult:
    """One wrk run with one thread (the load generator then takes at most one core of two)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make bench installs it with apt-get)")
    options = ["-s", script] if script else []
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *options, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return WrkResult(label, rps, p50, p99, total, errors)


def sequential_latencies(url: str, count: int) -> list[float]:
    """Wall-clock milliseconds of `count` requests made one after the other."""
    times: list[float] = []
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            start = time.perf_counter()
            client.get(url).raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
    return times


def median_run(runs: list[WrkResult]) -> WrkResult:
    """The run with the median throughput (its own latencies and error count)."""
    ordered = sorted(runs, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, MiB (what `ps` would add up)."""
    total_kib = 0
    for each in [pid, *descendants(pid)]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except FileNotFoundError:
            continue
        if m := re.search(r"^VmRSS:\s+(\d+) kB", status, re.M):
            total_kib += int(m.group(1))
    return total_kib / 1024


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children, ...)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except FileNotFoundError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found
