"""Functions, versions and env vars through `lunard.state.functions`, on both backends."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import trio

from lunard.errors import BadRequest, InternalError, NotFound
from lunard.state import StateStore
from lunard.state import functions as fn
from lunard.state.dialect import Conn
from lunard.state.errors import StateError
from lunard.state.runtime import function_exists, load_target
from lunard.validation import FunctionUpdate


def create(store: StateStore, name: str = "f", code: str = "return 1") -> dict[str, Any]:
    return store.call_sync(lambda c: fn.create_function(c, name, None, code))


def test_create_get_list_update_delete(store: StateStore) -> None:
    created = store.call_sync(lambda c: fn.create_function(c, "one", "first", "v1", 3))
    assert created["name"] == "one" and created["description"] == "first"
    assert created["max_concurrency"] == 3 and created["disabled"] is False
    assert created["active_version"]["version"] == 1
    assert created["active_version"]["is_active"] is True
    fid = created["id"]

    got = store.call_sync(lambda c: fn.get_function(c, fid))
    assert got["env_vars"] == {} and got["scoped_data"] == {} and got["global_data"] == {}

    update = FunctionUpdate(name="renamed", disabled=True, retention_days=3, code="v2")
    store.call_sync(lambda c: fn.update_function(c, fid, update, fn.ConcurrencyLimit(None)))
    got = store.call_sync(lambda c: fn.get_function(c, fid))
    assert got["name"] == "renamed" and got["disabled"] is True
    assert got["retention_days"] == 3 and got["max_concurrency"] is None
    assert got["active_version"]["code"] == "v2" and got["active_version"]["version"] == 2
    assert got["description"] == "first"

    store.call_sync(lambda c: fn.delete_function(c, fid))
    with pytest.raises(NotFound, match="Function not found"):
        store.call_sync(lambda c: fn.get_function(c, fid))
    with pytest.raises(NotFound):
        store.call_sync(lambda c: fn.delete_function(c, fid))
    # Versions went with the function (cascade).
    assert store.call_sync(lambda c: fn.version_by_number(c, fid, 1)) is None


def test_list_is_newest_first_with_insertion_tie_break(store: StateStore) -> None:
    ids = [create(store, name)["id"] for name in ("a", "b", "c")]
    # Same created_at second: the later insert still comes first (rowid / seq).
    store.call_sync(lambda c: c.execute("UPDATE functions SET created_at = 100"))
    items, total = store.call_sync(lambda c: fn.list_functions(c, 10, 0))
    assert total == 3
    assert [item["id"] for item in items] == ids[::-1]
    assert all(item["active_version"]["version"] == 1 for item in items)
    page, _ = store.call_sync(lambda c: fn.list_functions(c, 1, 1))
    assert [item["id"] for item in page] == [ids[1]]
    assert store.call_sync(fn.function_names) == dict(zip(ids, "abc", strict=True))


def test_version_numbering_activation_and_deletion(store: StateStore) -> None:
    fid = create(store, code="c1")["id"]
    for code in ("c2", "c3"):
        store.call_sync(partial(fn.create_version, function_id=fid, code=code))
    items, total = store.call_sync(lambda c: fn.list_versions(c, fid, 10, 0))
    assert total == 3
    assert [(v["version"], v["is_active"]) for v in items] == [(3, True), (2, False), (1, False)]

    first = store.call_sync(lambda c: fn.version_by_number(c, fid, 1))
    assert first is not None and first["code"] == "c1"
    store.call_sync(lambda c: fn.activate_version(c, fid, first["id"]))
    target = store.read(lambda c: load_target(c, fid))
    assert target is not None and target.code == "c1" and target.version_number == 1

    with pytest.raises(BadRequest, match="Cannot delete active version"):
        store.call_sync(lambda c: fn.delete_version(c, fid, first["id"]))
    third = store.call_sync(lambda c: fn.version_by_number(c, fid, 3))
    assert third is not None
    store.call_sync(lambda c: fn.delete_version(c, fid, third["id"]))
    with pytest.raises(NotFound, match="Version not found"):
        store.call_sync(lambda c: fn.activate_version(c, fid, third["id"]))
    # A new version takes max + 1 of what is left, and becomes the only active one.
    new = store.call_sync(lambda c: fn.create_version(c, fid, "c4"))
    assert new["version"] == 3 and new["is_active"] is True
    active = [v for v in store.call_sync(lambda c: fn.list_versions(c, fid, 10, 0))[0]]
    assert [v["version"] for v in active if v["is_active"]] == [3]


async def test_concurrent_new_versions_get_distinct_numbers(store: StateStore) -> None:
    fid = create(store)["id"]
    numbers: list[int] = []

    async def add(code: str) -> None:
        version = await store.call(lambda c: fn.create_version(c, fid, code))
        numbers.append(version["version"])

    async with trio.open_nursery() as nursery:
        for index in range(8):
            nursery.start_soon(add, f"code {index}")
    assert sorted(numbers) == list(range(2, 10))
    _, total = await store.call(lambda c: fn.list_versions(c, fid, 100, 0))
    assert total == 9


def test_env_vars_replace_and_reach_the_runtime_view(store: StateStore) -> None:
    fid = create(store)["id"]
    store.call_sync(lambda c: fn.replace_env(c, fid, {"A": "1", "B": "é"}))
    assert store.call_sync(lambda c: fn.env_vars(c, fid)) == {"A": "1", "B": "é"}
    target = store.runtime.target(fid)
    assert target is not None and target.env == {"A": "1", "B": "é"}

    version = store.call_sync(lambda c: fn.replace_env(c, fid, {"C": "3"}))
    assert version is not None and version["version"] == 1
    # The very next lookup sees the change (no stale view on either backend).
    target = store.runtime.target(fid)
    assert target is not None and target.env == {"C": "3"}
    store.call_sync(lambda c: fn.update_function(c, fid, FunctionUpdate(code="new"), None))
    target = store.runtime.target(fid)
    assert target is not None and target.code == "new" and target.version_number == 2
    assert store.runtime.target("missing") is None

    # Env rows outlive the function, like upstream.
    store.call_sync(lambda c: fn.delete_function(c, fid))
    assert store.call_sync(lambda c: fn.env_vars(c, fid)) == {"C": "3"}
    assert store.runtime.target(fid) is None
    with pytest.raises(NotFound):
        store.call_sync(lambda c: fn.replace_env(c, fid, {}))


def test_missing_active_version_and_lookups(store: StateStore) -> None:
    fid = create(store)["id"]
    assert store.read(lambda c: function_exists(c, fid))
    assert not store.read(lambda c: function_exists(c, "nope"))
    assert store.call_sync(lambda c: fn.schedule_of(c, fid)) == (None, "paused")
    store.call_sync(lambda c: c.execute("UPDATE function_versions SET is_active = 0"))
    with pytest.raises(InternalError, match="No active version found"):
        store.call_sync(lambda c: fn.get_function(c, fid))
    target = store.runtime.target(fid)
    assert target is not None and target.version_id is None and target.code is None


def test_a_failed_call_rolls_back_and_raises_state_error(store: StateStore) -> None:
    fid = create(store)["id"]

    def half_then_fail(conn: Conn) -> None:
        fn.replace_env(conn, fid, {"X": "1"})
        conn.execute("INSERT INTO functions (id) VALUES ('broken')")  # NOT NULL violation

    with pytest.raises(StateError):
        store.call_sync(half_then_fail)
    assert store.call_sync(lambda c: fn.env_vars(c, fid)) == {}

    def not_found(conn: Conn) -> None:
        fn.replace_env(conn, fid, {"Y": "2"})
        raise NotFound("stop")

    with pytest.raises(NotFound):
        store.call_sync(not_found)
    assert store.call_sync(lambda c: fn.env_vars(c, fid)) == {}
