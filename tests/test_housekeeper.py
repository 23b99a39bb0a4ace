"""The housekeeper: per-function retention (DECISIONS 14) and its pass cadence.

Retention runs against the real Sink on a DuckDB file and the real StateStore on SQLite,
both in `tmp_path`. The cadence test answers the housekeeper's `DeleteRecords` itself: the
sink's end of that channel is an in-process actor boundary, and answering it from the test
lets us fail a pass on purpose and see exactly when each pass starts in MockClock time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from lunard.housekeeper import Housekeeper
from lunard.ids import new_id, version_id
from lunard.messages import (
    AIRequestRow,
    DeleteRecords,
    EmailRequestRow,
    ExecutionRecord,
    JobLog,
    RecordBatch,
)
from lunard.records.sink import Sink, query
from lunard.state import StateStore

NOW = 1_750_000_000  # the housekeeper's wall clock in these tests (Unix seconds)
DAY = 86_400


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[Sink]:
    records = Sink(path=tmp_path / "records.duckdb")
    async with trio.open_nursery() as nursery:
        await nursery.start(records.run)
        yield records
        nursery.cancel_scope.cancel()


def add_function(state_store: StateStore, name: str, retention_days: int | None) -> str:
    fid = new_id()

    def insert(conn: Any) -> None:
        conn.execute(
            "INSERT INTO functions (id, name, created_at, updated_at, retention_days) "
            "VALUES (?, ?, ?, ?, ?)",
            (fid, name, NOW, NOW, retention_days),
        )

    state_store.call_sync(insert)
    return fid


def batch(function_id: str, created_at: int) -> RecordBatch:
    """An execution with two log lines, one AI and one email request, all at `created_at`."""
    eid = new_id()
    execution = ExecutionRecord(
        id=eid,
        function_id=function_id,
        function_version_id=version_id(function_id, 1),
        status="success",
        duration_ms=1,
        error_message=None,
        event_json="{}",
        response_json=None,
        trigger="http",
        created_at=created_at,
    )
    ai = AIRequestRow(
        id=new_id(),
        provider="openai",
        model="m",
        endpoint="e",
        request_json="{}",
        response_json=None,
        status="success",
        error_message=None,
        input_tokens=1,
        output_tokens=1,
        duration_ms=1,
        created_at=created_at,
    )
    email = EmailRequestRow(
        id=new_id(),
        from_address="a@example.com",
        to_addresses=["b@example.com"],
        subject="s",
        has_text=True,
        has_html=False,
        request_json="{}",
        response_json=None,
        status="success",
        error_message=None,
        email_id=None,
        duration_ms=1,
        created_at=created_at,
    )
    return RecordBatch(
        execution=execution,
        logs=[JobLog("info", "one", created_at), JobLog("warn", "two", created_at + 0.5)],
        ai_requests=[ai],
        email_requests=[email],
    )


def _ids(conn: Any, sql: str) -> set[str]:
    return {row[0] for row in conn.execute(sql).fetchall()}


async def test_retention_removes_exactly_the_expired_executions_and_their_rows_per_function(
    state_store: StateStore, sink: Sink
) -> None:
    retentions: dict[str, int | None] = {
        "r7": 7,
        "r15": 15,
        "r30": 30,
        "r365": 365,
        "default": None,
    }
    kept: set[str] = set()
    expired: set[str] = set()
    expected_cutoffs: dict[str, int] = {}
    for name, days in retentions.items():
        fid = add_function(state_store, name, days)
        cutoff = NOW - (days or 7) * DAY
        expected_cutoffs[fid] = cutoff
        # Ages straddling this function's own cutoff, and the other functions' cutoffs too,
        # so a global (longest-retention) cutoff would keep rows this test expects gone.
        for created_at in (NOW, NOW - 6 * DAY, cutoff + 1, cutoff):
            record = batch(fid, created_at)
            await sink.inbox.send(record)
            kept.add(record.execution.id)
        for created_at in (cutoff - 1, cutoff - DAY, NOW - 400 * DAY):
            record = batch(fid, created_at)
            await sink.inbox.send(record)
            expired.add(record.execution.id)

    housekeeper = Housekeeper(state=state_store, sink=sink.inbox, clock=lambda: NOW)
    deleted = await housekeeper.sweep()

    assert deleted == len(expired) == 15
    remaining = await query(
        sink.inbox,
        lambda conn: {
            "executions": _ids(conn, "SELECT id FROM executions"),
            "logs": _ids(conn, "SELECT execution_id FROM logs"),
            "ai": _ids(conn, "SELECT execution_id FROM ai_requests"),
            "email": _ids(conn, "SELECT execution_id FROM email_requests"),
            "log_rows": conn.execute("SELECT count(*) FROM logs").fetchone()[0],
            "per_function_oldest": dict(
                conn.execute(
                    "SELECT function_id, min(epoch(created_at))::BIGINT FROM executions "
                    "GROUP BY function_id"
                ).fetchall()
            ),
        },
    )
    assert remaining["executions"] == kept
    assert remaining["logs"] == kept
    assert remaining["ai"] == kept
    assert remaining["email"] == kept
    assert remaining["log_rows"] == 2 * len(kept)
    # Each function keeps history back to exactly its own cutoff, no further.
    assert remaining["per_function_oldest"] == expected_cutoffs

    # A second pass finds nothing more to delete.
    assert await housekeeper.sweep() == 0


async def test_a_function_without_executions_and_no_functions_at_all(
    state_store: StateStore, sink: Sink
) -> None:
    housekeeper = Housekeeper(state=state_store, sink=sink.inbox, clock=lambda: NOW)
    assert await housekeeper.sweep() == 0  # no functions: no delete is even sent
    add_function(state_store, "empty", 30)
    assert await housekeeper.sweep() == 0


async def test_passes_run_at_startup_then_every_interval_and_failures_are_retried(
    state_store: StateStore,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="lunard.housekeeper")
    fid_default = add_function(state_store, "default", None)
    fid_long = add_function(state_store, "long", 365)
    send, receive = trio.open_memory_channel[Any](0)
    start = trio.current_time()
    housekeeper = Housekeeper(
        state=state_store,
        sink=send,
        interval=3600,
        clock=lambda: NOW + (trio.current_time() - start),
    )

    async with trio.open_nursery() as nursery:
        await nursery.start(housekeeper.run)

        first = await receive.receive()
        assert isinstance(first, DeleteRecords)
        assert trio.current_time() == start  # at start-up, not after the first interval
        assert first.older_than == {fid_default: NOW - 7 * DAY, fid_long: NOW - 365 * DAY}
        assert first.function_id is None and first.version_id is None
        assert first.reply is not None
        await first.reply.send(4)

        second = await receive.receive()
        assert trio.current_time() == start + 3600
        assert second.older_than == {
            fid_default: NOW + 3600 - 7 * DAY,
            fid_long: NOW + 3600 - 365 * DAY,
        }
        second.reply.close()  # what the sink does when its delete fails

        third = await receive.receive()
        assert trio.current_time() == start + 7200  # the failure did not stop the timer
        await third.reply.send(0)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()

    messages = [r.getMessage() for r in caplog.records]
    assert any("total_deleted=4 functions=2" in m for m in messages)
    assert any(m.startswith("Failed to cleanup old executions") for m in messages)
    assert any("total_deleted=0 functions=2" in m for m in messages)
