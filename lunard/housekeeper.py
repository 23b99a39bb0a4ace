"""The housekeeper actor: per-function retention of execution records (platform §2).

Upstream deletes, once an hour, every execution older than the *longest* retention of any
function (one global cutoff). lunard keeps each function's own promise instead
(DECISIONS 14): a function's executions older than its `retention_days` (NULL = 7) go, with
their logs, AI and email rows, and nothing younger is touched.

The same pass sweeps cron claims (`cron_runs`) of slots older than 7 days.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import trio

from lunard.records.sink import SinkMessage
from lunard.records.sink import delete as delete_records
from lunard.state.claims import sweep_claims
from lunard.state.db import StateStore
from lunard.state.retention import retention_cutoffs

log = logging.getLogger(__name__)


class Housekeeper:
    """The retention actor.

    Owns: the retention timer (trio time, so `MockClock` drives it in tests).
    Receives: nothing; it acts on time alone. A pass runs at start-up and then every
    `interval` seconds, measured from the start of the previous pass.
    Sends: one `DeleteRecords` (per-function cutoffs) to the sink per pass, and logs
    `Old executions cleanup completed total_deleted=N`. A failing pass (state or sink error)
    is logged as `Failed to cleanup old executions` and the next pass tries again. Each
    pass also deletes the cron claims of slots older than 7 days (a failure there is logged
    on its own and does not stop the retention).

    `clock` is the wall clock in Unix seconds (cutoffs are wall-clock instants).
    """

    def __init__(
        self,
        *,
        state: StateStore,
        sink: trio.MemorySendChannel[SinkMessage],
        interval: float = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval <= 0:
            raise ValueError("housekeeping interval must be positive")
        self._state = state
        self._sink = sink
        self.interval = interval
        self._clock = clock

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Report ready at once, then run a pass now and every `interval` until cancelled."""
        log.info("Housekeeping scheduler started interval=%ss", self.interval)
        task_status.started()
        while True:
            started = trio.current_time()
            try:
                await self.sweep()
            except Exception:
                log.exception("Failed to cleanup old executions; retrying in %ss", self.interval)
            await self.sweep_claims()
            await trio.sleep_until(started + self.interval)

    async def sweep(self) -> int:
        """One retention pass: delete every function's expired executions; return how many.

        Raises what the state store or the sink raises (`run` logs it and retries later).
        """
        now = self._clock()
        cutoffs = await self._state.call(lambda conn: retention_cutoffs(conn, now))
        deleted = await delete_records(self._sink, older_than=cutoffs) if cutoffs else 0
        log.info(
            "Old executions cleanup completed total_deleted=%d functions=%d",
            deleted,
            len(cutoffs),
        )
        return deleted

    async def sweep_claims(self) -> int:
        """Delete cron claims of slots older than 7 days; how many went (0 on failure,
        which is logged: the next pass tries again)."""
        now = self._clock()
        try:
            swept = await self._state.call(lambda conn: sweep_claims(conn, now))
        except Exception:
            log.exception("Failed to sweep old cron claims; retrying in %ss", self.interval)
            return 0
        if swept:
            log.info("Old cron claims swept count=%d", swept)
        return swept
