"""Cache invalidation across nodes on PostgreSQL (issue 15 item 2): every state write that
changes a cached read announces it in its own transaction, and the state-events actor
(`lunard.state.events`) keeps a node's `/fn` cache true with it, reconnects, re-sends the
schedules and reports the database's readiness. All against the suite's real PostgreSQL;
"another node" is a second `PostgresStore` on the same database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import trio

from lunard.http.deps import Readiness
from lunard.ids import version_id
from lunard.messages import ScheduleChanged
from lunard.state import functions as store_fns
from lunard.state import tokens
from lunard.state.db import StateStore
from lunard.state.events import StateEvents
from lunard.state.pg_store import PostgresStore
from lunard.state.portable import PortableFunction, PortableVersion, import_function
from lunard.state.runtime import CHANNEL, CachedRuntimeView, load_target
from lunard.validation import FunctionUpdate
from tests.pg import PgServer

WAIT_S = 10.0  # upper bound for something that normally takes about a millisecond


@pytest.fixture
def pg_store(pg_url: str, tmp_path: Path) -> Iterator[PostgresStore]:
    state = StateStore.open(tmp_path, pg_url, cache_ttl=3600)
    assert isinstance(state, PostgresStore)
    yield state
    state.close()


@pytest.fixture
def other_node(pg_url: str, tmp_path: Path) -> Iterator[PostgresStore]:
    state = StateStore.open(tmp_path, pg_url)
    assert isinstance(state, PostgresStore)
    yield state
    state.close()


@pytest.fixture
def listener(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    conn = psycopg.connect(pg_url, autocommit=True)
    conn.execute(f"LISTEN {CHANNEL}")
    yield conn
    conn.close()


def heard(conn: psycopg.Connection[Any]) -> set[str]:
    """Every notification committed so far: they arrive in commit order, so everything
    before a marker sent now has arrived once the marker has."""
    conn.execute(f"NOTIFY {CHANNEL}, 'marker'")
    payloads: set[str] = set()
    for notify in conn.notifies(timeout=WAIT_S):
        if notify.payload == "marker":
            return payloads
        payloads.add(notify.payload)
    pytest.fail("the marker notification never arrived")


def update(conn: Any, fid: str, **fields: Any) -> None:
    store_fns.update_function(conn, fid, FunctionUpdate(**fields))


def create(state: StateStore, code: str = "v1") -> str:
    return str(state.call_sync(lambda c: store_fns.create_function(c, "f", None, code))["id"])


def raw_sql(url: str, sql: str, params: tuple[Any, ...]) -> None:
    """A change nobody announces (as a tool outside lunard would make it)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql, params)


def code_of(view: Any, fid: str) -> str | None:
    target = view.target(fid)
    assert target is not None
    return target.code


async def eventually(check: Callable[[], bool], what: str) -> None:
    with trio.move_on_after(WAIT_S):
        while not check():
            await trio.sleep(0.005)
        return
    pytest.fail(f"not within {WAIT_S}s: {what}")


def test_each_write_announces_what_it_changed_at_commit(
    pg_store: PostgresStore, listener: psycopg.Connection[Any]
) -> None:
    fid = create(pg_store)
    heard(listener)
    cases: list[tuple[Callable[[Any], Any], set[str]]] = [
        (lambda c: update(c, fid, code="v2"), {f"function:{fid}"}),
        (lambda c: update(c, fid, description="d"), {f"function:{fid}"}),
        (
            lambda c: update(c, fid, cron_schedule="* * * * *", cron_status="active"),
            {f"function:{fid}", f"schedule:{fid}"},
        ),
        (lambda c: update(c, fid, disabled=True), {f"function:{fid}", f"schedule:{fid}"}),
        (lambda c: store_fns.replace_env(c, fid, {"K": "V"}), {f"function:{fid}"}),
        (lambda c: store_fns.activate_version(c, fid, version_id(fid, 1)), {f"function:{fid}"}),
        (lambda c: store_fns.replace_kv(c, fid, [("k", "v")], global_scope=False), set()),
        (lambda c: store_fns.delete_function(c, fid), {f"function:{fid}", f"schedule:{fid}"}),
    ]
    for write, expected in cases:
        pg_store.call_sync(write)
        assert heard(listener) == expected, write


