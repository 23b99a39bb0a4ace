"""Cron claims: which node runs a scheduled slot (scale-out design §3, DECISIONS 13).

Every node schedules every function. Before it fires a slot `(function_id, scheduled_at)` —
`scheduled_at` is the fire instant the cron expression gives, never the clock's "now", so
every node computes the same key — it claims the slot in the `cron_runs` table (state
migration 3) in one short transaction:

- on PostgreSQL, `pg_advisory_xact_lock(hashtext(function_id))` first, so two nodes'
  "is the previous run still going?" checks cannot interleave (the lock is released at
  commit, so it works behind PgBouncer in transaction mode);
- the claim goes in only when no claim of the function is unfinished with an unexpired
  lease (the skip-while-the-previous-run-goes rule of DECISIONS 13, now across nodes), and
  `ON CONFLICT DO NOTHING` on the primary key lets exactly one node have each slot.

A node that dies after claiming leaves its claim unfinished: that run is lost (never
retried), and its lease (`lease_until`) stops blocking the function's next slots once it
expires. Semantics: at most once per slot, exactly once while at least one node is up and
reaches the database. On SQLite (one node) the same statements give today's answers: the
claim goes in unless the previous run is still going.

Times are Unix seconds from the caller's clock (the scheduler's injectable clock), never
the database's, so a test clock drives the lease checks too. Trio-free.
"""

from __future__ import annotations

import enum
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from lunard.state.connection import connect_location
from lunard.state.dialect import Conn, Sql, is_postgres
from lunard.state.errors import StateError

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long claims are kept (the housekeeper sweeps older slots).
KEEP_DAYS = 7
SECONDS_PER_DAY = 86_400


class Claim(enum.Enum):
    """What a claim attempt found."""

    WON = "won"  # the claim is in: this node runs the slot
    TAKEN = "taken"  # the slot was claimed before (by another node, or earlier by this one)
    BUSY = "busy"  # the function's previous run is still going: the slot is skipped


@dataclass(frozen=True, slots=True)
class Slot:
    """One claim: the slot, who runs it, the execution it starts and when its lease ends."""

    function_id: str
    scheduled_at: int
    node_id: str
    execution_id: str
    lease_until: int


_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"

_INSERT = Sql(
    sqlite="""
        INSERT INTO cron_runs
            (function_id, scheduled_at, node_id, execution_id, claimed_at, lease_until)
        SELECT ?, ?, ?, ?, ?, ?
        WHERE NOT EXISTS (SELECT 1 FROM cron_runs WHERE function_id = ?
                          AND finished_at IS NULL AND lease_until > ?)
        ON CONFLICT (function_id, scheduled_at) DO NOTHING
        RETURNING node_id
    """,
    postgres="""
        INSERT INTO cron_runs
            (function_id, scheduled_at, node_id, execution_id, claimed_at, lease_until)
        SELECT %s, %s, %s, %s, %s, %s
        WHERE NOT EXISTS (SELECT 1 FROM cron_runs WHERE function_id = %s
                          AND finished_at IS NULL AND lease_until > %s)
        ON CONFLICT (function_id, scheduled_at) DO NOTHING
        RETURNING node_id
    """,
)
_HOLDER = Sql(
    sqlite="SELECT node_id FROM cron_runs WHERE function_id = ? AND scheduled_at = ?",
    postgres="SELECT node_id FROM cron_runs WHERE function_id = %s AND scheduled_at = %s",
)
_FINISH = Sql(
    sqlite="UPDATE cron_runs SET finished_at = ? WHERE function_id = ? AND scheduled_at = ? "
    "AND node_id = ? AND finished_at IS NULL",
    postgres="UPDATE cron_runs SET finished_at = %s WHERE function_id = %s "
    "AND scheduled_at = %s AND node_id = %s AND finished_at IS NULL",
)
_SWEEP = Sql(
    sqlite="DELETE FROM cron_runs WHERE scheduled_at < ?",
    postgres="DELETE FROM cron_runs WHERE scheduled_at < %s",
)
_RELEASE = Sql(
    sqlite="UPDATE cron_runs SET finished_at = ? WHERE finished_at IS NULL",
    postgres="UPDATE cron_runs SET finished_at = %s WHERE finished_at IS NULL",
)


# ----------------------------------------------------------------- inside a transaction


