"""Records benchmarks: sink ingest through the real actor, and reports over 1,000,000 rows.

(a) Sink ingest: `RecordBatch` messages of 1 execution + 10 log lines sent through the real
    `Sink` actor (default batching) into a fresh DuckDB file; rows/s from the first send to
    the answer of a query that follows the last one (so every row is written). Target:
    >= 50,000 log rows/s.
(b) The per-function report (`reports.function_report`) over 1,000,000 executions, for
    a function owning all of them (worst case) and for one of 20 functions, over 30d; and
    the overview. 20 runs each on a cursor like the daemon's. Target: p95 <= 200 ms.
    Also the SQL endpoint's runner (a sandbox process per query, `lunard.records.sql_runner`)
    beside the same SQL run on the cursor directly: the price of the sandbox.
(c) The analytics limits: `bench.analytics_limits` (hostile queries, before and after).

Run: `python -m bench.analytics` (or `analytics_bench()` from `bench/__main__.py`).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import duckdb
import trio

from bench.analytics_limits import limits_bench
from lunard.messages import ExecutionRecord, JobLog, RecordBatch
from lunard.records import reports, sql_runner
from lunard.records.instance import instance_config
from lunard.records.sink import Sink, _open, query

NOW = 1_750_000_020  # a fixed clock, minute-aligned
P99_SQL = "SELECT function_id, quantile_disc(duration_ms, 0.99) FROM executions GROUP BY ALL"
LATEST_SQL = "SELECT * FROM executions ORDER BY created_at DESC LIMIT 100"


def _batch(i: int, now: int) -> RecordBatch:
    execution = ExecutionRecord(
        id=f"bench{i:012d}",
        function_id=f"fn{i % 20}",
        function_version_id=f"ver_fn{i % 20}_v1",
        status="error" if i % 50 == 0 else "success",
        duration_ms=i % 1000,
        error_message="boom" if i % 50 == 0 else None,
        event_json='{"method":"GET","path":"/fn/x","headers":{"accept":"*/*"}}',
        response_json=None,
        trigger="http",
        created_at=now,
    )
    logs = [
        JobLog(level="info", message=f"step {n} of request {i}", created_at=now + n / 100)
        for n in range(10)
    ]
    return RecordBatch(execution=execution, logs=logs)


async def _ingest(path: Path, batches: list[RecordBatch]) -> float:
    async with trio.open_nursery() as nursery:
        sink = Sink(path=path)
        await nursery.start(sink.run)
        started = time.perf_counter()
        for batch in batches:
            await sink.inbox.send(batch)
        await query(sink.inbox, lambda conn: None)  # answered after the last flush
        elapsed = time.perf_counter() - started
        nursery.cancel_scope.cancel()
    return elapsed


def ingest_bench(executions: int = 30_000) -> dict[str, float]:
    """Send `executions` batches (1 execution + 10 logs each) through the sink."""
    now = int(time.time())
    batches = [_batch(i, now) for i in range(executions)]
    with tempfile.TemporaryDirectory() as tmp:
        elapsed = trio.run(_ingest, Path(tmp) / "records.duckdb", batches)
    rows = executions * 11
    return {
        "seconds": elapsed,
        "rows_per_s": rows / elapsed,
        "log_rows_per_s": executions * 10 / elapsed,
        "executions_per_s": executions / elapsed,
    }


def _generate(conn: duckdb.DuckDBPyConnection, rows: int, functions: int) -> None:
    """`rows` executions over the 30 days before NOW, `functions` functions round-robin."""
    span = 30 * 86400 - 1
    conn.execute(
        f"""
        INSERT INTO executions
        SELECT printf('x%012d', i), 'fn' || (i % {functions}), 'ver_fn' || (i % {functions}),
               CASE WHEN i % 50 = 0 THEN 'error' ELSE 'success' END,
               (i * 7919) % 2000,
               CASE WHEN i % 50 = 0 THEN 'error kind ' || (i % 7) END,
               '{{"method":"GET","path":"/fn/x"}}', NULL,
               CASE WHEN i % 10 = 0 THEN 'cron' ELSE 'http' END,
               make_timestamp(({NOW} - {span} + i * {span} // {rows})::BIGINT * 1000000)
        FROM range({rows}) t(i)
        """
    )


def _timings(fn: Callable[[], object], runs: int) -> dict[str, float]:
    fn()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": statistics.median(times),
        "p95_ms": times[max(0, round(0.95 * runs) - 1)],
        "max_ms": times[-1],
    }


def report_bench(rows: int = 1_000_000, runs: int = 20) -> dict[str, dict[str, float]]:
    """Report latencies over `rows` executions: one function, one of 20, the overview."""
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for functions in (1, 20):
            conn = _open(
                Path(tmp) / f"records-{functions}.duckdb", instance_config(memory_mb=256, threads=1)
            )
            try:
                _generate(conn, rows, functions)
                cur = conn.cursor()
                for window in ("30d", "24h"):
                    results[f"function report, 1 of {functions} fns, {window}"] = _timings(
                        partial(reports.function_report, cur, "fn0", window, NOW), runs
                    )
                if functions == 20:
                    results["overview, 20 fns, 30d"] = _timings(
                        partial(reports.overview, cur, "30d", NOW), runs
                    )
                    for label, sql in (("p99 by function", P99_SQL), ("latest 100", LATEST_SQL)):
                        results[f"SQL endpoint runner, {label}"] = _timings(
                            partial(sql_runner.run_query, cur, sql), runs
                        )
                        results[f"  same SQL on the cursor, {label}"] = _timings(
                            partial(_direct, cur, sql), runs
                        )
                cur.close()
            finally:
                conn.close()
    return results


def _direct(cursor: duckdb.DuckDBPyConnection, sql: str) -> None:
    cursor.execute(sql).fetchmany(sql_runner.DEFAULT_ROW_LIMIT)


def analytics_bench() -> None:
    """Print the figures of (a), (b) and (c), with their targets."""
    ingest = ingest_bench()
    print("(a) sink ingest, RecordBatch = 1 execution + 10 logs, real Sink actor")
    print(
        f"    {ingest['rows_per_s']:>10,.0f} rows/s   {ingest['log_rows_per_s']:>10,.0f} log rows/s"
        f"   {ingest['executions_per_s']:>8,.0f} executions/s   (target >= 50,000 log rows/s)"
    )
    print("(b) reports over 1,000,000 executions (target p95 <= 200 ms)")
    print(f"    {'report':42} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, t in report_bench().items():
        print(f"    {name:42} {t['p50_ms']:8.1f} {t['p95_ms']:8.1f} {t['max_ms']:8.1f}")
    limits_bench()


if __name__ == "__main__":
    analytics_bench()