def test_tokens_sessions_and_imports_are_announced(
    pg_store: PostgresStore, listener: psycopg.Connection[Any]
) -> None:
    token_id = pg_store.call_sync(lambda c: tokens.create_token(c, "raw-token", "cli"))
    pg_store.call_sync(lambda c: tokens.create_session(c, "raw-session", 60))
    assert heard(listener) == set()
    assert pg_store.call_sync(lambda c: tokens.revoke_token(c, token_id)) is True
    assert heard(listener) == {f"token:{tokens.sha256_hex('raw-token')}"}
    assert pg_store.call_sync(lambda c: tokens.revoke_token(c, "nope")) is False
    pg_store.call_sync(lambda c: tokens.delete_session(c, "raw-session"))
    assert heard(listener) == {f"session:{tokens.sha256_hex('raw-session')}"}

    doc = PortableFunction(
        name="imported",
        description=None,
        settings={"disabled": False, "retention_days": None, "cron_schedule": "* * * * *",
                  "cron_status": "active", "save_response": False, "max_concurrency": None},
        versions=(PortableVersion(1, "code", 1, None, True),),
    )  # fmt: skip
    new_id = pg_store.call_sync(lambda c: import_function(c, doc))
    assert f"schedule:{new_id}" in heard(listener)


def test_a_rolled_back_write_announces_nothing(
    pg_store: PostgresStore, listener: psycopg.Connection[Any]
) -> None:
    fid = create(pg_store)
    heard(listener)

    def fails(conn: Any) -> None:
        update(conn, fid, code="v2")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        pg_store.call_sync(fails)
    assert heard(listener) == set()


def test_sqlite_writes_work_unchanged(tmp_path: Path) -> None:
    state = StateStore.open(tmp_path)
    try:
        fid = create(state)
        state.call_sync(lambda c: update(c, fid, code="v2", cron_schedule="* * * * *"))
        token_id = state.call_sync(lambda c: tokens.create_token(c, "raw", "cli"))
        assert state.call_sync(lambda c: tokens.revoke_token(c, token_id)) is True
        state.call_sync(lambda c: tokens.create_session(c, "s", 60))
        state.call_sync(lambda c: tokens.delete_session(c, "s"))
        assert not state.call_sync(lambda c: tokens.session_valid(c, "s"))
        assert state.runtime.target(fid).code == "v2"
    finally:
        state.close()


async def test_own_writes_are_seen_at_once_and_a_cache_miss_reads_the_database(
    pg_store: PostgresStore, pg_url: str
) -> None:
    """No listener needed for this node's own writes: the commit evicts."""
    fid = create(pg_store)
    view = pg_store.runtime
    assert code_of(view, fid) == "v1"
    assert len(view) == 0  # suspended (no listener yet): nothing is kept
    view.resume()
    assert code_of(view, fid) == "v1" and len(view) == 1
    raw_sql(pg_url, "UPDATE function_versions SET code = 'sneaky' WHERE function_id = %s", (fid,))
    assert code_of(view, fid) == "v1"  # served from memory: the change was not announced
    await pg_store.call(lambda c: update(c, fid, code="v2"))
    assert code_of(view, fid) == "v2"
    assert view.target("unknown") is None and len(view) == 1


