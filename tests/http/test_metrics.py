"""`GET /metrics`: counters folded from the records, and the exposition format."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from lunard.http.metrics import BUCKETS_MS, MetricsState, collect, render
from lunard.records.sink import _open
from tests.daemon import start_daemon
from tests.factories import NOW, insert_executions

SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r'(?:\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*)\})?'
    r" (?P<value>[-+]?(?:[0-9.]+(?:e[-+]?[0-9]+)?|Inf|NaN))$"
)


def parse(text: str) -> dict[str, float]:
    """Every sample line as `name{labels}` -> value; fails on any malformed line."""
    assert text.endswith("\n")
    samples: dict[str, float] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        family = re.sub(r"_(bucket|sum|count)$", "", match["name"])
        assert match["name"] in types or family in types, f"no TYPE for {line!r}"
        key = match["name"] + (f"{{{match['labels']}}}" if match["labels"] else "")
        samples[key] = float(match["value"])
    return samples


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = _open(tmp_path / "records.duckdb")
    yield connection
    connection.close()


def test_counters_count_from_start_and_never_go_down(conn: duckdb.DuckDBPyConnection) -> None:
    state = MetricsState.starting_at(NOW)
    insert_executions(
        conn,
        [
            {"id": "before-start", "function_id": "f", "created_at": NOW - 1},
            {"id": "a", "function_id": "f", "created_at": NOW, "duration_ms": 4},
            {"id": "b", "function_id": "f", "created_at": NOW + 10, "duration_ms": 30},
            {
                "id": "c",
                "function_id": "f",
                "created_at": NOW + 500,
                "status": "error",
                "duration_ms": 2000,
            },
        ],
    )

    first = collect(conn, state, NOW + 600, settle=120)
    # a and b are settled (older than 120 s at NOW+600); then retention deletes them.
    conn.execute("DELETE FROM executions WHERE id IN ('a', 'b')")
    insert_executions(conn, [{"id": "d", "function_id": "f", "created_at": NOW + 590}])
    second = collect(conn, state, NOW + 600, settle=120)

    success, error = ("f", "http", "success"), ("f", "http", "error")
    assert (first[success].count, first[error].count) == (2, 1)
    assert (second[success].count, second[error].count) == (3, 1)
    assert second[success].sum_ms == 4 + 30 + 10
    assert dict(zip(BUCKETS_MS, second[success].buckets, strict=True))[5] == 1
    assert dict(zip(BUCKETS_MS, second[success].buckets, strict=True))[10] == 2
    assert second[success].buckets[-1] == 3


def test_render_is_exposition_format(conn: duckdb.DuckDBPyConnection) -> None:
    state = MetricsState.starting_at(NOW)
    insert_executions(
        conn,
        [
            {"id": "a", "function_id": 'we"ird', "created_at": NOW, "duration_ms": 7},
            {
                "id": "b",
                "function_id": "g",
                "created_at": NOW,
                "trigger": "cron",
                "status": "error",
                "duration_ms": 400_000,
            },
        ],
    )

    class PoolStats:
        def queue_depth(self) -> int:
            return 3

        def busy_workers(self) -> int:
            return 2

    samples = parse(render(collect(conn, state, NOW + 1, 60), state.started, PoolStats()))

    assert (
        samples['lunard_executions_total{function_id="we\\"ird",trigger="http",status="success"}']
        == 1
    )
    assert samples['lunard_executions_total{function_id="g",trigger="cron",status="error"}'] == 1
    assert samples['lunard_execution_errors_total{function_id="g"}'] == 1
    assert samples['lunard_execution_errors_total{function_id="we\\"ird"}'] == 0
    assert samples['lunard_execution_duration_seconds_bucket{function_id="g",le="300.0"}'] == 0
    assert samples['lunard_execution_duration_seconds_bucket{function_id="g",le="+Inf"}'] == 1
    assert (
        samples['lunard_execution_duration_seconds_bucket{function_id="we\\"ird",le="0.01"}'] == 1
    )
    assert samples['lunard_execution_duration_seconds_sum{function_id="g"}'] == 400.0
    assert samples['lunard_execution_duration_seconds_count{function_id="g"}'] == 1
    assert samples["lunard_metrics_start_time_seconds"] == NOW
    assert samples["lunard_pool_queue_depth"] == 3
    assert samples["lunard_pool_busy_workers"] == 2


def test_metrics_endpoint_on_a_daemon(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    start_daemon(data_dir).stop()
    # Records created after the daemon's start are counted; write some "from the future"
    # while it is stopped (the pool is not needed to produce them).
    later = int(time.time()) + 3600
    conn = _open(data_dir / "records.duckdb")
    try:
        insert_executions(
            conn,
            [
                {"id": f"e{i}", "function_id": "fn1", "created_at": later, "duration_ms": 20}
                for i in range(4)
            ],
        )
    finally:
        conn.close()
    daemon = start_daemon(data_dir)
    try:
        with daemon.client(auth=False) as anon:
            assert anon.get("/metrics").status_code == 401
        with daemon.client() as api:
            response = api.get("/metrics")
    finally:
        daemon.stop()

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = parse(response.text)
    assert (
        samples['lunard_executions_total{function_id="fn1",trigger="http",status="success"}'] == 4
    )
    assert samples['lunard_execution_duration_seconds_bucket{function_id="fn1",le="0.025"}'] == 4
    assert samples['lunard_execution_duration_seconds_sum{function_id="fn1"}'] == 0.08
