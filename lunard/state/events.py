"""The state-events actor: one node's ear on the shared PostgreSQL state (issue 15 item 2,
scale-out design §2.4 and §5.3). Started by the supervisor only with `state_url`.

Every state write announces what it changed in its own transaction (`runtime.announce`,
`pg_notify('lunard_state', '<kind>:<key>')`); PostgreSQL delivers that at commit to every
connection that LISTENs. This actor holds one such connection and keeps the node's
`/fn` cache true, tells the scheduler about schedules changed on any node, and says on
`/readyz` whether the database answers.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import select
from typing import Any, Protocol

import psycopg
import trio

from lunard.messages import ScheduleChanged
from lunard.state.errors import StateError
from lunard.state.pg_store import PostgresStore
from lunard.state.runtime import CHANNEL

log = logging.getLogger(__name__)

BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 5.0
CHECK_INTERVAL_S = 1.0
CHECK_TIMEOUT_S = 3.0
CONNECT_TIMEOUT_S = 2  # libpq's smallest useful connect_timeout
READINESS_COMPONENT = "state"
_ALL_FUNCTION_IDS = "SELECT id FROM functions ORDER BY id"


class ReadinessBoard(Protocol):
    """The part of `lunard.http.deps.Readiness` this actor reports to."""

    def problem(self, component: str, reason: str) -> None: ...

    def resolved(self, component: str) -> None: ...


class StateEvents:
    """The state-events actor (one per node, only on PostgreSQL state).

    Owns: one dedicated autocommit connection that runs `LISTEN lunard_state` (its
    `application_name` is `lunard-events <node>`), and one more for the readiness check.

    Receives: the notifications of every node's state writes, read from that connection's
    socket in trio's own epoll (`wait_readable` on the libpq fd, then `consume_input` and
    `notifies`: no thread). For each:
    - `function:<id>`: evicts the function from this node's `/fn` cache;
    - `schedule:<id>`: sends `ScheduleChanged(id)` to the scheduler's inbox (also for this
      node's own changes, which the HTTP handlers already sent: a re-read is idempotent);
    - `token:` / `session:`: nothing cached on this node yet, ignored.

    When the connection breaks (server restart, failover, `pg_terminate_backend`), the
    cache is cleared and keeps nothing (every `/fn` lookup reads the database) until the
    listener is back; it reconnects with backoff (0.1 s doubling to 5 s). Once it listens
    again the cache is cleared once more and enabled, and every function is sent to the
    scheduler as a `ScheduleChanged` (a change may have been missed meanwhile).

    Readiness: a `SELECT 1` on its own connection at most once a second, at most one at a
    time; a failure, or no answer within `CHECK_TIMEOUT_S`, is `Readiness.problem("state",
    reason)` (503 on `/readyz`), and the next answer is `resolved("state")`.

    Reports ready once it listens (so the scheduler, started next, loads its schedules
    after every later change is heard), or after the first failed attempt (start-up does
    not wait for the database; it keeps trying).
    """

    def __init__(
        self,
        *,
        store: PostgresStore,
        readiness: ReadinessBoard,
        scheduler: trio.MemorySendChannel[ScheduleChanged] | None,
        node: str,
        check_interval: float = CHECK_INTERVAL_S,
    ) -> None:
        self._store = store
        self._readiness = readiness
        self._scheduler = scheduler
        self._node = node
        self._check_interval = check_interval
        self.reconnects = 0  # listening connections made after the first (tests, logs)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen and check until cancelled."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._check_forever)
                await self._listen_forever(task_status)
        finally:
            self._store.runtime.suspend()

    # ----------------------------------------------------------------------- listening

    async def _listen_forever(self, task_status: trio.TaskStatus[None]) -> None:
        delay, started = BACKOFF_MIN_S, False
        while True:
            try:
                conn = await trio.to_thread.run_sync(self._connect, True)
            except psycopg.Error as exc:
                log.warning("state events: cannot listen (%s); retrying in %.1fs", exc, delay)
                if not started:
                    task_status.started()
                    started = True
                await trio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            delay = BACKOFF_MIN_S
            try:
                self._store.runtime.resume()
                self._store.runtime.before_lookup = functools.partial(self._poll_now, conn)
                if started:
                    self.reconnects += 1
                    log.info("state events: listening again; cache cleared")
                    await self._reload_schedules()
                else:
                    log.info("state events: listening on %s", CHANNEL)
                    task_status.started()
                    started = True
                await self._receive(conn)
            except psycopg.Error as exc:
                log.warning("state events: connection lost (%s); cache cleared", exc)
            finally:
                self._store.runtime.before_lookup = None
                self._store.runtime.suspend()
                _close(conn)

    def _connect(self, listen: bool) -> psycopg.Connection[Any]:
        """A new autocommit connection (on a thread), listening when `listen`."""
        purpose = "events" if listen else "check"
        conn = psycopg.connect(
            self._store.location,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=f"lunard-{purpose} {self._node}"[:63],
        )
        if listen:
            conn.execute(f"LISTEN {CHANNEL}")
        return conn

    async def _receive(self, conn: psycopg.Connection[Any]) -> None:
        """Handle notifications as they arrive; raise psycopg.Error once the link breaks."""
        pgconn = conn.pgconn
        fd = pgconn.socket
        while True:
            self.drain(conn)
            if pgconn.status != psycopg.pq.ConnStatus.OK:
                raise psycopg.OperationalError("the listening connection is closed")
            await trio.lowlevel.wait_readable(fd)
            pgconn.consume_input()  # raises OperationalError at end of file

    def _poll_now(self, conn: psycopg.Connection[Any]) -> None:
        """Before a `/fn` lookup: handle what already reached the listening socket.

        A change committed on another node is on its way here before that node answers its
        client; the listener task may not have run yet when this node's next request comes
        in. A zero-timeout `select` (microseconds, no database round trip) and libpq's
        buffer make that very next lookup see it. Errors are the listener task's to notice.
        """
        try:
            if select.select([conn.pgconn.socket], [], [], 0)[0]:
                conn.pgconn.consume_input()
            self.drain(conn)
        except (OSError, psycopg.Error):
            pass

    def drain(self, conn: psycopg.Connection[Any]) -> None:
        """Handle every notification libpq has already read."""
        pgconn = conn.pgconn
        while (notify := pgconn.notifies()) is not None:
            self.handle(notify.extra.decode("utf-8", "replace"))

    def handle(self, payload: str) -> None:
        """Act on one `kind:key` notification."""
        log.debug("state events: heard %s", payload)
        kind, _, key = payload.partition(":")
        if kind == "function":
            self._store.runtime.evict(key)
        elif kind == "schedule":
            self._tell_scheduler(key)

    def _tell_scheduler(self, function_id: str) -> None:
        if self._scheduler is None:
            return
        try:
            self._scheduler.send_nowait(ScheduleChanged(function_id))
        except trio.WouldBlock:
            log.warning("scheduler inbox full; schedule change of %s not sent", function_id)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the scheduler stopped first (shutdown)

    async def _reload_schedules(self) -> None:
        """Every function to the scheduler: changes made while not listening are unknown."""
        if self._scheduler is None:
            return
        try:
            rows = await self._store.call(lambda conn: conn.execute(_ALL_FUNCTION_IDS).fetchall())
        except StateError as exc:
            log.warning("state events: cannot re-read the schedules: %s", exc)
            return
        try:
            for row in rows:
                await self._scheduler.send(ScheduleChanged(row[0]))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    # ----------------------------------------------------------------------- readiness

    async def _check_forever(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        busy = False  # a check abandoned after its timeout may still hold `conn`
        problem: str | None = None

        def check() -> None:
            nonlocal conn, busy
            try:
                if conn is None or conn.broken:
                    _close(conn)
                    conn = None
                    conn = self._connect(False)
                conn.execute("SELECT 1")
            finally:
                busy = False

        while True:
            reason: str | None
            if busy:
                reason = f"the state database has not answered for over {CHECK_TIMEOUT_S:g}s"
            else:
                busy = True
                reason = f"no answer from the state database within {CHECK_TIMEOUT_S:g}s"
                with trio.move_on_after(CHECK_TIMEOUT_S):
                    try:
                        await trio.to_thread.run_sync(check, abandon_on_cancel=True)
                        reason = None
                    except psycopg.Error as exc:
                        reason = f"the state database is unreachable: {_first_line(exc)}"
            problem = self._report(problem, reason)
            await trio.sleep(self._check_interval)

    def _report(self, before: str | None, reason: str | None) -> str | None:
        if reason is None:
            if before is not None:
                log.info("state database answers again: ready")
            self._readiness.resolved(READINESS_COMPONENT)
        else:
            if before is None:
                log.error("not ready: %s", reason)
            self._readiness.problem(READINESS_COMPONENT, reason)
        return reason


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _close(conn: psycopg.Connection[Any] | None) -> None:
    if conn is None:
        return
    # No socket any more, or not in trio's thread (the check's connection): nothing waits.
    with contextlib.suppress(psycopg.Error, RuntimeError):
        trio.lowlevel.notify_closing(conn.pgconn.socket)
    conn.close()
