"""`make soak`: mixed load at 16 connections for 10 minutes (SOAK_MINUTES to change);
prints, each minute, the RSS of the daemon and of its workers, requests, errors and p99.
Memory should stay flat and errors at 0."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from bench.harness import COUNTER, create_function, start_lunard, wrk

FUNCTIONS = {
    "hello": 'function handler(ctx, event) return {statusCode = 200, body = "hello"} end',
    "counter": COUNTER,
    "json": """
function handler(ctx, event)
  local items = {}
  for i = 1, 200 do items[i] = {id = i, name = "x" .. i, ok = true} end
  local back = json.decode(json.encode(items))
  return {statusCode = 200, body = tostring(#back)}
end""",
    "cpu": """
function handler(ctx, event)
  local x = 0 for i = 1, 300000 do x = x + i end
  return {statusCode = 200, body = tostring(x)}
end""",
}
# Each request picks one function at random (wrk's own Lua).
WRK_SCRIPT = """
paths = {%s}
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def soak(minutes: int) -> None:
    daemon = start_lunard()
    try:
        ids = [create_function(daemon.url, f"soak-{n}", c) for n, c in FUNCTIONS.items()]
        paths = ", ".join(f'"/fn/{i}"' for i in ids)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT % paths)
        pid = daemon.proc.pid
        print(
            f"{'minute':>6} {'daemon MiB':>11} {'workers MiB':>12} {'req/s':>8} "
            f"{'p99 ms':>8} {'errors':>7}"
        )
        workers = children(pid)
        print(f"{0:6d} {rss_mib(pid):11.1f} {sum(rss_mib(w) for w in workers):12.1f}")
        total_errors = 0
        for minute in range(1, minutes + 1):
            result = wrk("soak", daemon.url + "/", seconds=60, script=script.name)
            workers = children(pid)
            total_errors += result.errors
            print(
                f"{minute:6d} {rss_mib(pid):11.1f} {sum(rss_mib(w) for w in workers):12.1f} "
                f"{result.rps:8.0f} {result.p99_ms:8.1f} {result.errors:7d}",
                flush=True,
            )
        print(f"errors in {minutes} min: {total_errors}   (target 0; memory should stay flat)")
    finally:
        daemon.stop()


if __name__ == "__main__":
    soak(int(os.environ.get("SOAK_MINUTES", "10")))
