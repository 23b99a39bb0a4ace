"""Analytics limits: hostile queries before (in the caller's process) and after (the sandbox).

(a) Before: the runner as it was, the query on a cursor of the records instance with a
    timer calling `interrupt()` at the 3 s limit; `before` opens the instance as the daemon
    did before issue 9 (`SAFE_CONFIG` only: DuckDB's default memory limit, threads, spilling),
    `bounded` as the sink does now (`instance_config`: 256 MiB, one thread, no spilling).
    Each query runs in a fresh process, so that process's peak RSS is the query's cost.
    (The list bombs of `lunard.records.sql_runner`'s docstring, 16–20 GB, are left out of these.)
(b) After, the same queries through `analytics_sql.run_query` (what the daemon and the CLI
    call), each in a fresh process: time to the answer, the answer, the caller's peak RSS
    and the sandbox process's peak RSS.
(c) After, over HTTP on a real daemon (`timeout` 3): time to the answer, status, and the
    daemon's peak RSS (VmHWM) before and after every hostile query has run.
(d) Time-limit overshoot per query shape (limit 2 s): answer time minus the limit.

Run: `python -m bench.analytics_limits` (also run by `bench.analytics.analytics_bench`).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx

from bench.harness import BENCH_KEY, start_lunard

TIME_LIMIT = 3.0
BOMBS = {
    "string_agg 3,000 x 1 MB": "SELECT length(string_agg(repeat('x', 1000000), '')) "
    "FROM range(3000)",
    "repeat('x', 1e9)": "SELECT repeat('x', 1000000000)",
    "lpad 4 x 500 MB": "SELECT max(length(lpad('x', 500000000, 'y'))) FROM range(4)",
}
AFTER_ONLY = {
    "repeat([1,2,3], 3e8)": "SELECT length(repeat([1, 2, 3], 300000000))",
    "range(0, 1e9) as a list": "SELECT length(range(0, 1000000000))",
    "read_blob(records.duckdb)": "SELECT size FROM read_blob('{records}')",
    "checkpoint()": "SELECT * FROM checkpoint()",
    "duckdb_settings()": "SELECT * FROM duckdb_settings()",
    "current_setting(temp_directory)": "SELECT current_setting('temp_directory')",
}
SHAPES = {
    "count(*) of range(1e12)": "SELECT count(*) FROM range(1000000000000)",
    "cross join 1e7 x 1e7": "SELECT sum(a.range * b.range) FROM range(10000000) a, "
    "range(10000000) b",
    "cross join of executions": "SELECT count(*) FROM executions a, executions b, executions c",
    "recursive CTE": "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) "
    "SELECT count(*) FROM t",
    "levenshtein 1e5 x 1e5 (one call)": "SELECT levenshtein(repeat('a', 100000), "
    "repeat('b', 100000))",
    "lpad 4 x 500 MB": BOMBS["lpad 4 x 500 MB"],
    "string_agg bomb": BOMBS["string_agg 3,000 x 1 MB"],
}
SHAPE_LIMIT = 2.0
EXECUTIONS = 100_000


# --------------------------------------------------------------------------- one query, own process


def _records(directory: Path, mode: str = "after") -> duckdb.DuckDBPyConnection:
    """A records file like the sink's, with EXECUTIONS generated executions."""
    from bench.analytics import _generate
    from lunard.records.instance import SAFE_CONFIG, instance_config
    from lunard.records.sink import _open

    path = directory / "records.duckdb"
    fresh = not path.exists()
    config = SAFE_CONFIG if mode == "before" else instance_config(memory_mb=256, threads=1)
    conn = _open(path, config)
    if fresh:
        _generate(conn, EXECUTIONS, 20)
    return conn


def _before(cursor: duckdb.DuckDBPyConnection, sql: str, limit: float) -> str:
    """The pre-sandbox runner: interrupt() from a timer, on the records instance itself."""
    timer = threading.Timer(limit, cursor.interrupt)
    timer.start()
    try:
        cursor.execute("BEGIN TRANSACTION READ ONLY")
        rows = cursor.execute(sql).fetchmany(1000)
        return f"200 ({len(rows)} rows)"
    except duckdb.InterruptException:
        return "400 time limit"
    except duckdb.Error as exc:
        return f"400 {str(exc).splitlines()[0]}"
    finally:
        timer.cancel()