def test_the_ttl_is_a_backstop_for_unannounced_changes(
    pg_store: PostgresStore, pg_url: str
) -> None:
    fid = create(pg_store)
    now = [0.0]
    view = CachedRuntimeView(
        lambda f: pg_store.read(lambda c: load_target(c, f)), ttl=5.0, clock=lambda: now[0]
    )
    view.resume()
    assert code_of(view, fid) == "v1"
    raw_sql(pg_url, "UPDATE function_versions SET code = 'v9' WHERE function_id = %s", (fid,))
    now[0] = 4.9
    assert code_of(view, fid) == "v1"
    now[0] = 5.0
    assert code_of(view, fid) == "v9"


async def test_another_nodes_changes_evict_and_reach_the_scheduler(
    pg_store: PostgresStore, other_node: PostgresStore
) -> None:
    fid = create(other_node)
    inbox, changes = trio.open_memory_channel[ScheduleChanged](100)
    readiness = Readiness()
    events = StateEvents(store=pg_store, readiness=readiness, scheduler=inbox, node="n1")
    async with trio.open_nursery() as nursery:
        await nursery.start(events.run)
        view = pg_store.runtime
        assert view.enabled
        assert code_of(view, fid) == "v1" and len(view) == 1

        await other_node.call(lambda c: update(c, fid, code="v2"))
        await eventually(lambda: len(view) == 0, "the other node's update evicts the entry")
        assert code_of(view, fid) == "v2"

        await other_node.call(lambda c: update(c, fid, cron_schedule="* * * * *"))
        with trio.fail_after(WAIT_S):
            assert await changes.receive() == ScheduleChanged(fid)
        await eventually(lambda: "state" not in readiness.problems, "checked once")
        assert readiness.problems == {}
        nursery.cancel_scope.cancel()
    assert not pg_store.runtime.enabled


def listener_pids(url: str, node: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
            (f"lunard-events {node}",),
        ).fetchall()
    return [row[0] for row in rows]


async def test_a_killed_listener_clears_the_cache_reconnects_and_resends_schedules(
    pg_store: PostgresStore, pg_url: str
) -> None:
    first, second = create(pg_store), create(pg_store)
    inbox, changes = trio.open_memory_channel[ScheduleChanged](100)
    events = StateEvents(store=pg_store, readiness=Readiness(), scheduler=inbox, node="n2")
    async with trio.open_nursery() as nursery:
        await nursery.start(events.run)
        view = pg_store.runtime
        assert code_of(view, first) == "v1" and len(view) == 1
        raw_sql(pg_url, "UPDATE function_versions SET code = 'x' WHERE function_id = %s", (first,))
        assert code_of(view, first) == "v1"  # cached, the change unannounced

        (pid,) = listener_pids(pg_url, "n2")
        raw_sql(pg_url, "SELECT pg_terminate_backend(%s)", (pid,))
        await eventually(lambda: events.reconnects == 1, "the listener reconnects")
        assert listener_pids(pg_url, "n2") not in ([], [pid])
        assert view.enabled
        assert code_of(view, first) == "x"  # cleared: read again
        with trio.fail_after(WAIT_S):
            got = {(await changes.receive()).function_id for _ in range(2)}
        assert got == {first, second}
        nursery.cancel_scope.cancel()


async def test_readiness_fails_while_the_database_refuses_connections(
    pg_store: PostgresStore, pg_url: str, pg_server: PgServer
) -> None:
    database = pg_url.rsplit("/", 1)[1]
    readiness = Readiness()
    events = StateEvents(store=pg_store, readiness=readiness, scheduler=None, node="n3")
    block = (
        f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false',
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
        "AND pid <> pg_backend_pid()",
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(events.run)
        await eventually(lambda: events.reconnects == 0 and readiness.ready, "ready")
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            admin.execute(block[0])
            admin.execute(block[1], (database,))
            await eventually(lambda: "state" in readiness.problems, "not ready")
            assert "unreachable" in readiness.problems["state"]
            assert not pg_store.runtime.enabled  # the listener is gone too
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await eventually(lambda: readiness.ready, "ready again")
        await eventually(lambda: pg_store.runtime.enabled, "listening again")
        nursery.cancel_scope.cancel()
