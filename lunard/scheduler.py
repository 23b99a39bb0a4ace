"""The scheduler actor: runs each function's cron schedule (platform §1, http-api §4.8).

Upstream registers robfig jobs that POST to `{BASE_URL}/fn/{id}`. lunard dispatches the run
inside the daemon instead (DECISIONS 6): the worker sees the same event a scheduled run gets
upstream, and the execution is recorded with `trigger = "cron"`, which no HTTP caller can
forge. Where upstream leaves stale jobs behind (deleted or disabled functions) or starts
overlapping runs, lunard follows DECISIONS 13: deleting, disabling or pausing removes the
schedule at once, and a tick is skipped while the previous run of that function is going.

Across N nodes on one PostgreSQL (scale-out design §3) every node schedules, and a slot runs
on the node whose claim of it goes in (`lunard.state.claims`): at most once per slot, and
exactly once while at least one node is up and reaches the database. On SQLite the claim
of a single node always goes in unless the previous run is still going: today's rule.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import trio

from lunard.config import Config
from lunard.cron import CronError, next_fire
from lunard.errors import Overloaded
from lunard.jobs import PoolInbox, Run, build_job, execute
from lunard.messages import HttpEvent, Job, ScheduleChanged
from lunard.state.claims import Claim, ClaimsConn, Slot
from lunard.state.db import StateStore
from lunard.state.errors import StateError
from lunard.state.runtime import RuntimeTarget, load_target
from lunard.state.schedules import load_schedule, load_schedules

log = logging.getLogger(__name__)

# The longest the loop sleeps without re-reading the wall clock: trio's clock is monotonic,
# so a wall-clock step (NTP, a resumed VM) is noticed within this many seconds.
RESYNC_INTERVAL = 60.0

# A claim's lease lasts the execution timeout plus this long after the run could start (the
# slot, or the claim if later): queue wait and recording. Once it ends, a claim left by a
# node that died stops blocking the function's next slots.
LEASE_GRACE_S = 60


def cron_event(target: RuntimeTarget, schedule: str, fired_at: int) -> HttpEvent:
    """The event upstream's self-call gives a scheduled run (platform §1.6).

    Go's client defaults (`User-Agent: Go-http-client/1.1`, `Accept-Encoding: gzip`) are
    left out: no HTTP request is made, and they said nothing about the run.
    """
    function_id = target.function_id
    return HttpEvent(
        method="POST",
        path=f"/fn/{function_id}",
        relative_path="/",
        headers={
            "X-Trigger": "cron",
            "X-Cron-Schedule": schedule,
            "X-Cron-Function-Id": function_id,
            "X-Cron-Function-Name": target.name,
            "X-Cron-Scheduled-Time": str(fired_at),
            "Content-Type": "application/json",
        },
        query={},
        body=b"",
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    """One registered schedule: its expression and its next fire instant (Unix seconds)."""

    schedule: str
    next_fire: float


class Scheduler:
    """The cron actor.

    Owns: the next fire instant of every scheduled function (an in-memory map loaded from
    the state file at start, computed from *now*: runs missed while the daemon was down are
    not replayed), the set of functions whose run is still going here, and its own
    connection for cron claims (`ClaimsConn`, on the loop thread like `StateStore.read`).

    Receives on `inbox`: `ScheduleChanged(function_id)` after a function is created,
    updated (schedule, status, disabled), or deleted. The function is re-read at once and
    its schedule added, moved or removed, before any further tick fires.

    Sends: one `ExecRequest` (trigger "cron") to the pool per tick, through `jobs.execute`,
    each run in its own task. A tick is skipped, and logged, when the function's previous
    run is still going (here, or on any node as its unexpired claim shows), when the pool
    queue (or the function's share of it) is full, when its `max_concurrency` is 0 (the
    schedule is kept), or when the function no longer exists, is disabled (its schedule is
    then dropped) or has no active version. A failing run is logged; it never stops the
    scheduler.

    Claims: before a slot fires, it is claimed in `cron_runs` under its fire instant (the
    cron computation's, never the clock's) with this node's name (`config.node_name`), the
    run's execution id and a lease of the slot (or the claim, if later) plus the execution
    timeout plus LEASE_GRACE_S. Only the winner runs it; a slot another node claimed is
    passed over quietly (debug log), one whose claim fails is skipped and logged. The claim
    is marked finished when the run ends (or is cancelled with the scheduler). On SQLite,
    claims left unfinished by a previous process are released at start: one daemon owns
    the data dir, so those runs are not going.

    Fire times come from `cron.next_fire` in `config.timezone`, like
    `GET /api/functions/{id}/next-run`, so the instant shown is the instant that fires.
    `clock` is the wall clock in Unix seconds; the wait itself uses trio time, so
    `trio.testing.MockClock` drives the scheduler when `clock` follows it.
    """

    def __init__(
        self,
        *,
        config: Config,
        state: StateStore,
        pool: PoolInbox,
        inbox_size: int = 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._state = state
        self._pool = pool
        self._clock = clock
        self.inbox: trio.MemorySendChannel[ScheduleChanged]
        self.inbox, self._receive = trio.open_memory_channel[ScheduleChanged](inbox_size)
        self._entries: dict[str, _Entry] = {}
        self._running: set[str] = set()
        self._node = config.node_name
        self._claims = ClaimsConn(state.location)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Load the schedules, report ready, then fire ticks and apply changes until
        cancelled. Runs still going are cancelled with the scheduler (the pool answers or
        records them on its own)."""
        now = self._clock()
        for function_id, schedule in self._state.read(load_schedules):
            self._register(function_id, schedule, now)
        try:
            if self._state.dialect == "sqlite":
                self._release_stale_claims(now)
            log.info("Function cron scheduler started")
            log.info("Loaded cron schedules count=%d", len(self._entries))
            async with trio.open_nursery() as runs:
                task_status.started()
                await self._serve(runs)
        finally:
            self._claims.close()

    def _release_stale_claims(self, now: float) -> None:
        try:
            released = self._claims.release_unfinished(now)
        except StateError:
            log.exception("Failed to release the cron claims of a previous run")
            return
        if released:
            log.info("Released unfinished cron claims of a previous run count=%d", released)

    # ----------------------------------------------------------------------- the loop

    async def _serve(self, runs: trio.Nursery) -> None:
        inbox_open = True
        while True:
            with trio.move_on_at(self._wake_at()):
                if inbox_open:
                    try:
                        message = await self._receive.receive()
                    except trio.EndOfChannel:  # every sender is gone; ticks go on
                        inbox_open = False
                    else:
                        self._refresh(message.function_id)
                    continue
                await trio.sleep_forever()
            self._apply_pending()  # a change sent before the tick wins over the tick
            self._fire_due(runs)

    def _wake_at(self) -> float:
        """The trio deadline of the earliest fire instant, at most RESYNC_INTERVAL away."""
        if not self._entries:
            return math.inf
        earliest = min(entry.next_fire for entry in self._entries.values())
        wait = min(max(earliest - self._clock(), 0.0), RESYNC_INTERVAL)
        return trio.current_time() + wait

    def _apply_pending(self) -> None:
        while True:
            try:
                message = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                return
            self._refresh(message.function_id)

    def _fire_due(self, runs: trio.Nursery) -> None:
        now = self._clock()
        for function_id, entry in list(self._entries.items()):
            if entry.next_fire > now:
                continue
            # Next slot after both this one and now: never the same slot twice, and slots
            # missed while the process stood still are skipped, like robfig.
            self._register(function_id, entry.schedule, max(entry.next_fire, now))
            self._fire(function_id, entry.schedule, int(entry.next_fire), int(now), runs)

    # ----------------------------------------------------------------------- schedules

    def _register(self, function_id: str, schedule: str, after: float) -> None:
        """Set the function's next fire instant after `after`; drop it if it never fires."""
        try:
            fire = next_fire(schedule, datetime.fromtimestamp(after, UTC), self._config.timezone)
        except CronError as exc:
            self._entries.pop(function_id, None)
            log.error(
                "Failed to schedule function function_id=%s schedule=%r: %s",
                function_id,
                schedule,
                exc,
            )
            return
        self._entries[function_id] = _Entry(schedule, fire.timestamp())

    def _refresh(self, function_id: str) -> None:
        """Re-read one function's schedule and add, move or remove its entry."""
        try:
            schedule = self._state.read(lambda conn: load_schedule(conn, function_id))
        except StateError:
            log.exception("Failed to refresh cron schedule function_id=%s", function_id)
            return
        had = self._entries.pop(function_id, None) is not None
        if schedule is None:
            if had:
                log.info("Removed cron schedule function_id=%s", function_id)
            return
        self._register(function_id, schedule, self._clock())
        entry = self._entries.get(function_id)
        if entry is not None:
            log.info(
                "Scheduled function function_id=%s schedule=%r next_run=%d",
                function_id,
                schedule,
                int(entry.next_fire),
            )

    # ----------------------------------------------------------------------- runs

    def _fire(
        self, function_id: str, schedule: str, slot: int, fired_at: int, runs: trio.Nursery
    ) -> None:
        """Start the run of `slot` (its fire instant) unless something says it must be
        skipped or another node claimed it; `fired_at` is the clock's second of the tick."""
        try:
            target = self._state.read(lambda conn: load_target(conn, function_id))
        except StateError:
            log.exception("Cron run skipped: cannot read function function_id=%s", function_id)
            return
        if target is None or target.disabled:
            # The change was not announced; drop the schedule as ScheduleChanged would have.
            self._entries.pop(function_id, None)
            reason = "function not found" if target is None else "function is disabled"
            log.warning("Cron run skipped: %s function_id=%s", reason, function_id)
            return
        if target.version_id is None:
            log.warning("Cron run skipped: no active version function_id=%s", function_id)
            return
        if target.max_concurrency == 0:
            log.warning(
                "Cron run skipped: max_concurrency is 0 function_id=%s name=%s schedule=%r",
                function_id,
                target.name,
                schedule,
            )
            return
        if function_id in self._running:
            _log_still_running(target, schedule)
            return
        job = build_job(self._config, target, cron_event(target, schedule, fired_at))
        claim = Slot(
            function_id=function_id,
            scheduled_at=slot,
            node_id=self._node,
            execution_id=job.execution_id,
            lease_until=max(slot, fired_at) + self._config.timeout_seconds + LEASE_GRACE_S,
        )
        if self._claim(target, schedule, claim):
            self._running.add(function_id)
            runs.start_soon(self._run_once, target, schedule, job, claim)

    def _claim(self, target: RuntimeTarget, schedule: str, claim: Slot) -> bool:
        """Claim the slot; whether this node runs it (the reason is logged when not)."""
        try:
            result = self._claims.claim(claim, self._clock())
        except StateError:
            log.exception(
                "Cron run skipped: cannot claim the slot function_id=%s scheduled_at=%d",
                claim.function_id,
                claim.scheduled_at,
            )
            return False
        if result is Claim.BUSY:
            _log_still_running(target, schedule)
        elif result is Claim.TAKEN:
            log.debug(
                "Cron slot claimed by another node function_id=%s scheduled_at=%d",
                claim.function_id,
                claim.scheduled_at,
            )
        return result is Claim.WON

    def _finish(self, claim: Slot) -> None:
        try:
            self._claims.finish(claim, self._clock())
        except StateError:
            log.exception(
                "Failed to mark a cron run finished function_id=%s scheduled_at=%d execution_id=%s",
                claim.function_id,
                claim.scheduled_at,
                claim.execution_id,
            )

    async def _run_once(self, target: RuntimeTarget, schedule: str, job: Job, claim: Slot) -> None:
        function_id = target.function_id
        try:
            outcome = await execute(
                self._pool,
                job,
                trigger="cron",
                save_response=target.save_response,
                max_concurrency=target.max_concurrency,
            )
        except Overloaded as exc:
            log.warning(
                "Cron run skipped: %s function_id=%s name=%s schedule=%r",
                exc.message,
                function_id,
                target.name,
                schedule,
            )
        except Exception:
            log.exception(
                "Cron execution failed function_id=%s name=%s schedule=%r",
                function_id,
                target.name,
                schedule,
            )
        else:
            _log_outcome(target, schedule, Run(job, outcome))
        finally:
            self._running.discard(function_id)
            self._finish(claim)


def _log_still_running(target: RuntimeTarget, schedule: str) -> None:
    log.warning(
        "Cron run skipped: previous run still in progress function_id=%s name=%s schedule=%r",
        target.function_id,
        target.name,
        schedule,
    )


def _log_outcome(target: RuntimeTarget, schedule: str, run: Run) -> None:
    """Upstream's two completion lines; the status is what `/fn` would have answered."""
    result = run.outcome.result
    status = run.status
    fields = (
        target.function_id,
        target.name,
        schedule,
        run.job.execution_id,
        run.outcome.duration_ms,
        status,
    )
    layout = "function_id=%s name=%s schedule=%r execution_id=%s duration_ms=%d status=%d"
    if 200 <= status < 300:
        log.info("Cron execution completed successfully " + layout, *fields)
    elif result.error is not None:
        log.warning(
            "Cron execution returned non-success status " + layout + " error=%s",
            *fields,
            result.error,
        )
    else:
        log.warning("Cron execution returned non-success status " + layout, *fields)
