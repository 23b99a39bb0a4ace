"""The scheduler: fire instants, schedule changes without restart, skips and failures.

Time is `trio.testing.MockClock(autojump_threshold=0)`; the scheduler's wall clock follows it
(`Harness.wall`), so "five minutes later" costs nothing and every instant is exact.

The pool's end of the scheduler's channel is drained and answered by the test (choice (b) of
the issue): the real Pool runs worker processes whose IPC is real time, and under an
autojumping MockClock its own per-job deadlines would fire spuriously. The channel is an
in-process actor boundary, not an external service: the scheduler, the state file (real
SQLite in `tmp_path`), the cron module and `jobs.execute` are all real.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import trio
import trio.testing

from lunard.config import Config
from lunard.cron import next_fire
from lunard.ids import new_id, version_id
from lunard.masking import masked_event
from lunard.messages import (
    ExecOutcome,
    ExecRequest,
    HttpEvent,
    JobResponse,
    JobResult,
    ScheduleChanged,
)
from lunard.scheduler import Scheduler
from lunard.state import StateStore
from lunard.state.dialect import Conn

BASE = 1_699_999_200  # 2023-11-14 22:00:00 UTC: a whole hour, so a */5 slot too
EVERY_5 = "*/5 * * * *"
CODE = "function handler(ctx, event) return {statusCode = 200} end"
UTC_CONFIG = Config(timezone="UTC")


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="lunard.scheduler")
    return caplog


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def add_function(
    state_store: StateStore,
    name: str = "nightly",
    *,
    schedule: str | None = EVERY_5,
    status: str = "active",
    disabled: bool = False,
    save_response: bool = False,
) -> str:
    fid = new_id()

    def insert(conn: Conn) -> None:
        conn.execute(
            "INSERT INTO functions (id, name, created_at, updated_at, disabled, cron_schedule, "
            "cron_status, save_response) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (fid, name, BASE, BASE, int(disabled), schedule, status, int(save_response)),
        )
        conn.execute(
            "INSERT INTO function_versions (id, function_id, version, code, created_at, "
            "is_active) VALUES (?, ?, 1, ?, ?, 1)",
            (version_id(fid, 1), fid, CODE, BASE),
        )

    state_store.call_sync(insert)
    return fid


def update(state_store: StateStore, sql: str, *params: Any) -> None:
    state_store.call_sync(lambda conn: conn.execute(sql, params))


class Harness:
    """The test's side of the scheduler: its wall clock and the pool's end of its channel."""

    def __init__(
        self,
        state_store: StateStore,
        start: int,
        *,
        config: Config = UTC_CONFIG,
        pool_size: int = 16,
    ) -> None:
        self.state = state_store
        self.config = config
        self.start = start
        self.t0 = trio.current_time()
        self.pool_send, self.pool = trio.open_memory_channel[ExecRequest](pool_size)

    def wall(self) -> float:
        """Unix seconds, advancing with the MockClock."""
        return self.start + (trio.current_time() - self.t0)

    def trio_at(self, wall: float) -> float:
        """The trio time at which the wall clock reads `wall`."""
        return self.t0 + (wall - self.start)

    async def sleep_until_wall(self, wall: float) -> None:
        await trio.sleep_until(self.trio_at(wall))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Scheduler]:
        scheduler = Scheduler(
            config=self.config, state=self.state, pool=self.pool_send, clock=self.wall
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(scheduler.run)
            yield scheduler
            nursery.cancel_scope.cancel()

    async def next_run(self, at: int) -> ExecRequest:
        """Wait for the next ExecRequest; assert it came at wall second `at` and says so."""
        request = await self.pool.receive()
        assert trio.current_time() == self.trio_at(at)
        assert request.job.event.headers["X-Cron-Scheduled-Time"] == str(at)
        return request

    def assert_nothing_sent(self) -> None:
        with pytest.raises(trio.WouldBlock):
            self.pool.receive_nowait()


async def answer(request: ExecRequest, *, status: int = 200, error: str | None = None) -> None:
    response = None if error is not None else JobResponse(status, {}, b"ok", False)
    result = JobResult(request.job.execution_id, response, error)
    await request.reply.send(ExecOutcome(result, duration_ms=7))


async def changed(scheduler: Scheduler, function_id: str) -> None:
    """Announce a change and let the scheduler apply it (no time passes)."""
    await scheduler.inbox.send(ScheduleChanged(function_id))
    await trio.testing.wait_all_tasks_blocked()


# --------------------------------------------------------------------------- fire instants


async def test_every_five_minutes_fires_at_each_slot_with_upstreams_cron_event(
    autojump_clock: trio.testing.MockClock,
    state_store: StateStore,
) -> None:
    fid = add_function(state_store, "report", save_response=True)
    h = Harness(state_store, start=BASE + 123)
    # The instant GET /api/functions/{id}/next-run reports at start-up (same function, zone).
    shown = next_fire(EVERY_5, datetime.fromtimestamp(h.start, UTC), UTC_CONFIG.timezone)
    assert shown.timestamp() == BASE + 300

    async with h.running():
        first = await h.next_run(BASE + 300)
        expected_event = HttpEvent(
            method="POST",
            path=f"/fn/{fid}",
            relative_path="/",
            headers={
                "X-Trigger": "cron",
                "X-Cron-Schedule": EVERY_5,
                "X-Cron-Function-Id": fid,
                "X-Cron-Function-Name": "report",
                "X-Cron-Scheduled-Time": str(BASE + 300),
                "Content-Type": "application/json",
            },
            query={},
            body=b"",
        )
        assert first.job.event == expected_event
        assert first.trigger == "cron"
        assert first.save_response is True
        # What gets stored: the worker masks this very event (X-Trigger included).
        assert json.loads(masked_event(first.job.event))["headers"]["X-Trigger"] == "cron"
        assert (first.job.function_id, first.job.version_id) == (fid, version_id(fid, 1))
        assert first.job.code == CODE
        await answer(first)

        for slot in (BASE + 600, BASE + 900, BASE + 1200):
            await answer(await h.next_run(slot))


async def test_fire_instants_follow_the_timezone_setting(
    autojump_clock: trio.testing.MockClock, state_store: StateStore
) -> None:
    # Kolkata is UTC+05:30: its "minute 0" is half past the hour in UTC.
    config = Config(timezone="Asia/Kolkata")
    add_function(state_store, schedule="0 * * * *")
    h = Harness(state_store, start=BASE + 60, config=config)
    shown = next_fire("0 * * * *", datetime.fromtimestamp(h.start, UTC), config.timezone)
    assert shown.timestamp() == BASE + 1800

    async with h.running():
        await answer(await h.next_run(BASE + 1800))
        await answer(await h.next_run(BASE + 5400))


# --------------------------------------------------------------------------- changes


# How a function's schedule is stopped, and the change that brings it back (None: none can).
STOPS = {
    "pause": (
        "UPDATE functions SET cron_status = 'paused' WHERE id = ?",
        "UPDATE functions SET cron_status = 'active' WHERE id = ?",
    ),
    "disable": (
        "UPDATE functions SET disabled = 1 WHERE id = ?",
        "UPDATE functions SET disabled = 0 WHERE id = ?",
    ),
    "delete": ("DELETE FROM functions WHERE id = ?", None),
}


@pytest.mark.parametrize("how", list(STOPS))
async def test_pause_disable_or_delete_stops_the_schedule_at_once_and_others_keep_firing(
    autojump_clock: trio.testing.MockClock,
    state_store: StateStore,
    logs: pytest.LogCaptureFixture,
    how: str,
) -> None:
    stop, resume = STOPS[how]
    fid = add_function(state_store, "stopped")
    other = add_function(state_store, "other", schedule="*/10 * * * *")
    h = Harness(state_store, start=BASE + 10)
    async with h.running() as scheduler:
        first = await h.next_run(BASE + 300)
        assert first.job.function_id == fid
        await answer(first)

        update(state_store, stop, fid)
        await changed(scheduler, fid)
        assert f"Removed cron schedule function_id={fid}" in messages(logs)  # at once
        request = await h.next_run(BASE + 600)
        assert request.job.function_id == other
        await answer(request)
        await h.sleep_until_wall(BASE + 1190)
        h.assert_nothing_sent()  # 900 was the stopped function's slot

        if resume is not None:
            update(state_store, resume, fid)
            await changed(scheduler, fid)
        expected = {other} if resume is None else {fid, other}
        fired = set()
        for _ in expected:  # from now on, nothing made up: the next slot is 1200
            request = await h.next_run(BASE + 1200)
            fired.add(request.job.function_id)
            await answer(request)
        assert fired == expected
        await trio.testing.wait_all_tasks_blocked()
        h.assert_nothing_sent()


async def test_a_new_schedule_moves_the_next_fire_at_once(
    autojump_clock: trio.testing.MockClock, state_store: StateStore
) -> None:
    fid = add_function(state_store)
    h = Harness(state_store, start=BASE + 10)
    async with h.running() as scheduler:
        await answer(await h.next_run(BASE + 300))
        update(state_store, "UPDATE functions SET cron_schedule = '0 * * * *' WHERE id = ?", fid)
        await changed(scheduler, fid)
        request = await h.next_run(BASE + 3600)  # no stale tick at 600, 900, ...
        assert request.job.event.headers["X-Cron-Schedule"] == "0 * * * *"
        await answer(request)


async def test_an_unannounced_disable_is_caught_when_the_tick_comes(
    autojump_clock: trio.testing.MockClock, state_store: StateStore, logs: pytest.LogCaptureFixture
) -> None:
    fid = add_function(state_store)
    h = Harness(state_store, start=BASE + 10)
    async with h.running() as scheduler:
        update(state_store, "UPDATE functions SET disabled = 1 WHERE id = ?", fid)  # no message
        await h.sleep_until_wall(BASE + 310)
        h.assert_nothing_sent()
        assert f"Cron run skipped: function is disabled function_id={fid}" in messages(logs)

        # The schedule was dropped, as the message would have done; enabling brings it back.
        update(state_store, "UPDATE functions SET disabled = 0 WHERE id = ?", fid)
        await h.sleep_until_wall(BASE + 610)
        h.assert_nothing_sent()
        await changed(scheduler, fid)
        await answer(await h.next_run(BASE + 900))


async def test_a_function_without_active_version_is_skipped_and_kept(
    autojump_clock: trio.testing.MockClock, state_store: StateStore, logs: pytest.LogCaptureFixture
) -> None:
    fid = add_function(state_store)
    update(state_store, "UPDATE function_versions SET is_active = 0 WHERE function_id = ?", fid)
    h = Harness(state_store, start=BASE + 10)
    async with h.running():
        await h.sleep_until_wall(BASE + 310)
        h.assert_nothing_sent()
        assert f"Cron run skipped: no active version function_id={fid}" in messages(logs)
        update(state_store, "UPDATE function_versions SET is_active = 1 WHERE function_id = ?", fid)
        await answer(await h.next_run(BASE + 600))


async def test_unusable_stored_schedules_are_logged_and_the_rest_still_fire(
    autojump_clock: trio.testing.MockClock, state_store: StateStore, logs: pytest.LogCaptureFixture
) -> None:
    add_function(state_store, "garbage", schedule="not a cron")  # written around the API
    add_function(state_store, "never", schedule="0 0 30 2 *")  # valid, but February 30th
    good = add_function(state_store, "good")
    h = Harness(state_store, start=BASE + 10)
    async with h.running():
        request = await h.next_run(BASE + 300)
        assert request.job.function_id == good
        await answer(request)
    failures = [m for m in messages(logs) if m.startswith("Failed to schedule function")]
    assert len(failures) == 2
    assert "Loaded cron schedules count=1" in messages(logs)


# --------------------------------------------------------------------------- skips, failures


async def test_a_run_still_going_at_the_next_tick_makes_that_tick_skip(
    autojump_clock: trio.testing.MockClock, state_store: StateStore, logs: pytest.LogCaptureFixture
) -> None:
    fid = add_function(state_store, "slow")
    h = Harness(state_store, start=BASE + 10)
    async with h.running():
        slow = await h.next_run(BASE + 300)  # not answered yet: the run is still going
        await h.sleep_until_wall(BASE + 610)
        h.assert_nothing_sent()
        skipped = [m for m in messages(logs) if "previous run still in progress" in m]
        assert skipped == [
            f"Cron run skipped: previous run still in progress function_id={fid} name=slow "
            f"schedule='{EVERY_5}'"
        ]

        await answer(slow)
        await answer(await h.next_run(BASE + 900))


async def test_restart_computes_the_next_fire_from_now_and_replays_nothing(
    autojump_clock: trio.testing.MockClock,
    state_store: StateStore,
) -> None:
    add_function(state_store)
    h = Harness(state_store, start=BASE + 10)
    async with h.running():
        await answer(await h.next_run(BASE + 300))

    await h.sleep_until_wall(BASE + 1310)  # down across the 600, 900 and 1200 slots
    async with h.running():
        await answer(await h.next_run(BASE + 1500))  # the first thing sent after restart


async def test_failing_runs_never_stop_the_scheduler(
    autojump_clock: trio.testing.MockClock, state_store: StateStore, logs: pytest.LogCaptureFixture
) -> None:
    fid = add_function(state_store, "flaky")
    # An unbuffered pool channel: a tick while the test is not receiving finds the queue full.
    h = Harness(state_store, start=BASE + 10, pool_size=0)
    async with h.running():
        await answer(await h.next_run(BASE + 300), error="boom")  # Lua error
        await answer(await h.next_run(BASE + 600), status=502)  # handler's own error status
        lost = await h.next_run(BASE + 900)
        lost.reply.close()  # the pool stops without answering
        await h.sleep_until_wall(BASE + 1210)  # tick 1200: nobody takes it, queue is full
        await answer(await h.next_run(BASE + 1500))
        await trio.testing.wait_all_tasks_blocked()  # let the run log its outcome

    log_lines = messages(logs)
    tail = f"function_id={fid} name=flaky schedule='{EVERY_5}'"

    def one(prefix: str) -> str:
        found = [m for m in log_lines if m.startswith(prefix)]
        assert len(found) == 1, (prefix, log_lines)
        return found[0]

    non_success = [m for m in log_lines if m.startswith("Cron execution returned non-success")]
    assert [m.rsplit(" duration_ms=", 1)[1] for m in non_success] == [
        "7 status=500 error=boom",
        "7 status=502",
    ]
    assert one("Cron execution failed") == f"Cron execution failed {tail}"
    assert one("Cron run skipped: Too many executions queued") == (
        f"Cron run skipped: Too many executions queued, retry later {tail}"
    )
    assert one("Cron execution completed successfully").endswith("duration_ms=7 status=200")
    # Every slot kept its claim, finished, whatever happened to its run (at most once).
    assert [(row[1], row[5] is not None) for row in claims(state_store)] == [
        (BASE + slot, True) for slot in (300, 600, 900, 1200, 1500)
    ]


async def test_max_concurrency_zero_skips_the_tick_and_keeps_the_schedule(
    autojump_clock: trio.testing.MockClock, state_store: StateStore, logs: pytest.LogCaptureFixture
) -> None:
    fid = add_function(state_store, "capped")
    update(state_store, "UPDATE functions SET max_concurrency = 0 WHERE id = ?", fid)
    h = Harness(state_store, start=BASE + 10)
    async with h.running():
        await h.sleep_until_wall(BASE + 310)
        h.assert_nothing_sent()
        assert (
            f"Cron run skipped: max_concurrency is 0 function_id={fid} name=capped "
            f"schedule='{EVERY_5}'"
        ) in messages(logs)

        # No ScheduleChanged needed: the schedule stayed, the next tick reads the new cap.
        update(state_store, "UPDATE functions SET max_concurrency = 2 WHERE id = ?", fid)
        request = await h.next_run(BASE + 600)
        assert request.max_concurrency == 2  # it travels to the pool with the run
        await answer(request)


# --------------------------------------------------------------------------- claims (SQLite)


def claims(state_store: StateStore) -> list[tuple[Any, ...]]:
    """The cron claims: (function, slot, node, execution id, lease end, finished at)."""

    def read(conn: Conn) -> list[tuple[Any, ...]]:
        cursor = conn.execute(
            "SELECT function_id, scheduled_at, node_id, execution_id, lease_until, finished_at "
            "FROM cron_runs ORDER BY scheduled_at"
        )
        return [tuple(row) for row in cursor]

    return state_store.call_sync(read)
