"""A `kill -9` of a real daemon under load loses no execution it had acknowledged."""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.daemon import Daemon, start_daemon

CONNECTIONS = 8
KILL_AFTER = 150  # acknowledged calls per round before the kill
ROUNDS = 3
CODE = """
function handler(ctx, event)
  local n = kv.get("calls") or "0"
  kv.set("calls", tostring(tonumber(n) + 1))
  log.info("call " .. event.query.n)
  return {statusCode = 200, body = event.query.n}
end
"""
# Everything the sink holds stays in memory until it is killed: without the journal, every
# acknowledged record of a round would be lost.
UNFLUSHED = {
    "LUNARD_SINK_FLUSH_INTERVAL": "3600",
    "LUNARD_SINK_BATCH_ROWS": "1000000",
    "LUNARD_WORKERS": "2",
}


def load_until_killed(daemon: Daemon, fid: str, first: int) -> dict[str, str]:
    """Call /fn from CONNECTIONS threads; `kill -9` the daemon after KILL_AFTER answers.

    Returns execution id -> the `n` it was called with, for every call answered 200.
    """
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    killed = threading.Event()
    counter = iter(range(first, first + 100_000))

    def caller() -> None:
        with httpx.Client(base_url=daemon.url, timeout=30) as client:
            while not killed.is_set():
                with lock:
                    n = str(next(counter))
                try:
                    response = client.get(f"/fn/{fid}", params={"n": n})
                except httpx.HTTPError:
                    return  # the daemon is gone
                assert response.status_code == 200, response.text
                assert response.text == n
                with lock:
                    acknowledged[response.headers["X-Execution-Id"]] = n
                    if len(acknowledged) >= KILL_AFTER and not killed.is_set():
                        os.kill(daemon.proc.pid, signal.SIGKILL)
                        killed.set()

    with ThreadPoolExecutor(CONNECTIONS) as threads:
        for future in [threads.submit(caller) for _ in range(CONNECTIONS)]:
            future.result()
    assert daemon.proc.wait(timeout=30) == -signal.SIGKILL
    return acknowledged


def listed_executions(api: httpx.Client, fid: str) -> set[str]:
    """Every execution id the executions API lists for `fid`, page by page."""
    found: set[str] = set()
    offset = 0
    while True:
        page = api.get(f"/api/functions/{fid}/executions", params={"limit": 100, "offset": offset})
        assert page.status_code == 200, page.text
        items = page.json()["executions"]
        if not items:
            return found
        found.update(item["id"] for item in items)
        offset += len(items)


def logged_lines(api: httpx.Client) -> dict[str, list[str]]:
    """execution id -> its log messages, for every execution."""
    response = api.post(
        "/api/analytics/query",
        json={
            "sql": "SELECT execution_id, message FROM logs ORDER BY execution_id, seq",
            "limit": 10_000,
        },
    )
    assert response.status_code == 200, response.text
    lines: dict[str, list[str]] = {}
    for execution_id, message in response.json()["rows"]:
        lines.setdefault(execution_id, []).append(message)
    return lines


def test_kill_9_under_load_loses_no_acknowledged_execution(tmp_path: Path) -> None:
    data = tmp_path / "data"
    daemon = start_daemon(data, env=UNFLUSHED)
    with daemon.client() as api:
        created = api.post("/api/functions", json={"name": "durable", "code": CODE})
        fid = created.json()["id"]

    acknowledged: dict[str, str] = {}
    for round_number in range(ROUNDS):
        acknowledged.update(load_until_killed(daemon, fid, first=round_number * 100_000))
        daemon = start_daemon(data, env=UNFLUSHED)
        with daemon.client() as api:
            assert api.get("/readyz").status_code == 200
            missing = set(acknowledged) - listed_executions(api, fid)
            assert not missing, f"round {round_number + 1}: {len(missing)} acknowledged lost"
            lines = logged_lines(api)
            for execution_id, n in acknowledged.items():
                assert lines.get(execution_id) == [f"call {n}"], execution_id
            sample = sorted(acknowledged)[:10]
            for execution_id in sample:
                logs = api.get(f"/api/executions/{execution_id}/logs").json()["logs"]
                assert [e["message"] for e in logs] == [f"call {acknowledged[execution_id]}"]
        assert "journal: replayed" in daemon.log()
    assert daemon.stop() == 0
    assert len(acknowledged) >= ROUNDS * KILL_AFTER
