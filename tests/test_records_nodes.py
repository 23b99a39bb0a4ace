"""Execution records across nodes: three real `lunard serve` processes share the state and
the records on the suite's throwaway PostgreSQL (`LUNARD_STATE_URL`, `LUNARD_RECORDS_URL`,
the same admin key, separate data dirs). A `/fn` call answered by one node is listed, with
its logs, by every other node right after the answer ("committed" consistency)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.daemon import Daemon, start_daemon
from tests.http.helpers import create

HANDLER = """
function handler(ctx, event)
  log.info("first " .. ctx.executionId)
  log.warn("second")
  return {statusCode = 200, body = "ok"}
end
"""


@pytest.fixture
def nodes(pg_url: str, tmp_path: Path) -> Iterator[list[Daemon]]:
    env = {"LUNARD_STATE_URL": pg_url, "LUNARD_RECORDS_URL": pg_url}
    started: list[Daemon] = []
    try:
        for name in ("a", "b", "c"):
            started.append(
                start_daemon(tmp_path / name, env={**env, "LUNARD_NODE_ID": f"node-{name}"})
            )
        yield started
    finally:
        codes = [node.stop() for node in started]
    assert codes == [0] * len(started), "\n".join(node.log() for node in started)


def test_a_call_on_one_node_is_listed_at_once_on_the_others(nodes: list[Daemon]) -> None:
    apis = [node.client() for node in nodes]
    callers = [node.client(auth=False) for node in nodes]
    fid = create(apis[0], HANDLER)["id"]
    ids = []
    for i in range(30):
        called, reader, logs_reader = i % 3, (i + 1) % 3, (i + 2) % 3
        answer = callers[called].post(f"/fn/{fid}")
        assert answer.status_code == 200, answer.text
        eid = answer.headers["X-Execution-Id"]
        ids.append(eid)

        # Right after the answer: no retry, no wait.
        listed = apis[reader].get(f"/api/functions/{fid}/executions", params={"limit": 1})
        assert listed.status_code == 200, listed.text
        assert listed.json()["executions"][0]["id"] == eid
        assert listed.json()["pagination"]["total"] == i + 1
        logs = apis[logs_reader].get(f"/api/executions/{eid}/logs")
        assert logs.status_code == 200, logs.text
        assert [(x["level"], x["message"]) for x in logs.json()["logs"]] == [
            ("info", f"first {eid}"),
            ("warn", "second"),
        ]

    # Every node answers the same bytes for the same record.
    last = ids[-1]
    for path in (f"/api/executions/{last}", f"/api/executions/{last}/logs",
                 f"/api/executions/{last}/ai-requests", f"/api/executions/{last}/email-requests",
                 f"/api/functions/{fid}/executions?limit=50"):  # fmt: skip
        bodies = {api.get(path).content for api in apis}
        assert len(bodies) == 1, path
    assert apis[1].get("/api/executions/nope/logs").status_code == 404


def test_deleting_a_function_on_one_node_deletes_its_records_for_all(
    nodes: list[Daemon], pg_url: str
) -> None:
    api_a, api_b = nodes[0].client(), nodes[1].client()
    fid = create(api_a, HANDLER)["id"]
    eid = nodes[2].client(auth=False).post(f"/fn/{fid}").headers["X-Execution-Id"]
    assert api_b.get(f"/api/executions/{eid}").status_code == 200

    assert api_a.delete(f"/api/functions/{fid}").status_code == 204

    assert api_b.get(f"/api/executions/{eid}").status_code == 404
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM executions WHERE function_id = %s), "
            "(SELECT count(*) FROM logs WHERE execution_id = %s)",
            (fid, eid),
        ).fetchone()
    assert row == (0, 0)


def test_records_stay_out_of_the_data_dirs_and_analytics_ask_for_the_lake(
    nodes: list[Daemon],
) -> None:
    for node in nodes:
        assert not (node.data_dir / "records.duckdb").exists()
    answer = nodes[0].client().get("/api/analytics/overview")
    assert answer.status_code == 503
    assert "lake_url" in answer.json()["error"]
    assert httpx.get(f"{nodes[1].url}/readyz").status_code == 200
    # A scrape of one node still answers: its pool gauges, no cluster-wide record counters.
    scrape = nodes[2].client().get("/metrics")
    assert scrape.status_code == 200
    assert "lunard_pool_busy_workers" in scrape.text and "lunard_pool_queue_depth" in scrape.text
    assert "lunard_executions_total{" not in scrape.text
