"""Device-flow requests in `device_requests` (lunard.state.devices), on both backends: hashed
codes, expiry and sweeping, decisions once, collection once with the token row made in the
same transaction (and rolled back with it), and races between connections — the way nodes
sharing one database race."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from lunard.credentials import USER_CODE_ALPHABET, sha256_hex
from lunard.state import StateStore, devices, tokens
from lunard.state.connection import connect_location
from lunard.state.devices import DeviceStatus, Poll, TokenNotCreated
from lunard.state.dialect import Conn, is_postgres
from lunard.transactions import transaction

T = TypeVar("T")
NOW = 1_700_000_000
TTL = 300
RACERS = 6


def create(store: StateStore, now: int = NOW) -> devices.DeviceRequest:
    return store.call_sync(lambda c: devices.create(c, now, TTL))


def rows(store: StateStore, table: str) -> list[tuple[object, ...]]:
    return store.call_sync(lambda c: [tuple(r) for r in c.execute(f"SELECT * FROM {table}")])


def hashes(store: StateStore) -> list[tuple[object, ...]]:
    return store.call_sync(
        lambda c: [tuple(r) for r in c.execute("SELECT device_code_hash FROM device_requests")]
    )


def test_create_stores_the_code_only_as_its_hash(store: StateStore) -> None:
    entry = create(store)
    assert entry.status is DeviceStatus.PENDING and not entry.collected
    assert (entry.created_at, entry.expires_at) == (NOW, NOW + TTL)
    assert len(entry.user_code) == 8 and set(entry.user_code) <= set(USER_CODE_ALPHABET)
    [row] = rows(store, "device_requests")
    assert sha256_hex(entry.device_code) in row
    assert entry.device_code not in row
    assert store.call_sync(lambda c: devices.get(c, entry.device_code, NOW)) == entry


def test_requests_expire_after_the_ttl(store: StateStore) -> None:
    entry = create(store)
    code = entry.device_code
    assert store.call_sync(lambda c: devices.get(c, code, NOW + TTL - 1)) == entry
    late = NOW + TTL
    assert store.call_sync(lambda c: devices.get(c, code, late)) is None
    assert not store.call_sync(lambda c: devices.approve(c, code, late))
    assert not store.call_sync(lambda c: devices.deny(c, code, late))
    assert store.call_sync(lambda c: devices.collect(c, code, late)) == Poll(None)
    assert store.call_sync(lambda c: devices.get(c, "unknown", NOW)) is None


def test_approved_but_uncollected_token_expires_with_the_code(store: StateStore) -> None:
    code = create(store).device_code
    assert store.call_sync(lambda c: devices.approve(c, code, NOW + 10))
    assert store.call_sync(lambda c: devices.collect(c, code, NOW + TTL)) == Poll(None)
    assert rows(store, "api_tokens") == []


def test_create_sweeps_expired_requests(store: StateStore) -> None:
    old = [create(store) for _ in range(5)]
    young = create(store, NOW + 200)
    create(store, NOW + 350)
    kept = {row[0] for row in hashes(store)}
    assert len(kept) == 2
    assert sha256_hex(young.device_code) in kept
    assert not kept & {sha256_hex(e.device_code) for e in old}


def test_a_taken_user_code_is_drawn_again(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = create(store)
    draws = iter([first.user_code, first.user_code, "ZZZZ2345"])
    monkeypatch.setattr(devices, "new_user_code", lambda: next(draws))
    second = create(store)
    assert second.user_code == "ZZZZ2345"
    assert len(rows(store, "device_requests")) == 2


def test_allow_creates_nothing_until_the_token_is_collected_once(store: StateStore) -> None:
    entry = create(store)
    code = entry.device_code
    pending = store.call_sync(lambda c: devices.collect(c, code, NOW + 1))
    assert pending == Poll(entry)
    assert store.call_sync(lambda c: devices.approve(c, code, NOW + 1))
    assert rows(store, "api_tokens") == []  # approval stores no token, raw or hashed
    # A decided code cannot be decided again, either way.
    assert not store.call_sync(lambda c: devices.approve(c, code, NOW + 2))
    assert not store.call_sync(lambda c: devices.deny(c, code, NOW + 2))

    polled = store.call_sync(lambda c: devices.collect(c, code, NOW + 3))
    assert polled.token is not None and polled.request is not None
    assert polled.request.status is DeviceStatus.APPROVED and polled.request.collected
    [token] = store.call_sync(tokens.list_tokens)
    assert token["name"] == f"CLI ({entry.user_code})"
    assert store.call_sync(lambda c: tokens.use_token(c, polled.token or ""))
    # The raw token is nowhere in the database.
    for table in ("device_requests", "api_tokens"):
        assert all(polled.token not in row for row in rows(store, table))

    again = store.call_sync(lambda c: devices.collect(c, code, NOW + 4))
    assert again.token is None and again.request is not None and again.request.collected
    assert len(rows(store, "api_tokens")) == 1


def test_deny_is_final_and_creates_no_token(store: StateStore) -> None:
    code = create(store).device_code
    assert store.call_sync(lambda c: devices.deny(c, code, NOW + 1))
    assert not store.call_sync(lambda c: devices.approve(c, code, NOW + 2))
    polled = store.call_sync(lambda c: devices.collect(c, code, NOW + 3))
    assert polled.token is None and polled.request is not None
    assert polled.request.status is DeviceStatus.DENIED
    assert rows(store, "api_tokens") == []


def test_a_failed_collection_rolls_back_and_can_be_retried(store: StateStore) -> None:
    code = create(store).device_code
    assert store.call_sync(lambda c: devices.approve(c, code, NOW + 1))
    # A real failure of the token insert: its table is not there for a moment.
    store.call_sync(lambda c: c.execute("ALTER TABLE api_tokens RENAME TO api_tokens_away"))
    try:
        with pytest.raises(TokenNotCreated):
            store.call_sync(lambda c: devices.collect(c, code, NOW + 2))
    finally:
        store.call_sync(lambda c: c.execute("ALTER TABLE api_tokens_away RENAME TO api_tokens"))
    entry = store.call_sync(lambda c: devices.get(c, code, NOW + 2))
    assert entry is not None and entry.status is DeviceStatus.APPROVED and not entry.collected
    polled = store.call_sync(lambda c: devices.collect(c, code, NOW + 3))
    assert polled.token is not None
    assert len(rows(store, "api_tokens")) == 1


# --- races between connections, as between nodes -------------------------------------------


def _race(location: str, attempts: list[Callable[[Conn], T]]) -> list[T]:
    """Each attempt in its own thread, on its own connection, in its own transaction,
    all released at once; their results in order."""
    barrier = threading.Barrier(len(attempts))
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        conn = connect_location(location)
        try:
            barrier.wait()
            with transaction(conn, "BEGIN" if is_postgres(conn) else "BEGIN IMMEDIATE"):
                results[index] = attempts[index](conn)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return [results[i] for i in range(len(attempts))]


def test_concurrent_approvals_exactly_one_wins(store: StateStore) -> None:
    code = create(store).device_code
    won = _race(store.location, [lambda c: devices.approve(c, code, NOW + 1)] * RACERS)
    assert won.count(True) == 1


def test_concurrent_allow_and_deny_exactly_one_decides(store: StateStore) -> None:
    code = create(store).device_code
    attempts = [
        (lambda c: devices.approve(c, code, NOW + 1))
        if i % 2
        else (lambda c: devices.deny(c, code, NOW + 1))
        for i in range(RACERS)
    ]
    won = _race(store.location, attempts)
    assert won.count(True) == 1
    winner = DeviceStatus.APPROVED if won.index(True) % 2 else DeviceStatus.DENIED
    entry = store.call_sync(lambda c: devices.get(c, code, NOW + 2))
    assert entry is not None and entry.status is winner


def test_concurrent_collections_exactly_one_gets_the_token(store: StateStore) -> None:
    code = create(store).device_code
    assert store.call_sync(lambda c: devices.approve(c, code, NOW + 1))
    polls = _race(store.location, [lambda c: devices.collect(c, code, NOW + 2)] * RACERS)
    assert sum(p.token is not None for p in polls) == 1
    assert all(p.request is not None and p.request.collected for p in polls)
    assert len(rows(store, "api_tokens")) == 1


# --- PostgreSQL: the loser really waits on the winner's row lock, then re-checks -------------


@pytest.fixture
def pg_store(pg_url: str, tmp_path: Path) -> Iterator[StateStore]:
    state = StateStore.open(tmp_path, pg_url)
    yield state
    state.close()


def _wait_until_blocked(url: str, pid: int) -> None:
    """Until backend `pid` waits on a lock (a condition, polled; not a timing assertion)."""
    deadline = time.monotonic() + 30
    with psycopg.connect(url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if row is not None and row[0] == "Lock":
                return
            time.sleep(0.005)
    pytest.fail(f"backend {pid} never waited on a lock")


@pytest.mark.parametrize("step", ["approve", "collect"])
def test_postgres_second_transition_waits_then_finds_it_done(
    pg_store: StateStore, step: str
) -> None:
    code = create(pg_store).device_code
    if step == "collect":
        assert pg_store.call_sync(lambda c: devices.approve(c, code, NOW + 1))
    transition: Callable[[Conn], object] = (
        (lambda c: devices.approve(c, code, NOW + 1))
        if step == "approve"
        else (lambda c: devices.collect(c, code, NOW + 2))
    )
    holder = connect_location(pg_store.location)
    contender = connect_location(pg_store.location)
    pid = contender.execute("SELECT pg_backend_pid()").fetchone()[0]
    outcome: list[object] = []
    try:
        holder.execute("BEGIN")
        first = transition(holder)  # done, not committed: it holds the row lock
        thread = threading.Thread(target=lambda: outcome.append(_in_txn(contender, transition)))
        thread.start()
        _wait_until_blocked(pg_store.location, pid)
        holder.execute("COMMIT")
        thread.join()
    finally:
        holder.close()
        contender.close()
    if step == "approve":
        assert (first, outcome) == (True, [False])
    else:
        assert isinstance(first, Poll) and first.token is not None
        [second] = outcome
        assert isinstance(second, Poll) and second.token is None
        assert len(rows(pg_store, "api_tokens")) == 1


def _in_txn(conn: Conn, fn: Callable[[Conn], T]) -> T:
    with transaction(conn, "BEGIN"):
        return fn(conn)
