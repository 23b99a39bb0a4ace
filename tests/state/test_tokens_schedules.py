"""Tokens, sessions, schedules, retention and a function's export/import, on both backends."""

from __future__ import annotations

import time
from functools import partial

from lunard.state import StateStore, tokens
from lunard.state import functions as fn
from lunard.state.portable import PortableFunction, PortableVersion, export_function
from lunard.state.portable import import_function as import_document
from lunard.state.retention import DEFAULT_RETENTION_DAYS, SECONDS_PER_DAY, retention_cutoffs
from lunard.state.schedules import load_schedule, load_schedules
from lunard.validation import FunctionUpdate

INVALID = b"\xff binary"


def test_tokens_newest_first_use_and_revoke(store: StateStore) -> None:
    ids = [store.call_sync(partial(tokens.create_token, raw=f"raw-{n}", name=n)) for n in "abc"]
    store.call_sync(lambda c: c.execute("UPDATE api_tokens SET created_at = 5"))
    listed = store.call_sync(tokens.list_tokens)
    assert [t["id"] for t in listed] == ids[::-1]  # same second: insertion order breaks ties
    assert all("last_used" not in t and t["revoked"] is False for t in listed)
    assert all("token_hash" not in t for t in listed)

    assert store.call_sync(lambda c: tokens.use_token(c, "raw-a"))
    assert not store.call_sync(lambda c: tokens.use_token(c, "raw-z"))
    assert store.call_sync(lambda c: tokens.revoke_token(c, ids[0]))
    assert store.call_sync(lambda c: tokens.revoke_token(c, ids[0]))  # idempotent
    assert not store.call_sync(lambda c: tokens.revoke_token(c, "unknown"))
    assert not store.call_sync(lambda c: tokens.use_token(c, "raw-a"))
    first = next(t for t in store.call_sync(tokens.list_tokens) if t["id"] == ids[0])
    assert first["revoked"] is True and isinstance(first["last_used"], int)


def test_sessions_expire_and_delete(store: StateStore) -> None:
    store.call_sync(lambda c: tokens.create_session(c, "s1", 3600))
    store.call_sync(lambda c: tokens.create_session(c, "s2", 3600))
    assert store.call_sync(lambda c: tokens.session_valid(c, "s1"))
    assert not store.call_sync(lambda c: tokens.session_valid(c, "nope"))
    store.call_sync(lambda c: tokens.delete_session(c, "s1"))
    assert not store.call_sync(lambda c: tokens.session_valid(c, "s1"))
    store.call_sync(lambda c: c.execute("UPDATE sessions SET expires_at = 1"))
    assert not store.call_sync(lambda c: tokens.session_valid(c, "s2"))
    store.call_sync(lambda c: tokens.create_session(c, "s3", 60))  # sweeps expired rows
    count = store.call_sync(lambda c: c.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])
    assert count == 1


def test_schedules_follow_status_schedule_and_disabled(store: StateStore) -> None:
    a = store.call_sync(lambda c: fn.create_function(c, "a", None, "x"))["id"]
    b = store.call_sync(lambda c: fn.create_function(c, "b", None, "x"))["id"]
    active = FunctionUpdate(cron_schedule="*/5 * * * *", cron_status="active")
    store.call_sync(lambda c: fn.update_function(c, a, active, None))
    store.call_sync(
        lambda c: fn.update_function(c, b, FunctionUpdate(cron_schedule="* * * * *"), None)
    )
    assert store.read(load_schedules) == [(a, "*/5 * * * *")]
    assert store.read(lambda c: load_schedule(c, a)) == "*/5 * * * *"
    assert store.read(lambda c: load_schedule(c, b)) is None  # paused
    store.call_sync(lambda c: fn.update_function(c, a, FunctionUpdate(disabled=True), None))
    assert store.read(load_schedules) == []


def test_retention_cutoffs(store: StateStore) -> None:
    a = store.call_sync(lambda c: fn.create_function(c, "a", None, "x"))["id"]
    b = store.call_sync(lambda c: fn.create_function(c, "b", None, "x"))["id"]
    store.call_sync(lambda c: fn.update_function(c, b, FunctionUpdate(retention_days=2), None))
    now = time.time()
    cutoffs = store.call_sync(lambda c: retention_cutoffs(c, now))
    assert cutoffs == {
        a: int(now) - DEFAULT_RETENTION_DAYS * SECONDS_PER_DAY,
        b: int(now) - 2 * SECONDS_PER_DAY,
    }


def test_export_then_import_reproduces_the_function(store: StateStore) -> None:
    fid = store.call_sync(lambda c: fn.create_function(c, "src", "desc", "v1", 2))["id"]
    store.call_sync(lambda c: fn.create_version(c, fid, "v2"))
    store.call_sync(lambda c: fn.replace_env(c, fid, {"SECRET": "s"}))
    store.call_sync(lambda c: fn.replace_kv(c, fid, [("k", "v")], global_scope=False))
    doc = store.call_sync(lambda c: export_function(c, fid, include_env=True))
    assert doc["kv"] == {"k": "v"} and doc["env_vars"] == {"SECRET": "s"}
    assert [(v["version"], v["is_active"]) for v in doc["versions"]] == [(1, False), (2, True)]
    assert doc["settings"]["max_concurrency"] == 2 and doc["settings"]["disabled"] is False

    portable = PortableFunction(
        name="copy",
        description=doc["description"],
        settings=doc["settings"],
        versions=tuple(PortableVersion(**v) for v in doc["versions"]),
        kv={**doc["kv"], "bin": INVALID.decode("utf-8", "replace")},
        env_vars=doc["env_vars"],
    )
    new_id = store.call_sync(lambda c: import_document(c, portable))
    assert new_id != fid
    copy = store.call_sync(lambda c: fn.get_function(c, new_id))
    assert copy["name"] == "copy" and copy["description"] == "desc"
    assert copy["max_concurrency"] == 2
    assert copy["active_version"]["version"] == 2 and copy["active_version"]["code"] == "v2"
    assert copy["env_vars"] == {"SECRET": "s"}
    assert copy["scoped_data"] == {"k": "v", "bin": "\ufffd binary"}
    again = store.call_sync(lambda c: export_function(c, new_id, include_env=False))
    assert "env_vars" not in again
    assert again["versions"] == doc["versions"]