def _after(cursor: duckdb.DuckDBPyConnection, sql: str, limit: float) -> str:
    from lunard.records.sql_runner import AnalyticsRefused, run_query

    try:
        result = run_query(cursor, sql, time_limit=limit)
        return f"200 ({len(result.rows)} rows)"
    except AnalyticsRefused as exc:
        return f"400 {exc}"


def one(mode: str, directory: str, sql: str, limit: float) -> dict[str, Any]:
    """Run one query (`before`, `bounded` or `after`) here; time, answer, peak RSS."""
    conn = _records(Path(directory), mode)
    cursor = conn.cursor()
    sql = sql.format(records=Path(directory) / "records.duckdb")
    started = time.perf_counter()
    answer = (_after if mode == "after" else _before)(cursor, sql, limit)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "answer": answer,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sandbox_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _in_process_of_its_own(mode: str, directory: Path, sql: str, limit: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.analytics_limits", mode, str(directory), sql, str(limit)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- the daemon


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def daemon_bench(directory: Path) -> list[tuple[str, float, int, str]]:
    """Every hostile query against a real daemon; (label, seconds, status, error)."""
    data_dir = directory / "daemon-data"
    daemon = start_lunard(data_dir)
    rows = []
    try:
        headers = {"Authorization": f"Bearer {BENCH_KEY}"}
        with httpx.Client(base_url=daemon.url, headers=headers, timeout=120) as client:
            before = _peak_rss_mb(daemon.proc.pid)
            records = data_dir / "records.duckdb"
            for label, sql in {**BOMBS, **AFTER_ONLY}.items():
                started = time.perf_counter()
                response = client.post(
                    "/api/analytics/query",
                    json={"sql": sql.format(records=records), "timeout": TIME_LIMIT},
                )
                seconds = time.perf_counter() - started
                error = response.json().get("error", "")
                rows.append((label, seconds, response.status_code, error))
            after = _peak_rss_mb(daemon.proc.pid)
        rows.append(("daemon peak RSS before / after, MiB", before, 0, f"{after:.0f}"))
    finally:
        daemon.stop()
    return rows


# --------------------------------------------------------------------------- report


def limits_bench() -> None:
    """Print (a)–(d)."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        _records(directory).close()
        print(f"(a)/(b) hostile queries, limit {TIME_LIMIT:g} s")
        print(
            f"    {'query':34} {'':7} {'answer s':>8} {'caller MB':>9} {'sandbox MB':>10}  answer"
        )
        for label, sql in {**BOMBS, **AFTER_ONLY}.items():
            modes = ("before", "bounded", "after") if label in BOMBS else ("after",)
            for mode in modes:
                r = _in_process_of_its_own(mode, directory, sql, TIME_LIMIT)
                sandbox = f"{r['sandbox_rss_mb']:10.0f}" if mode == "after" else f"{'-':>10}"
                print(
                    f"    {label:34} {mode:7} {r['seconds']:8.2f} {r['rss_mb']:9.0f} {sandbox}"
                    f"  {r['answer'][:70]}"
                )
        print(f"(d) time-limit overshoot, limit {SHAPE_LIMIT:g} s (after)")
        for label, sql in SHAPES.items():
            r = _in_process_of_its_own("after", directory, sql, SHAPE_LIMIT)
            print(
                f"    {label:34} answered {r['seconds']:5.2f} s, overshoot "
                f"{r['seconds'] - SHAPE_LIMIT:+.2f} s  {r['answer'][:50]}"
            )
        print(
            f"(c) the same through POST /api/analytics/query, real daemon, timeout {TIME_LIMIT:g}"
        )
        for label, seconds, status, error in daemon_bench(directory):
            if status == 0:
                print(f"    {label}: {seconds:.0f} / {error}")
                continue
            print(f"    {label:34} {seconds:5.2f} s  {status}  {error[:70]}")


if __name__ == "__main__":
    if len(sys.argv) == 5:
        mode, directory, sql, limit = sys.argv[1:]
        print(json.dumps(one(mode, directory, sql, float(limit))))
    else:
        limits_bench()
