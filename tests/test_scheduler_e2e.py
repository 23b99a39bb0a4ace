"""A scheduled run end to end: the real Scheduler, Pool (worker processes) and Sink.

Real time, with the scheduler's wall clock shifted so a minute boundary is one second
away: `* * * * *` fires once, a worker runs the function, and the sink records it as `cron`.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
import trio

from lunard.config import Config
from lunard.ids import new_id, version_id
from lunard.pool import Pool
from lunard.records import sink, store
from lunard.records.journal import Journal
from lunard.records.sink import Sink
from lunard.scheduler import Scheduler
from lunard.state import StateStore
from lunard.state.dialect import Conn

CODE = """
function handler(ctx, event)
  log.info(event.headers["X-Trigger"] .. " at " .. event.headers["X-Cron-Scheduled-Time"])
  return {statusCode = 200, body = event.method}
end
"""


class _OnLog(logging.Handler):
    """Sets `event` when a record containing `text` is logged (the scheduler's own report
    that a run finished; it logs from the trio thread)."""

    def __init__(self, text: str, event: trio.Event) -> None:
        super().__init__(level=logging.INFO)
        self.text = text
        self.event = event

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


def add_cron_function(state: StateStore) -> str:
    fid = new_id()
    now = int(time.time())

    def insert(conn: Conn) -> None:
        conn.execute(
            "INSERT INTO functions (id, name, created_at, updated_at, cron_schedule, cron_status)"
            " VALUES (?, 'ticker', ?, ?, '* * * * *', 'active')",
            (fid, now, now),
        )
        conn.execute(
            "INSERT INTO function_versions (id, function_id, version, code, created_at, "
            "is_active) VALUES (?, ?, 1, ?, ?, 1)",
            (version_id(fid, 1), fid, CODE, now),
        )

    state.call_sync(insert)
    return fid


async def test_a_cron_run_is_executed_by_a_worker_and_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lunard.scheduler")
    state = StateStore.open(tmp_path)
    fid = add_cron_function(state)
    real_start = time.time()
    boundary = (int(real_start) // 60 + 1) * 60 + 60  # a minute boundary in the "future"
    offset = boundary - 1.0 - real_start  # the scheduler's clock reads boundary - 1 s now

    completed = trio.Event()
    watcher = _OnLog("Cron execution completed", completed)
    logging.getLogger("lunard.scheduler").addHandler(watcher)
    async with trio.open_nursery() as nursery:
        committed, committed_receive = trio.open_memory_channel[int](8)
        records_sink = Sink(path=tmp_path / "records.duckdb", committed=committed)
        await nursery.start(records_sink.run)
        journal = Journal(
            directory=tmp_path / "journal", sink=records_sink.inbox, committed=committed_receive
        )
        await nursery.start(journal.run)
        pool = Pool(
            workers=1,
            queue_size=4,
            runtime_dir=tmp_path / "run",
            state_path=state.path,
            worker_address_space_mb=1024,
            records=journal.inbox,
        )
        await nursery.start(pool.run)
        scheduler = Scheduler(
            config=Config(timezone="UTC"),
            state=state,
            pool=pool.inbox,
            clock=lambda: time.time() + offset,
        )
        await nursery.start(scheduler.run)

        with trio.fail_after(30):  # the tick comes about one second from now
            await completed.wait()
        items, total = await sink.query(
            records_sink.inbox, lambda c: store.list_executions(c, fid, 10, 0)
        )
        logs, _ = await sink.query(
            records_sink.inbox, lambda c: store.list_logs(c, items[0]["id"], 10, 0)
        )
        frames = journal.stats.frames  # the cron run's record went through the journal
        nursery.cancel_scope.cancel()
    logging.getLogger("lunard.scheduler").removeHandler(watcher)
    assert frames == 1
    state.close()

    [run] = items
    assert total == 1
    assert run["trigger"] == "cron"
    assert run["status"] == "success"
    event = json.loads(run["event_json"])
    assert event["method"] == "POST"
    assert event["headers"]["X-Cron-Schedule"] == "* * * * *"
    assert event["headers"]["X-Cron-Function-Name"] == "ticker"
    assert [entry["message"] for entry in logs] == [f"cron at {boundary}"]
