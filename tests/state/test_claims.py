"""Cron claims (`lunard.state.claims`) on both backends: one winner per slot, the previous
run blocks the next slot until it finishes or its lease ends, old claims are swept.

Each "node" is its own `ClaimsConn` (its own connection, as each daemon's scheduler has);
the races run in real threads, each with its own connection."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lunard.state import StateStore
from lunard.state.claims import (
    Claim,
    ClaimsConn,
    Slot,
    holder_of,
    release_unfinished,
    sweep_claims,
)
from lunard.state.dialect import Conn

S = 1_700_000_040  # a whole minute
LEASE = 90  # the leases below: slot + 90 s


def slot(at: int, node: str, *, function_id: str = "fn1", lease: int = LEASE) -> Slot:
    return Slot(
        function_id=function_id,
        scheduled_at=at,
        node_id=node,
        execution_id=f"exec-{node}-{at}",
        lease_until=at + lease,
    )


@pytest.fixture
def nodes(store: StateStore) -> Iterator[tuple[ClaimsConn, ClaimsConn]]:
    a, b = ClaimsConn(store.location), ClaimsConn(store.location)
    yield a, b
    a.close()
    b.close()


def rows(store: StateStore) -> list[tuple[Any, ...]]:
    def read(conn: Conn) -> list[tuple[Any, ...]]:
        cursor = conn.execute(
            "SELECT function_id, scheduled_at, node_id, execution_id, claimed_at, lease_until, "
            "finished_at FROM cron_runs ORDER BY function_id, scheduled_at"
        )
        return [tuple(row) for row in cursor.fetchall()]

    return store.call_sync(read)


def test_the_first_claim_of_a_slot_wins_and_every_later_one_loses(
    store: StateStore, nodes: tuple[ClaimsConn, ClaimsConn]
) -> None:
    a, b = nodes
    assert a.claim(slot(S, "a"), now=S) is Claim.WON
    assert b.claim(slot(S, "b"), now=S + 1) is Claim.TAKEN  # while a's run goes
    assert a.claim(slot(S, "a"), now=S + 1) is Claim.TAKEN  # never twice, not even for a
    assert a.finish(slot(S, "a"), now=S + 5) is True
    assert b.claim(slot(S, "b"), now=S + 6) is Claim.TAKEN  # nor once it finished
    assert rows(store) == [("fn1", S, "a", f"exec-a-{S}", S, S + LEASE, S + 5)]
    assert store.call_sync(lambda conn: holder_of(conn, "fn1", S)) == "a"
    assert store.call_sync(lambda conn: holder_of(conn, "fn1", S + 60)) is None


def test_the_next_slot_is_skipped_while_the_previous_run_goes_then_claimable(
    store: StateStore, nodes: tuple[ClaimsConn, ClaimsConn]
) -> None:
    a, b = nodes
    assert a.claim(slot(S, "a"), now=S) is Claim.WON
    assert b.claim(slot(S + 60, "b"), now=S + 60) is Claim.BUSY  # DECISIONS 13, across nodes
    assert a.claim(slot(S + 60, "a"), now=S + 60) is Claim.BUSY
    assert [row[1] for row in rows(store)] == [S]  # a skipped slot leaves no claim
    # Another function is not held back by fn1's run.
    assert b.claim(slot(S + 60, "b", function_id="fn2"), now=S + 60) is Claim.WON

    assert a.finish(slot(S, "a"), now=S + 70) is True
    assert b.finish(slot(S, "b"), now=S + 70) is False  # only the holder's claim is its own
    assert b.claim(slot(S + 120, "b"), now=S + 120) is Claim.WON
    assert [(row[1], row[2]) for row in rows(store) if row[0] == "fn1"] == [
        (S, "a"),
        (S + 120, "b"),
    ]


def test_an_expired_lease_of_a_dead_node_frees_the_next_slot(
    store: StateStore, nodes: tuple[ClaimsConn, ClaimsConn]
) -> None:
    a, b = nodes
    assert a.claim(slot(S, "a"), now=S) is Claim.WON  # ... and node a dies: never finished
    assert b.claim(slot(S + 60, "b"), now=S + 60) is Claim.BUSY
    assert b.claim(slot(S + 89, "b"), now=S + 89) is Claim.BUSY  # lease_until = S + 90
    assert b.claim(slot(S + 90, "b"), now=S + 90) is Claim.WON  # the lease has ended
    assert [(row[2], row[6]) for row in rows(store)] == [("a", None), ("b", None)]


def test_sweep_deletes_claims_older_than_seven_days(
    store: StateStore, nodes: tuple[ClaimsConn, ClaimsConn]
) -> None:
    a, _ = nodes
    now = S + 30 * 86_400
    week = 7 * 86_400
    for age in (8 * 86_400, week + 1, week, 60):
        at = now - age
        assert a.claim(slot(at, "a", lease=0), now=at) is Claim.WON
    assert store.call_sync(lambda conn: sweep_claims(conn, now)) == 2
    assert [row[1] for row in rows(store)] == [now - week, now - 60]
    assert store.call_sync(lambda conn: sweep_claims(conn, now)) == 0


def test_release_unfinished_ends_every_open_claim(
    store: StateStore, nodes: tuple[ClaimsConn, ClaimsConn]
) -> None:
    a, b = nodes
    assert a.claim(slot(S, "a"), now=S) is Claim.WON
    assert b.claim(slot(S, "b", function_id="fn2"), now=S) is Claim.WON
    assert b.finish(slot(S, "b", function_id="fn2"), now=S + 3) is True
    assert store.call_sync(lambda conn: release_unfinished(conn, S + 10)) == 1
    assert [row[6] for row in rows(store)] == [S + 10, S + 3]
    assert b.claim(slot(S + 60, "b"), now=S + 60) is Claim.WON


def race(location: str, claims: list[list[tuple[Slot, int]]]) -> list[list[Claim]]:
    """Thread i makes the claims `claims[i]` in order on its own connection, all threads
    starting each round together; the results per thread."""
    results: list[list[Claim]] = [[] for _ in claims]
    barrier = threading.Barrier(len(claims))
    errors: list[BaseException] = []

    def node(index: int) -> None:
        conn = ClaimsConn(location)
        try:
            for claim, now in claims[index]:
                barrier.wait(timeout=30)
                results[index].append(conn.claim(claim, now))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=node, args=(i,)) for i in range(len(claims))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def test_racing_nodes_get_each_slot_exactly_once(store: StateStore) -> None:
    slots = [S + 60 * k for k in range(20)]
    plans = [[(slot(at, f"n{i}", lease=0), at) for at in slots] for i in range(4)]
    results = race(store.location, plans)
    for k, at in enumerate(slots):
        outcomes = [results[i][k] for i in range(4)]
        assert outcomes.count(Claim.WON) == 1, (at, outcomes)
        assert outcomes.count(Claim.TAKEN) == 3, (at, outcomes)
    winners = {row[1]: row[2] for row in rows(store)}
    assert sorted(winners) == slots
    assert all(winners[at] == f"n{[r[k] for r in results].index(Claim.WON)}"
               for k, at in enumerate(slots))  # fmt: skip


def test_racing_claims_of_different_slots_let_one_run_at_a_time(store: StateStore) -> None:
    # Four nodes at once claim four different slots of one function, with leases still
    # going: the overlap check must see the other claims (the advisory lock on PostgreSQL,
    # the write lock on SQLite), so exactly one run may start per round.
    rounds = 10
    plans = [
        [(slot(S + 60 * i, f"n{i}", function_id=f"fn{r}", lease=3600), S) for r in range(rounds)]
        for i in range(4)
    ]
    results = race(store.location, plans)
    for r in range(rounds):
        outcomes = [results[i][r] for i in range(4)]
        assert outcomes.count(Claim.WON) == 1, (r, outcomes)
        assert outcomes.count(Claim.BUSY) == 3, (r, outcomes)
    assert len(rows(store)) == rounds