def claim_slot(conn: Conn, slot: Slot, now: float) -> Claim:
    """Claim `slot` for `slot.node_id`, inside the caller's transaction (which must be a
    write transaction on SQLite: `BEGIN IMMEDIATE`, so the check and the insert are one).

    WON when the claim went in; TAKEN when the slot already has a claim; BUSY when another
    slot of the function has an unfinished claim whose lease is later than `now`.
    """
    if is_postgres(conn):
        conn.execute(_LOCK, (slot.function_id,))
    row = conn.execute(
        _INSERT.of(conn),
        (
            slot.function_id,
            slot.scheduled_at,
            slot.node_id,
            slot.execution_id,
            int(now),
            slot.lease_until,
            slot.function_id,
            int(now),
        ),
    ).fetchone()
    if row is not None:
        return Claim.WON
    holder = conn.execute(_HOLDER.of(conn), (slot.function_id, slot.scheduled_at)).fetchone()
    return Claim.BUSY if holder is None else Claim.TAKEN


def finish_slot(conn: Conn, slot: Slot, now: float) -> bool:
    """Mark this node's claim of `slot` finished at `now`; whether it was unfinished."""
    cursor = conn.execute(
        _FINISH.of(conn), (int(now), slot.function_id, slot.scheduled_at, slot.node_id)
    )
    return cursor.rowcount > 0


def holder_of(conn: Conn, function_id: str, scheduled_at: int) -> str | None:
    """The node that claimed a slot, if any."""
    row = conn.execute(_HOLDER.of(conn), (function_id, scheduled_at)).fetchone()
    return None if row is None else str(row["node_id"])


def sweep_claims(conn: Conn, now: float, keep_days: int = KEEP_DAYS) -> int:
    """Delete the claims of slots older than `keep_days` before `now`; how many went."""
    cursor = conn.execute(_SWEEP.of(conn), (int(now) - keep_days * SECONDS_PER_DAY,))
    return max(cursor.rowcount, 0)


def release_unfinished(conn: Conn, now: float) -> int:
    """Mark every unfinished claim finished at `now`; how many there were.

    Only for a single node (SQLite) at scheduler start: the process that made them is gone
    (one daemon per data dir), so their runs are not going, as today's in-memory rule saw
    it. Never on a shared database, where other nodes' runs are going.
    """
    return max(conn.execute(_RELEASE.of(conn), (int(now),)).rowcount, 0)


# ----------------------------------------------------------------- the scheduler's connection


class ClaimsConn:
    """The scheduler's own connection to the state for its claims.

    Made on first use from the store's location (`connect_location`: the SQLite file, or
    an autocommit PostgreSQL connection that reconnects after a break) and used only by
    the thread that made it (the scheduler's loop thread). A claim is one short transaction
    (`BEGIN IMMEDIATE` on SQLite, `BEGIN` on PostgreSQL; rolled back when it fails);
    marking finished is one statement. Each raises `StateError` when the database fails.
    """

    def __init__(self, location: str) -> None:
        self._location = location
        self._conn: Conn | None = None

    def claim(self, slot: Slot, now: float) -> Claim:
        return self._in_transaction(lambda conn: claim_slot(conn, slot, now))

    def finish(self, slot: Slot, now: float) -> bool:
        return self._autocommit(lambda conn: finish_slot(conn, slot, now))

    def release_unfinished(self, now: float) -> int:
        return self._autocommit(lambda conn: release_unfinished(conn, now))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> Conn:
        if self._conn is None:
            self._conn = connect_location(self._location)
        return self._conn

    def _autocommit(self, fn: Callable[[Conn], T]) -> T:
        """`fn` of one statement, which commits on its own (the connection autocommits)."""
        try:
            return fn(self._connection())
        except sqlite3.Error as exc:
            raise StateError(f"state database error: {exc}") from exc

    def _in_transaction(self, fn: Callable[[Conn], T]) -> T:
        try:
            conn = self._connection()
            conn.execute("BEGIN" if is_postgres(conn) else "BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StateError(f"state database error: {exc}") from exc
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            _rollback(conn)
            if isinstance(exc, sqlite3.Error):
                raise StateError(f"state database error: {exc}") from exc
            raise
        return result


def _rollback(conn: Conn) -> None:
    try:
        conn.execute("ROLLBACK")
    except (sqlite3.Error, StateError):  # a broken connection: nothing left to roll back
        log.debug("rollback of a cron claim failed", exc_info=True)
