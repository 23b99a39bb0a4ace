"""A real `lunard serve` on PostgreSQL state (`LUNARD_STATE_URL`, the suite's throwaway
server): the API and `/fn` work end to end, workers read and write KV/env there (binary
values kept exactly), and nothing of the state lands in the data dir. The end-to-end test
also runs on SQLite, to show both backends answer the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.daemon import Daemon, start_daemon
from tests.http.helpers import create, fetch

# Writes a binary value (NUL and an invalid UTF-8 byte), reads it back, answers its bytes
# as numbers plus the env var and the version marker.
HANDLER = r"""
function handler(ctx, event)
  kv.set("bin", "a\0b\255")
  local value = kv.get("bin")
  local bytes = {}
  for i = 1, #value do bytes[#bytes + 1] = tostring(string.byte(value, i)) end
  return {statusCode = 200, body = "%s " .. table.concat(bytes, ",") .. " " ..
    tostring(env.get("GREETING"))}
end
"""


@pytest.fixture
def pg_daemon(pg_url: str, tmp_path: Path) -> Iterator[Daemon]:
    daemon = start_daemon(tmp_path / "data", env={"LUNARD_STATE_URL": pg_url})
    yield daemon
    assert daemon.stop() == 0, daemon.log()


@pytest.fixture(params=["sqlite", "postgres"])
def any_daemon(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Daemon]:
    if request.param == "postgres":
        yield request.getfixturevalue("pg_daemon")
        return
    daemon = start_daemon(tmp_path / "data")
    yield daemon
    assert daemon.stop() == 0, daemon.log()


def stored_value(url: str, function_id: str, key: bytes) -> bytes | None:
    """A KV value as PostgreSQL holds it."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT value FROM kv_store WHERE function_id = %s AND key = %s", (function_id, key)
        ).fetchone()
    return None if row is None else bytes(row[0])


def test_functions_fn_kv_env_and_executions(
    any_daemon: Daemon, request: pytest.FixtureRequest
) -> None:
    api, anon = any_daemon.client(), any_daemon.client(auth=False)
    fid = create(api, HANDLER % "v1")["id"]
    assert api.put(f"/api/functions/{fid}/env", json={"env_vars": {"GREETING": "hi"}}).is_success

    first = anon.post(f"/fn/{fid}")
    assert first.status_code == 200, first.text
    assert first.text == "v1 97,0,98,255 hi"

    # An update is what the very next call runs (no stale view of the function).
    updated = api.put(f"/api/functions/{fid}", json={"code": HANDLER % "v2"})
    assert updated.status_code == 200, updated.text
    assert anon.post(f"/fn/{fid}").text == "v2 97,0,98,255 hi"
    assert fetch(api, fid)["active_version"]["version"] == 2
    versions = api.get(f"/api/functions/{fid}/versions").json()
    assert versions["pagination"]["total"] == 2

    # The API shows the binary value as text (U+FFFD for the invalid byte) on both backends.
    assert fetch(api, fid)["scoped_data"] == {"bin": "a\x00b\ufffd"}
    postgres = "pg_daemon" in request.fixturenames
    if postgres:  # ... and the worker's write is in PostgreSQL byte for byte.
        assert stored_value(request.getfixturevalue("pg_url"), fid, b"bin") == b"a\x00b\xff"

    executions = api.get(f"/api/functions/{fid}/executions").json()
    assert executions["pagination"]["total"] == 2
    assert {e["status"] for e in executions["executions"]} == {"success"}

    assert api.delete(f"/api/functions/{fid}").status_code == 204
    assert api.get(f"/api/functions/{fid}").status_code == 404
    assert anon.post(f"/fn/{fid}").status_code == 404
    # On PostgreSQL no SQLite state file is made in the data dir.
    assert (any_daemon.data_dir / "lunard.db").exists() is not postgres


def test_tokens_sessions_and_schedules_on_postgres(pg_daemon: Daemon) -> None:
    api = pg_daemon.client()
    assert api.get("/api/tokens").json() == {"tokens": []}
    fid = create(api)["id"]
    cron = {"cron_schedule": "*/5 * * * *", "cron_status": "active"}
    response = api.put(f"/api/functions/{fid}", json=cron)
    assert response.status_code == 200, response.text
    got = fetch(api, fid)
    assert got["cron_schedule"] == "*/5 * * * *" and got["cron_status"] == "active"
    assert httpx.get(f"{pg_daemon.url}/readyz").status_code == 200


def test_a_bad_state_url_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="state_url"):
        start_daemon(tmp_path / "data", env={"LUNARD_STATE_URL": "mysql://x@y/z"})


def test_a_backup_of_postgres_state_is_refused_and_writes_nothing(
    pg_daemon: Daemon, tmp_path: Path
) -> None:
    target = tmp_path / "backup"
    response = pg_daemon.client().post("/api/admin/backup", json={"path": str(target)})
    assert response.status_code == 400
    assert "pg_dump" in response.json()["error"]
    assert not target.exists()
