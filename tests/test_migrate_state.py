"""`lunard migrate-state`: a data dir made by a real SQLite/DuckDB daemon, copied to
PostgreSQL, is served the same by a daemon on PostgreSQL (functions, versions, env, KV bytes,
tokens; executions, logs, AI and email requests, journal segments a `kill -9` left)."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from lunard.credentials import sha256_hex
from tests.daemon import Daemon, start_daemon
from tests.fakes import FakeServer, openai_reply, resend_reply
from tests.http.helpers import create, fetch
from tests.pg import PgServer

WRITER = r"""
function handler(ctx, event)
  kv.set("bin", "x\0y\255")
  kv.setGlobal("shared", "g")
  env.set("FROM_LUA", "yes")
  return {statusCode = 200, body = "%s " .. tostring(kv.get("note")) .. " " ..
    tostring(env.get("TOKEN"))}
end
"""


def migrate(source: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lunard", "migrate-state", "--from", str(source), "--to", url,
         *extra],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def populate(daemon: Daemon) -> dict[str, Any]:
    """Two functions through the API and /fn; what the API answered about them."""
    api, anon = daemon.client(), daemon.client(auth=False)
    one = create(api, WRITER % "v1")["id"]
    assert api.put(f"/api/functions/{one}", json={"code": WRITER % "v2"}).is_success
    assert api.put(f"/api/functions/{one}/env", json={"env_vars": {"TOKEN": "t"}}).is_success
    body = {"global": False, "kvEntries": [{"key": "note", "value": "hello"}]}
    assert api.post(f"/api/functions/{one}/kv", json=body).is_success
    assert anon.post(f"/fn/{one}").text == "v2 hello t"
    two = create(api, max_concurrency=1)["id"]
    return {
        "one": fetch(api, one),
        "two": fetch(api, two),
        "list": api.get("/api/functions").json(),
        "versions": api.get(f"/api/functions/{one}/versions").json(),
    }


def test_a_sqlite_node_migrated_to_postgres_serves_the_same(tmp_path: Path, pg_url: str) -> None:
    source = tmp_path / "node"
    daemon = start_daemon(source)
    before = populate(daemon)
    # While the node runs, the copy is refused.
    running = migrate(source, pg_url)
    assert running.returncode == 1 and "stop the node first" in running.stderr
    assert daemon.stop() == 0
    with sqlite3.connect(source / "lunard.db") as lite:  # a CLI token, made by the device flow
        lite.execute(
            "INSERT INTO api_tokens (id, token_hash, name, created_at) VALUES ('tok', ?, 'cli', 7)",
            (sha256_hex("raw-token"),),
        )
    lite.close()

    done = migrate(source, pg_url)
    assert done.returncode == 0, done.stderr
    assert "functions 2, function_versions 3" in done.stdout
    assert "records copied to" in done.stdout and "executions 1, logs 0" in done.stdout

    with psycopg.connect(pg_url) as conn:
        value = conn.execute("SELECT value FROM kv_store WHERE key = %s", (b"bin",)).fetchone()
    assert value is not None and bytes(value[0]) == b"x\x00y\xff"

    node = start_daemon(tmp_path / "pg-node", env={"LUNARD_STATE_URL": pg_url})
    try:
        api, anon = node.client(), node.client(auth=False)
        one, two = before["one"]["id"], before["two"]["id"]
        assert fetch(api, one) == before["one"]
        assert fetch(api, two) == before["two"]
        assert api.get("/api/functions").json() == before["list"]
        assert api.get(f"/api/functions/{one}/versions").json() == before["versions"]
        assert fetch(api, one)["env_vars"] == {"FROM_LUA": "yes", "TOKEN": "t"}
        assert fetch(api, one)["global_data"] == {"shared": "g"}
        assert anon.post(f"/fn/{one}").text == "v2 hello t"
        cli = httpx.get(f"{node.url}/api/tokens", headers={"Authorization": "Bearer raw-token"})
        assert cli.status_code == 200 and cli.json()["tokens"][0]["id"] == "tok"
    finally:
        assert node.stop() == 0, node.log()


def test_a_target_with_state_needs_force(tmp_path: Path, pg_url: str) -> None:
    source = tmp_path / "node"
    daemon = start_daemon(source)
    create(daemon.client())
    assert daemon.stop() == 0
    assert migrate(source, pg_url).returncode == 0

    again = migrate(source, pg_url)
    assert again.returncode == 1
    assert "already holds state (functions 1, function_versions 1 rows)" in again.stderr
    forced = migrate(source, pg_url, "--force")
    assert forced.returncode == 0, forced.stderr
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM functions").fetchone() == (1,)


def test_bad_arguments_are_refused_without_touching_the_target(tmp_path: Path, pg_url: str) -> None:
    missing = migrate(tmp_path / "nowhere", pg_url)
    assert missing.returncode == 1 and "no state database" in missing.stderr
    not_pg = migrate(tmp_path, "mysql://x@y/z")
    assert not_pg.returncode == 1 and "postgresql://" in not_pg.stderr
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute("SELECT to_regclass('functions')").fetchone()
    assert tables == (None,)


# --------------------------------------------------------------------------- records

RECORDER = r"""
function handler(ctx, event)
  log.debug("débug ✓ " .. ctx.executionId)
  log.info("line\twith tab, \"quotes\" and \\ backslash")
  log.warn("warn " .. (event.query.n or "?"))
  if event.query.fail then
    log.error("about to fail")
    error("boom " .. event.query.fail)
  end
  if event.query.out then
    ai.chat{provider = "openai", model = "gpt-4o-mini",
      messages = {{role = "user", content = "Hello!"}}}
    email.send{from = "sender@example.com",
      to = {"a@example.com", "\"Doe, Jane\" <jane@example.com>"}, subject = "Report",
      text = "Body"}
  end
  return {statusCode = 200, body = json.encode{n = event.query.n}}
