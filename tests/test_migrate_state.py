"""`lunard migrate-state`: a data dir made by a real SQLite daemon, copied to PostgreSQL, is
served the same by a daemon on PostgreSQL (functions, versions, env, KV bytes, tokens)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg

from lunard.ids import sha256_hex
from tests.daemon import Daemon, start_daemon
from tests.http.helpers import create, fetch

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
    assert "records stay in" in done.stdout

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
