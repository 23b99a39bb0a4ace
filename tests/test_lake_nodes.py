"""Cluster analytics across nodes: three real `lunard serve` processes share the state and
the records on the suite's throwaway PostgreSQL and one lake directory (`LUNARD_LAKE_URL`).
After an export, every node's `/api/analytics/*` reports the calls of all nodes, with the
same JSON shapes as a single node and `X-Lunard-Data-As-Of`; the SQL console reads the lake
and nothing else.

Each node runs its own exporter (wired by the supervisor with `lake_url`); their first
passes claim the already sealed, empty slices before the test's calls. The calls' slice is
exported here in the test process (an `Exporter` like the nodes', with its clock moved past
the seal delay), so the test needs no real minutes to pass."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from lunard.records.lake_export import Exporter
from tests.daemon import Daemon, start_daemon
from tests.http.helpers import create

HANDLER = """
function handler(ctx, event)
  log.info("call " .. ctx.executionId)
  if event.query and event.query.fail then error("boom") end
  return {statusCode = 200, body = "ok"}
end
"""
CALLS = 24
INTERVAL = 10
SEAL = 5.0


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[tuple[list[Daemon], Path]]:
    lake_dir = tmp_path / "lake"
    env = {
        "LUNARD_STATE_URL": pg_url,
        "LUNARD_RECORDS_URL": pg_url,
        "LUNARD_LAKE_URL": f"file://{lake_dir}",
        "LUNARD_LAKE_EXPORT_INTERVAL": str(INTERVAL),
    }
    started: list[Daemon] = []
    try:
        for name in ("a", "b", "c"):
            started.append(
                start_daemon(tmp_path / name, env={**env, "LUNARD_NODE_ID": f"node-{name}"})
            )
        yield started, lake_dir
    finally:
        codes = [node.stop() for node in started]
    assert codes == [0] * len(started), "\n".join(node.log() for node in started)


def as_of(header: str) -> float:
    return dt.datetime.strptime(header, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


def test_analytics_on_every_node_report_the_calls_of_all_nodes(
    cluster: tuple[list[Daemon], Path], pg_url: str
) -> None:
    nodes, lake_dir = cluster
    apis = [node.client() for node in nodes]
    first_call = time.time()
    created = create(apis[0], HANDLER)
    fid = created["id"]
    for i in range(CALLS):
        caller = nodes[i % 3].client(auth=False)
        answer = caller.post(f"/fn/{fid}", params={"fail": "1"} if i % 4 == 0 else None)
        assert answer.status_code == (500 if i % 4 == 0 else 200), answer.text
    last_call = time.time()

    # Before the calls' slice is exported: the same shapes, nothing in them, and the header
    # says the data stops before the calls (the nodes exported only sealed, older slices).
    before = apis[1].get("/api/analytics/overview", params={"window": "1h"})
    assert before.status_code == 200, before.text
    assert as_of(before.headers["X-Lunard-Data-As-Of"]) <= first_call
    assert before.json()["totals"]["invocations"] == 0
    with psycopg.connect(pg_url) as conn:
        claimers = {row[0] for row in conn.execute("SELECT node_id FROM export_claims")}
    assert claimers & {"node-a", "node-b", "node-c"}, claimers  # the nodes' exporters run

    exporter = Exporter(
        lake_dir=lake_dir, state_url=pg_url, records_url=pg_url, node="test",
        interval=INTERVAL, seal=SEAL,
    )  # fmt: skip
    try:
        exported = exporter.export_due(time.time() + SEAL + 2 * INTERVAL)
    finally:
        exporter.close()
    assert sum(e.rows for e in exported if e.table == "executions") == CALLS

    errors = len(range(0, CALLS, 4))
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT count(*) FROM logs").fetchone()
    assert row is not None
    pg_logs = row[0]
    for api in apis:
        overview = api.get("/api/analytics/overview", params={"window": "1h"})
        assert overview.status_code == 200, overview.text
        assert as_of(overview.headers["X-Lunard-Data-As-Of"]) > last_call
        body = overview.json()
        assert set(body) == {"window", "from", "to", "functions", "totals"}
        assert body["totals"]["invocations"] == CALLS
        assert body["totals"]["errors"] == errors
        assert [(f["function_id"], f["name"]) for f in body["functions"]] == [
            (fid, created["name"])
        ]
        report = api.get(f"/api/functions/{fid}/analytics", params={"window": "1h"})
        assert report.status_code == 200, report.text
        assert "X-Lunard-Data-As-Of" in report.headers
        assert report.json()["invocations"] == CALLS
        assert report.json()["triggers"] == {"http": CALLS, "cron": 0}

        counted = api.post(
            "/api/analytics/query",
            json={"sql": "SELECT count(*) AS n, count(DISTINCT l.execution_id) AS e "
                  "FROM logs l JOIN executions x ON x.id = l.execution_id"},
        )  # fmt: skip
        assert counted.status_code == 200, counted.text
        assert counted.json()["rows"] == [[pg_logs, CALLS]]
        assert "X-Lunard-Data-As-Of" in counted.headers

    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT * FROM read_parquet('{lake_dir}/executions/**/*.parquet')",
        f"SELECT * FROM read_parquet('{nodes[0].data_dir}/*.parquet')",
    ):
        refused = apis[2].post("/api/analytics/query", json={"sql": sql})
        assert refused.status_code == 400, refused.text
        assert "refused" in refused.json()["error"]