end
"""
# The sink holds everything in memory until it is killed: only the journal has the calls.
UNFLUSHED = {"LUNARD_SINK_FLUSH_INTERVAL": "3600", "LUNARD_SINK_BATCH_ROWS": "1000000"}


@pytest.fixture
def providers() -> Iterator[FakeServer]:
    fake = FakeServer({"/chat/completions": openai_reply(), "/emails": resend_reply()})
    yield fake
    fake.close()


def record_calls(daemon: Daemon, providers: FakeServer) -> str:
    """A function called through /fn: plain calls, failing calls, AI and email calls."""
    api, anon = daemon.client(), daemon.client(auth=False)
    fid = create(api, RECORDER)["id"]
    assert api.put(f"/api/functions/{fid}", json={"save_response": True}).is_success
    env = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_ENDPOINT": providers.url,
        "RESEND_API_KEY": "re-test",
        "RESEND_BASE_URL": providers.url,
    }
    assert api.put(f"/api/functions/{fid}/env", json={"env_vars": env}).is_success
    for query in ({"n": "1"}, {"n": "2", "out": "1"}, {"fail": "x"}, {"n": "3"}, {"fail": "y"}):
        answer = anon.get(f"/fn/{fid}", params=query)
        assert answer.status_code == (500 if "fail" in query else 200), answer.text
    return str(fid)


def listings(api: httpx.Client, fid: str) -> dict[str, Any]:
    """Everything the API lists about `fid`'s executions, as JSON."""
    listed = api.get(f"/api/functions/{fid}/executions", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    out: dict[str, Any] = {"list": listed.json()}
    for item in listed.json()["executions"]:
        for part in ("", "/logs", "/ai-requests", "/email-requests"):
            answer = api.get(f"/api/executions/{item['id']}{part}")
            assert answer.status_code == 200, answer.text
            out[item["id"] + part] = answer.json()
    return out


def fingerprint(data_dir: Path) -> dict[str, str]:
    """A hash of every records file and journal segment of `data_dir`."""
    files = [*data_dir.glob("records.duckdb*"), *(data_dir / "journal").glob("*")]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def test_records_and_a_kill_9_journal_are_listed_the_same_on_postgres(
    tmp_path: Path, pg_url: str, providers: FakeServer
) -> None:
    source = tmp_path / "node"
    daemon = start_daemon(source)
    fid = record_calls(daemon, providers)
    assert daemon.stop() == 0
    # Calls whose records only the journal holds when the node is killed.
    daemon = start_daemon(source, env=UNFLUSHED)
    with daemon.client(auth=False) as anon:
        for n in ("7", "8", "9"):
            assert anon.get(f"/fn/{fid}", params={"n": n}).status_code == 200
    os.kill(daemon.proc.pid, signal.SIGKILL)
    assert daemon.proc.wait(timeout=30) == -signal.SIGKILL
    before = fingerprint(source)
    assert any(name.startswith("segment-") for name in before), before

    done = migrate(source, pg_url)
    assert done.returncode == 0, done.stderr
    assert "executions 8, logs 28, ai_requests 1, email_requests 1 (rows; verified)" in done.stdout
    assert "of which 3 executions from journal segments" in done.stdout
    assert fingerprint(source) == before  # DuckDB file and journal untouched

    env = {"LUNARD_STATE_URL": pg_url, "LUNARD_RECORDS_URL": pg_url}
    node = start_daemon(tmp_path / "pg-node", env=env)
    try:
        on_postgres = listings(node.client(), fid)
    finally:
        assert node.stop() == 0, node.log()
    old = start_daemon(source)  # replays the journal into DuckDB, as the node would have
    try:
        on_duckdb = listings(old.client(), fid)
    finally:
        assert old.stop() == 0, old.log()

    assert on_postgres == on_duckdb
    executions = on_duckdb["list"]["executions"]
    assert len(executions) == 8
    assert sorted(e["status"] for e in executions) == ["error"] * 2 + ["success"] * 6
    failed = next(e for e in executions if e["status"] == "error")
    assert "boom" in on_duckdb[failed["id"]]["error_message"]
    assert on_duckdb[failed["id"] + "/logs"]["logs"][-1]["level"] == "error"
    newest = executions[0]["id"]
    assert on_duckdb[newest]["response_json"] is not None
    assert on_duckdb[newest + "/logs"]["logs"][0]["message"] == f"débug ✓ {newest}"
    mail = [
        v for k, v in on_duckdb.items() if k.endswith("/email-requests") and v["email_requests"]
    ]
    assert mail[0]["email_requests"][0]["to"] == ["a@example.com", '"Doe, Jane" <jane@example.com>']


def test_a_records_target_with_records_needs_force(
    tmp_path: Path, pg_server: PgServer, providers: FakeServer
) -> None:
    source = tmp_path / "node"
    daemon = start_daemon(source)
    record_calls(daemon, providers)
    assert daemon.stop() == 0
    records = pg_server.create_database()
    first = migrate(source, pg_server.create_database(), "--records-to", records)
    assert first.returncode == 0, first.stderr

    fresh_state = pg_server.create_database()
    again = migrate(source, fresh_state, "--records-to", records)
    assert again.returncode == 1
    assert "already holds records (executions 5, logs 19" in again.stderr
    with psycopg.connect(fresh_state) as conn:  # the state copy was rolled back with it
        assert conn.execute("SELECT count(*) FROM functions").fetchone() == (0,)

    forced = migrate(source, fresh_state, "--records-to", records, "--force")
    assert forced.returncode == 0, forced.stderr
    with psycopg.connect(records) as conn:
        assert conn.execute("SELECT count(*) FROM executions").fetchone() == (5,)
        assert conn.execute("SELECT count(*) FROM logs").fetchone() == (19,)
    with psycopg.connect(fresh_state) as conn:
        assert conn.execute("SELECT count(*) FROM functions").fetchone() == (1,)


def test_a_record_postgresql_cannot_hold_is_refused_clearly(tmp_path: Path, pg_url: str) -> None:
    source = tmp_path / "node"
    daemon = start_daemon(source)
    code = 'function handler(ctx, event) log.info("a\\0b") return {statusCode = 200} end'
    fid = create(daemon.client(), code)["id"]
    eid = daemon.client(auth=False).post(f"/fn/{fid}").headers["X-Execution-Id"]
    assert daemon.stop() == 0

    refused = migrate(source, pg_url)
    assert refused.returncode == 1
    assert f"logs: a row of execution {eid} cannot be stored in PostgreSQL" in refused.stderr
    assert "NUL" in refused.stderr and "nothing was copied" in refused.stderr
    with psycopg.connect(pg_url) as conn:  # the state copy was rolled back with it
        assert conn.execute("SELECT count(*) FROM functions").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM executions").fetchone() == (0,)
