"""Canned reports on generated records with answers known in advance (lunard.records.reports)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from lunard.errors import BadRequest
from lunard.records import reports
from lunard.records.instance import instance_config
from lunard.records.sink import _open
from tests.factories import NOW, busy_rows, insert_executions


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    # Opened the way the sink opens it: the reports must fit its memory bound, unspilled.
    connection = _open(tmp_path / "records.duckdb", instance_config(memory_mb=256, threads=1))
    yield connection
    connection.close()


def test_exact_percentiles_errors_and_triggers_over_10000_executions(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    insert_executions(conn, busy_rows())

    report = reports.function_report(conn, "busy", "1h", NOW)

    assert report["invocations"] == 10_000
    assert report["errors"] == 100
    assert report["error_rate"] == 0.01
    assert report["duration_ms"] == {
        "p50": 5000,
        "p95": 9500,
        "p99": 9900,
        "max": 10_000,
        "avg": 5000.5,
    }
    assert report["triggers"] == {"http": 9000, "cron": 1000}
    assert (report["window"], report["from"], report["to"]) == ("1h", NOW - 3600, NOW)
    assert report["last_execution_at"] == NOW


def test_percentiles_are_nearest_rank(conn: duckdb.DuckDBPyConnection) -> None:
    rows = [
        {"id": f"e{d}", "function_id": "f", "created_at": NOW - d, "duration_ms": d}
        for d in range(1, 11)
    ]
    insert_executions(conn, rows)

    durations = reports.function_report(conn, "f", "1h", NOW)["duration_ms"]

    assert (durations["p50"], durations["p95"], durations["p99"]) == (5, 10, 10)


def test_window_is_open_at_its_start_and_closed_at_now(conn: duckdb.DuckDBPyConnection) -> None:
    at = {"start": NOW - 3600, "inside": NOW - 3599, "now": NOW, "future": NOW + 1}
    at["yesterday"] = NOW - 20 * 3600
    at["last week"] = NOW - 6 * 86400
    at["last month"] = NOW - 29 * 86400
    insert_executions(
        conn, [{"id": name, "function_id": "f", "created_at": t} for name, t in at.items()]
    )

    counts = {w: reports.function_report(conn, "f", w, NOW)["invocations"] for w in reports.WINDOWS}

    # 1h: inside, now; 24h: + start, yesterday; 7d: + last week; 30d: + last month.
    assert counts == {"1h": 2, "24h": 4, "7d": 5, "30d": 6}


def test_throughput_buckets_are_dense_and_aligned(conn: duckdb.DuckDBPyConnection) -> None:
    rows: list[dict[str, Any]] = [
        *({"created_at": NOW - 30} for _ in range(3)),  # minute bucket NOW-60
        *({"created_at": NOW - 61, "status": "error"} for _ in range(2)),  # NOW-120
        {"created_at": NOW},  # minute bucket NOW
        {"created_at": NOW - 7200},  # outside the last hour, inside the 24h window
    ]
    insert_executions(
        conn, [{"id": f"e{i}", "function_id": "f", **row} for i, row in enumerate(rows)]
    )

    throughput = reports.function_report(conn, "f", "24h", NOW)["throughput"]

    minutes = throughput["per_minute"]
    assert len(minutes) == 61  # NOW-3600 .. NOW, both ends included
    assert minutes[0]["start"] == NOW - 3600
    assert minutes[-1]["start"] == NOW
    busy = {b["start"]: (b["invocations"], b["errors"]) for b in minutes if b["invocations"]}
    assert busy == {NOW - 120: (2, 2), NOW - 60: (3, 0), NOW: (1, 0)}

    hours = throughput["per_hour"]
    assert len(hours) == 25  # the window's 24 hours straddle 25 clock hours
    assert all(b["start"] % 3600 == 0 for b in hours)
    assert sum(b["invocations"] for b in hours) == 7
    by_hour = {b["start"]: b["invocations"] for b in hours if b["invocations"]}
    this_hour = NOW - NOW % 3600
    assert by_hour[(NOW - 7200) - (NOW - 7200) % 3600] == 1
    assert by_hour[this_hour] + by_hour.get(this_hour - 3600, 0) == 6

    assert throughput["peak_per_minute"] == 3
    assert throughput["avg_per_hour"] == round(7 / 24, 6)
    assert throughput["avg_per_minute"] == round(7 / 1440, 6)


def test_top_errors_count_and_latest_execution(conn: duckdb.DuckDBPyConnection) -> None:
    insert_executions(conn, busy_rows())

    top = reports.function_report(conn, "busy", "1h", NOW)["top_errors"]

    # i = 0, 100, ..., 9900: message index (i // 100) % 3 -> 34 timeouts, 33 boom, 33 nil value.
    assert [(e["message"], e["count"]) for e in top] == [
        ("timeout", 34),
        ("boom", 33),
        ("nil value", 33),
    ]
    # The latest "boom" (i = 100, 400, ...) is 100 s old: i = 100, 3700 and 7300 share that
    # second, and the larger id wins the tie.
    boom = top[1]
    assert boom["latest_execution_id"] == "busy-07300"
    assert boom["latest_at"] == NOW - 100


def test_function_without_executions_has_zeros_and_nulls(conn: duckdb.DuckDBPyConnection) -> None:
    insert_executions(conn, busy_rows())

    report = reports.function_report(conn, "idle", "7d", NOW)

    assert report["invocations"] == 0
    assert report["error_rate"] == 0.0
    assert report["duration_ms"] == {
        "p50": None,
        "p95": None,
        "p99": None,
        "max": None,
        "avg": None,
    }
    assert report["top_errors"] == []
    assert report["last_execution_at"] is None
    assert report["throughput"]["peak_per_minute"] == 0
    assert len(report["throughput"]["per_hour"]) == 7 * 24 + 1


def test_overview_rows_busiest_first_and_totals(conn: duckdb.DuckDBPyConnection) -> None:
    insert_executions(conn, busy_rows("busy"))
    quiet = [
        {"id": f"q{i}", "function_id": "quiet", "created_at": NOW - 60, "duration_ms": 20_000}
        for i in range(5)
    ]
    quiet[0].update(status="error", error_message="boom")
    old = {"id": "old", "function_id": "old", "created_at": NOW - 2 * 86400}
    insert_executions(conn, [*quiet, old])

    report = reports.overview(conn, "24h", NOW)

    assert [f["function_id"] for f in report["functions"]] == ["busy", "quiet"]
    busy, quiet_row = report["functions"]
    assert (busy["invocations"], busy["errors"], busy["duration_ms"]["p95"]) == (10_000, 100, 9500)
    assert quiet_row["invocations"] == 5
    assert quiet_row["error_rate"] == 0.2
    assert quiet_row["duration_ms"]["p50"] == 20_000
    totals = report["totals"]
    assert totals["functions"] == 2
    assert totals["invocations"] == 10_005
    assert totals["errors"] == 101
    assert totals["duration_ms"]["max"] == 20_000
    # Across both functions: 10,005 values, the top 5 are 20,000 -> p99 is rank 9,905.
    assert totals["duration_ms"]["p99"] == 9_905
    # "boom" (33 + 1) ties "timeout" (34) and sorts first; its latest is quiet's, 60 s old.
    assert totals["top_errors"][0] == {
        "message": "boom",
        "count": 34,
        "latest_execution_id": "q0",
        "latest_at": NOW - 60,
    }
    assert [(e["message"], e["count"]) for e in totals["top_errors"][1:]] == [
        ("timeout", 34),
        ("nil value", 33),
    ]


def test_overview_of_an_empty_window(conn: duckdb.DuckDBPyConnection) -> None:
    report = reports.overview(conn, "1h", NOW)

    assert report["functions"] == []
    assert report["totals"]["invocations"] == 0
    assert report["totals"]["functions"] == 0


def test_unknown_window_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="window must be one of 1h, 24h, 7d, 30d"):
        reports.parse_window("2h")
    assert reports.parse_window(None) == "24h"
