"""Analytics API against a real daemon whose records file holds generated executions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.analytics_seed import Seeded, seed_daemon
from tests.daemon import start_daemon


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    s = seed_daemon(tmp_path_factory.mktemp("analytics") / "data")
    yield s
    s.daemon.stop()


@pytest.fixture
def api(seeded: Seeded) -> Iterator[httpx.Client]:
    with seeded.daemon.client() as client:
        yield client


def error_of(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"] == "application/json"
    message: str = response.json()["error"]
    return message


# --------------------------------------------------------------------------- reports


def test_function_report(api: httpx.Client, seeded: Seeded) -> None:
    response = api.get(f"/api/functions/{seeded.busy}/analytics", params={"window": "1h"})

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["function_id"] == seeded.busy
    assert report["window"] == "1h"
    assert (report["invocations"], report["errors"], report["error_rate"]) == (100, 5, 0.05)
    assert report["duration_ms"] == {"p50": 50, "p95": 95, "p99": 99, "max": 100, "avg": 50.5}
    assert report["triggers"] == {"http": 90, "cron": 10}
    assert report["top_errors"] == [
        {
            "message": "boom",
            "count": 5,
            "latest_execution_id": "busy-080",
            "latest_at": seeded.now - 600 + 80,
        }
    ]
    assert sum(b["invocations"] for b in report["throughput"]["per_minute"]) == 100


def test_default_window_is_24h(api: httpx.Client, seeded: Seeded) -> None:
    report = api.get(f"/api/functions/{seeded.quiet}/analytics").json()
    week = api.get(f"/api/functions/{seeded.quiet}/analytics?window=7d").json()

    assert (report["window"], report["invocations"]) == ("24h", 0)
    assert (week["window"], week["invocations"]) == ("7d", 3)


def test_overview_lists_functions_with_names_and_totals(api: httpx.Client, seeded: Seeded) -> None:
    day = api.get("/api/analytics/overview").json()
    week = api.get("/api/analytics/overview", params={"window": "7d"}).json()

    assert [(f["function_id"], f["name"]) for f in day["functions"]] == [(seeded.busy, "busy")]
    assert [f["name"] for f in week["functions"]] == ["busy", "quiet"]
    assert week["totals"]["invocations"] == 103
    assert week["totals"]["functions"] == 2


def test_bad_window_is_400(api: httpx.Client, seeded: Seeded) -> None:
    message = error_of(api.get(f"/api/functions/{seeded.busy}/analytics?window=2h"))
    assert message == "window must be one of 1h, 24h, 7d, 30d (got '2h')"
    assert "window must be one of" in error_of(api.get("/api/analytics/overview?window=year"))


def test_unknown_function_is_404(api: httpx.Client) -> None:
    response = api.get("/api/functions/nope/analytics")
    assert response.status_code == 404
    assert response.json() == {"error": "Function not found"}


def test_analytics_need_auth(seeded: Seeded) -> None:
    with seeded.daemon.client(auth=False) as anon:
        for response in (
            anon.get("/api/analytics/overview"),
            anon.get(f"/api/functions/{seeded.busy}/analytics"),
            anon.post("/api/analytics/query", json={"sql": "SELECT 1"}),
        ):
            assert response.status_code == 401
            assert response.json() == {"error": "Authentication required"}


# --------------------------------------------------------------------------- SQL


def test_query_reads_the_records(api: httpx.Client, seeded: Seeded) -> None:
    response = api.post(
        "/api/analytics/query",
        json={
            "sql": "SELECT function_id, count(*) AS n FROM executions GROUP BY ALL ORDER BY n DESC",
        },
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == [
        {"name": "function_id", "type": "VARCHAR"},
        {"name": "n", "type": "BIGINT"},
    ]
    assert body["rows"] == [[seeded.busy, 100], [seeded.quiet, 3]]
    assert (body["row_count"], body["truncated"]) == (2, False)


def test_query_row_limit(api: httpx.Client) -> None:
    body = api.post(
        "/api/analytics/query", json={"sql": "SELECT id FROM executions ORDER BY id", "limit": 2}
    ).json()
    assert body["rows"] == [["busy-000"], ["busy-001"]]
    assert body["truncated"] is True


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
        ("SELECT * FROM read_parquet('/etc/x.parquet')", "file system operations are disabled"),
        ("SELECT * FROM glob('/*')", "file system operations are disabled"),
        ("COPY executions TO '/tmp/x.csv'", "only read-only SELECT"),
        ("ATTACH '/tmp/x.duckdb'", "only read-only SELECT"),
        ("INSTALL httpfs", "only read-only SELECT"),
        ("LOAD httpfs", "only read-only SELECT"),
        ("SET threads = 1", "only read-only SELECT"),
        ("PRAGMA database_size", "only read-only SELECT"),
        ("CREATE TABLE x (a INT)", "only read-only SELECT"),
        ("INSERT INTO executions SELECT * FROM executions", "only read-only SELECT"),
        ("UPDATE executions SET duration_ms = 0", "only read-only SELECT"),
        ("DELETE FROM executions", "only read-only SELECT"),
        ("EXPORT DATABASE '/tmp/d'", "only read-only SELECT"),
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("SELEC 1", "does not parse"),
    ],
)
def test_query_refusals_are_400(api: httpx.Client, sql: str, expected: str) -> None:
    assert expected in error_of(api.post("/api/analytics/query", json={"sql": sql}))


def test_refused_writes_changed_nothing(api: httpx.Client) -> None:
    api.post("/api/analytics/query", json={"sql": "DELETE FROM executions"})
    body = api.post("/api/analytics/query", json={"sql": "SELECT count(*) FROM executions"}).json()
    assert body["rows"] == [[103]]


def test_runaway_query_is_stopped_at_the_time_limit(api: httpx.Client) -> None:
    response = api.post(
        "/api/analytics/query",
        json={"sql": "SELECT count(*) FROM range(1000000000000)", "timeout": 0.5},
    )
    assert error_of(response) == "query exceeded the time limit of 0.5s"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "sql is required"),
        ({"sql": 5}, "sql is required"),
        ({"sql": "SELECT 1", "limit": 0}, "limit must be between 1 and 10000"),
        ({"sql": "SELECT 1", "limit": 10001}, "limit must be between 1 and 10000"),
        ({"sql": "SELECT 1", "timeout": 60}, "timeout must be more than 0 and at most 10"),
        ({"sql": "SELECT 1", "limit": "x"}, "Invalid request body"),
    ],
)
def test_query_body_errors(api: httpx.Client, body: dict[str, object], expected: str) -> None:
    assert expected in error_of(api.post("/api/analytics/query", json=body))


# --------------------------------------------------------------------------- limits (issue 9)

MEMORY_REFUSAL = re.compile(
    r"^query needs more memory than the analytics limit of 256 MiB allows \(.+\); "
    r"raise records_memory_mb or read fewer rows or columns$"
)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT length(string_agg(repeat('x', 1000000), '')) FROM range(3000)",
        "SELECT repeat('x', 1000000000)",
    ],
)
def test_memory_bombs_are_400_with_the_memory_limit(api: httpx.Client, sql: str) -> None:
    response = api.post("/api/analytics/query", json={"sql": sql, "timeout": 3})

    assert MEMORY_REFUSAL.match(error_of(response)), response.text
    after = api.post("/api/analytics/query", json={"sql": "SELECT count(*) FROM executions"})
    assert after.json()["rows"] == [[103]]


def test_an_uninterruptible_call_is_stopped_at_the_time_limit(api: httpx.Client) -> None:
    sql = "SELECT levenshtein(repeat('a', 100000), repeat('b', 100000))"
    response = api.post("/api/analytics/query", json={"sql": sql, "timeout": 1})
    assert error_of(response) == "query exceeded the time limit of 1s"


def test_the_records_files_cannot_be_read(api: httpx.Client, seeded: Seeded) -> None:
    for name in ("records.duckdb", "records.duckdb.wal"):
        sql = f"SELECT size FROM read_blob('{seeded.daemon.data_dir / name}')"
        message = error_of(api.post("/api/analytics/query", json={"sql": sql}))
        assert "file system operations are disabled" in message


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM checkpoint()", "refused: checkpoint() is not allowed"),
        ("SELECT * FROM force_checkpoint()", "refused: force_checkpoint() is not allowed"),
        ("SELECT * FROM duckdb_settings()", "refused: duckdb_settings() is not allowed"),
        ("SELECT path FROM duckdb_databases()", "refused: duckdb_databases() is not allowed"),
        ("FROM pragma_database_list", "refused: duckdb_databases() is not allowed"),
        ("SELECT * FROM duckdb_extensions()", "refused: duckdb_extensions() is not allowed"),
        ("SELECT * FROM duckdb_temporary_files()", "refused: duckdb_temporary_files() is not"),
        ("SELECT current_setting('temp_directory')", "refused: current_setting() is not allowed"),
    ],
)
def test_catalog_settings_and_side_effects_are_refused_without_paths(
    api: httpx.Client, seeded: Seeded, sql: str, expected: str
) -> None:
    message = error_of(api.post("/api/analytics/query", json={"sql": sql}))
    assert message.startswith(expected), message
    assert str(seeded.daemon.data_dir) not in message


def test_the_memory_limit_is_the_records_memory_setting(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data", env={"LUNARD_RECORDS_MEMORY_MB": "64"})
    try:
        with daemon.client() as api:
            sql = "SELECT length(string_agg(repeat('x', 1000000), '')) FROM range(100)"
            message = error_of(api.post("/api/analytics/query", json={"sql": sql}))
    finally:
        daemon.stop()
    assert message.startswith("query needs more memory than the analytics limit of 64 MiB")
    assert message.endswith("raise records_memory_mb or read fewer rows or columns")
