"""KV and env as the worker's `kv`/`env` modules write them, and as the API reads them back,
on both backends: bytes in, the same bytes out (NUL and invalid UTF-8 included)."""

from __future__ import annotations

import psycopg

from lunard.state import StateStore
from lunard.state import functions as fn
from lunard.state.connection import connect_location
from lunard.state.dialect import Conn
from lunard.state.kv import KeyValueTable
from lunard.state.runtime import load_env

KV = KeyValueTable("kv_store")
ENV = KeyValueTable("env_vars")
NUL = b"a\x00b"
INVALID = b"\xff\xfe bad"
# lupa hands the modules text with invalid bytes as surrogate escapes, or bytes.
INVALID_TEXT = INVALID.decode("utf-8", "surrogateescape")


def test_binary_values_and_keys_round_trip_exactly(store: StateStore, worker_conn: Conn) -> None:
    assert KV.set(worker_conn, "f1", "nul", NUL)
    assert KV.set(worker_conn, "f1", "bad", INVALID)
    assert KV.set(worker_conn, "f1", INVALID, "key is binary")
    assert KV.set(worker_conn, "f1", "from-text", INVALID_TEXT)
    assert KV.get(worker_conn, "f1", "nul") == NUL
    assert KV.get(worker_conn, "f1", "bad") == INVALID
    assert KV.get(worker_conn, "f1", INVALID_TEXT) == b"key is binary"  # text or bytes: one key
    assert KV.get(worker_conn, "f1", "from-text") == INVALID
    assert KV.get(worker_conn, "f1", "missing") is None
    assert KV.get(worker_conn, "f2", "nul") is None  # namespaced by function id
    items = KV.items(worker_conn, "f1")
    assert items is not None
    assert dict(items) == {
        b"nul": NUL,
        b"bad": INVALID,
        INVALID: b"key is binary",
        b"from-text": INVALID,
    }


def test_the_api_shows_text_with_invalid_utf8_as_replacement_characters(
    store: StateStore, worker_conn: Conn
) -> None:
    fid = store.call_sync(lambda c: fn.create_function(c, "f", None, "x"))["id"]
    assert KV.set(worker_conn, fid, "text", "héllo")
    assert KV.set(worker_conn, fid, "nul", NUL)
    assert KV.set(worker_conn, fid, "bad", INVALID)
    assert KV.set(worker_conn, fn.GLOBAL_SCOPE, "g", "global")
    got = store.call_sync(lambda c: fn.get_function(c, fid))
    # Text; invalid UTF-8 bytes are shown as U+FFFD (and stay intact in the store).
    assert got["scoped_data"] == {"text": "héllo", "nul": "a\x00b", "bad": "\ufffd\ufffd bad"}
    assert KV.get(worker_conn, fid, "bad") == INVALID
    assert got["global_data"] == {"g": "global"}


def test_set_overwrites_delete_removes_and_replace_resets(
    store: StateStore, worker_conn: Conn
) -> None:
    fid = store.call_sync(lambda c: fn.create_function(c, "f", None, "x"))["id"]
    assert KV.set(worker_conn, fid, "k", "1")
    assert KV.set(worker_conn, fid, "k", "2")
    assert KV.get(worker_conn, fid, "k") == b"2"
    assert KV.delete(worker_conn, fid, "k")
    assert KV.delete(worker_conn, fid, "k")  # missing is fine
    assert KV.get(worker_conn, fid, "k") is None

    assert KV.set(worker_conn, fid, "old", "x")
    store.call_sync(
        lambda c: fn.replace_kv(c, fid, [("a", "1"), ("b", "2"), ("a", "3")], global_scope=False)
    )
    assert store.call_sync(lambda c: fn.kv_entries(c, fid)) == {"a": "3", "b": "2"}
    assert KV.get(worker_conn, fid, "a") == b"3"
    store.call_sync(lambda c: fn.replace_kv(c, fid, [("g", "1")], global_scope=True))
    assert store.call_sync(lambda c: fn.kv_entries(c, fn.GLOBAL_SCOPE)) == {"g": "1"}


def test_worker_env_writes_reach_the_api_and_the_runtime(
    store: StateStore, worker_conn: Conn
) -> None:
    fid = store.call_sync(lambda c: fn.create_function(c, "f", None, "x"))["id"]
    store.call_sync(lambda c: fn.replace_env(c, fid, {"A": "1"}))
    assert ENV.set(worker_conn, fid, "B", "two")
    assert ENV.set(worker_conn, fid, "A", "uno")
    assert ENV.delete(worker_conn, fid, "missing")
    assert store.call_sync(lambda c: fn.env_vars(c, fid)) == {"A": "uno", "B": "two"}
    target = store.runtime.target(fid)
    assert target is not None and target.env == {"A": "uno", "B": "two"}
    assert store.read(lambda c: load_env(c, fid)) == {"A": "uno", "B": "two"}
    assert ENV.delete(worker_conn, fid, "B")
    target = store.runtime.target(fid)
    assert target is not None and target.env == {"A": "uno"}


def test_store_errors_are_answered_not_raised(store: StateStore, worker_conn: Conn) -> None:
    broken = KeyValueTable("no_such_table")
    assert broken.get(worker_conn, "f", "k") is None
    assert broken.set(worker_conn, "f", "k", "v") is False
    assert broken.delete(worker_conn, "f", "k") is False
    assert broken.items(worker_conn, "f") is None
    # The connection keeps working afterwards (autocommit: no aborted transaction left).
    assert KV.set(worker_conn, "f", "k", "v")
    assert KV.get(worker_conn, "f", "k") == b"v"


def test_a_worker_connection_comes_back_after_the_server_drops_it(pg_url: str) -> None:
    """A terminated backend (server restart, failover) fails one statement, not the worker."""
    conn = connect_location(pg_url)
    admin = psycopg.connect(pg_url, autocommit=True)
    try:
        # A table of its own: this test does not use the `store` fixture's migrations.
        admin.execute(
            "CREATE TABLE kv_store (function_id TEXT, key BYTEA, value BYTEA, "
            "PRIMARY KEY (function_id, key))"
        )
        assert KV.set(conn, "f", "k", "v")
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        # With a timeout, pg_terminate_backend returns once the backend is gone.
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        assert KV.get(conn, "f", "k") is None  # the statement that met the break
        assert KV.get(conn, "f", "k") == b"v"  # reconnected
        assert conn.execute("SELECT pg_backend_pid()").fetchone()[0] != pid
    finally:
        admin.close()
        conn.close()
