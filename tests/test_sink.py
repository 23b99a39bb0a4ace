"""The sink actor on a real DuckDB file: batching, read-your-writes, deletes, shutdown."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest
import trio
import trio.testing

from lunard.errors import DataDirError, StorageError
from lunard.messages import RecordBatch
from lunard.records import store
from lunard.records.sink import Sink, delete, on_cursor, query
from tests.factories import T0, counts, make_batch, make_execution


def ids_in(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    column = "id" if table == "executions" else "execution_id"
    return {r[0] for r in conn.execute(f"SELECT DISTINCT {column} FROM {table}").fetchall()}


async def start(nursery: trio.Nursery, path: Path, **options: Any) -> Sink:
    sink = Sink(path=path, **options)
    await nursery.start(sink.run)
    return sink


# --------------------------------------------------------------------------- writing


async def test_batches_are_written_and_readable(tmp_path: Path, nursery: trio.Nursery) -> None:
    sink = await start(nursery, tmp_path / "records.duckdb")
    batches = [make_batch(logs=3, ai=1, email=2) for _ in range(4)]
    for batch in batches:
        await sink.inbox.send(batch)

    totals = await query(sink.inbox, counts)
    logs, log_total = await query(
        sink.inbox, lambda c: store.list_logs(c, batches[2].execution.id, 20, 0)
    )

    assert totals == {"executions": 4, "logs": 12, "ai_requests": 4, "email_requests": 8}
    assert log_total == 3
    assert [entry["message"] for entry in logs] == ["line 0", "line 1", "line 2"]


async def test_read_your_writes_query_right_after_send(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    # Default thresholds: 5,000 rows or 0.2 s; one batch reaches neither.
    sink = await start(nursery, tmp_path / "records.duckdb")
    execution = make_execution()
    await sink.inbox.send(make_batch(execution, logs=1))

    item = await query(sink.inbox, lambda c: store.get_execution(c, execution.id))

    assert item is not None
    assert item["id"] == execution.id
    assert sink.stats.flushes == {"query": 1}


async def test_flush_on_size_threshold(tmp_path: Path, nursery: trio.Nursery) -> None:
    sink = await start(nursery, tmp_path / "records.duckdb", batch_rows=10, flush_interval=3600)
    for _ in range(3):
        await sink.inbox.send(make_batch(logs=2))  # 3 rows each
    await trio.testing.wait_all_tasks_blocked()
    assert sink.stats.pending_rows == 9
    assert sink.stats.flushes == {}

    await sink.inbox.send(make_batch())  # the 10th row
    totals = await query(sink.inbox, counts)

    # The size flush wrote everything; the query's own flush had nothing left to do.
    assert sink.stats.flushes == {"size": 1}
    assert sink.stats.rows_written == 10
    assert totals["executions"] == 4


async def test_flush_on_time_threshold(
    tmp_path: Path, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    sink = await start(nursery, tmp_path / "records.duckdb", batch_rows=5000, flush_interval=0.2)
    await sink.inbox.send(make_batch(logs=1))

    await trio.sleep(0.1)
    assert sink.stats.pending_rows == 2
    assert sink.stats.flushes == {}

    await trio.sleep(1)
    totals = await query(sink.inbox, counts)

    assert sink.stats.flushes == {"time": 1}
    assert totals["executions"] == 1
    assert totals["logs"] == 1


async def test_query_exception_is_reraised_and_sink_keeps_serving(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    sink = await start(nursery, tmp_path / "records.duckdb")

    def broken(conn: duckdb.DuckDBPyConnection) -> None:
        raise LookupError("not here")

    with pytest.raises(LookupError, match="not here"):
        await query(sink.inbox, broken)
    with pytest.raises(duckdb.CatalogException):
        await query(sink.inbox, lambda c: c.execute("SELECT * FROM no_such_table").fetchall())
    await sink.inbox.send(make_batch())
    assert (await query(sink.inbox, counts))["executions"] == 1


async def test_full_inbox_is_backpressure(tmp_path: Path) -> None:
    sink = Sink(path=tmp_path / "records.duckdb", inbox_size=2)  # not running: nobody reads
    sink.inbox.send_nowait(make_batch())
    sink.inbox.send_nowait(make_batch())
    with pytest.raises(trio.WouldBlock):
        sink.inbox.send_nowait(make_batch())


# --------------------------------------------------------------------------- deleting


def _dataset() -> dict[str, list[RecordBatch]]:
    """Three functions, two versions of fn1, spread over time, each with logs/AI/email."""
    return {
        "fn1_v1_old": [
            make_batch(make_execution(version_id="ver_fn1_v1", created_at=T0 + i), logs=2, ai=1)
            for i in range(3)
        ],
        "fn1_v2_new": [
            make_batch(
                make_execution(version_id="ver_fn1_v2", created_at=T0 + 1000 + i),
                logs=1,
                email=1,
            )
            for i in range(2)
        ],
        "fn2_old": [
            make_batch(make_execution(function_id="fn2", created_at=T0 + i), logs=1, ai=1)
            for i in range(2)
        ],
        "fn2_new": [make_batch(make_execution(function_id="fn2", created_at=T0 + 5000), email=1)],
        "fn3": [
            make_batch(make_execution(function_id="fn3", created_at=T0), logs=1, ai=1, email=1)
        ],
    }


async def _load(sink: Sink, data: dict[str, list[RecordBatch]]) -> None:
    for group in data.values():
        for batch in group:
            await sink.inbox.send(batch)


def all_ids(conn: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """The execution ids present in each records table."""
    return {t: ids_in(conn, t) for t in ("executions", "logs", "ai_requests", "email_requests")}


async def _assert_only_left(sink: Sink, data: dict[str, list[RecordBatch]], *keep: str) -> None:
    kept = [b for name in keep for b in data[name]]
    left = await query(sink.inbox, all_ids)
    assert left["executions"] == {b.execution.id for b in kept}
    for table in ("logs", "ai_requests", "email_requests"):
        assert left[table] == {b.execution.id for b in kept if getattr(b, table)}, table


async def test_delete_by_function(tmp_path: Path, nursery: trio.Nursery) -> None:
    sink = await start(nursery, tmp_path / "records.duckdb")
    data = _dataset()
    await _load(sink, data)

    deleted = await delete(sink.inbox, function_id="fn1")

    assert deleted == 5
    await _assert_only_left(sink, data, "fn2_old", "fn2_new", "fn3")


async def test_delete_by_version(tmp_path: Path, nursery: trio.Nursery) -> None:
    sink = await start(nursery, tmp_path / "records.duckdb")
    data = _dataset()
    await _load(sink, data)

    deleted = await delete(sink.inbox, version_id="ver_fn1_v1")

    assert deleted == 3
    await _assert_only_left(sink, data, "fn1_v2_new", "fn2_old", "fn2_new", "fn3")


async def test_delete_by_per_function_cutoffs(tmp_path: Path, nursery: trio.Nursery) -> None:
    sink = await start(nursery, tmp_path / "records.duckdb")
    data = _dataset()
    await _load(sink, data)

    # fn1 keeps what is at or after T0+1000, fn2 what is at or after T0+10; fn3 has no cutoff.
    deleted = await delete(sink.inbox, older_than={"fn1": T0 + 1000, "fn2": T0 + 10})

    assert deleted == 5
    await _assert_only_left(sink, data, "fn1_v2_new", "fn2_new", "fn3")


async def test_delete_sees_records_still_buffered(tmp_path: Path, nursery: trio.Nursery) -> None:
    sink = await start(nursery, tmp_path / "records.duckdb", flush_interval=3600)
    await sink.inbox.send(make_batch(make_execution(function_id="fnx"), logs=2))

    assert await delete(sink.inbox, function_id="fnx") == 1
    assert await query(sink.inbox, counts) == {
        "executions": 0,
        "logs": 0,
        "ai_requests": 0,
        "email_requests": 0,
    }


async def test_delete_needs_exactly_one_selector(tmp_path: Path, nursery: trio.Nursery) -> None:
    sink = await start(nursery, tmp_path / "records.duckdb")
    with pytest.raises(ValueError):
        await delete(sink.inbox)
    with pytest.raises(ValueError):
        await delete(sink.inbox, function_id="a", version_id="b")


# --------------------------------------------------------------------------- lifecycle


async def test_cancel_with_unflushed_records_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "records.duckdb"
    batches = [make_batch(logs=2, ai=1, email=1) for _ in range(50)]
    async with trio.open_nursery() as nursery:
        sink = await start(nursery, path, batch_rows=100_000, flush_interval=3600)
        for batch in batches:
            sink.inbox.send_nowait(batch)  # some buffered, the rest still in the inbox
        nursery.cancel_scope.cancel()
    assert sink.stats.flushes == {"shutdown": 1}

    async with trio.open_nursery() as nursery:
        reopened = await start(nursery, path)
        totals = await query(reopened.inbox, counts)
        nursery.cancel_scope.cancel()
    assert totals == {"executions": 50, "logs": 100, "ai_requests": 50, "email_requests": 50}


async def test_closing_the_inbox_flushes_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "records.duckdb"
    sink = Sink(path=path, flush_interval=3600)
    async with trio.open_nursery() as nursery:
        await nursery.start(sink.run)
        await sink.inbox.send(make_batch(logs=1))
        await sink.inbox.aclose()  # the last producer is gone: run returns by itself

    conn = duckdb.connect(str(path))
    try:
        assert counts(conn) == {"executions": 1, "logs": 1, "ai_requests": 0, "email_requests": 0}
    finally:
        conn.close()


async def test_requests_after_shutdown_raise_storage_error(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        sink = await start(nursery, tmp_path / "records.duckdb")
        nursery.cancel_scope.cancel()
    with pytest.raises(StorageError):
        await query(sink.inbox, counts)
    with pytest.raises(trio.BrokenResourceError):
        await sink.inbox.send(make_batch())


async def test_corrupt_file_is_a_data_dir_error_and_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "records.duckdb"
    garbage = b"this is not a database\x00" * 500
    path.write_bytes(garbage)

    with pytest.raises(DataDirError, match=r"records\.duckdb"):
        await Sink(path=path).run()  # fails before it reports ready

    assert path.read_bytes() == garbage  # never silently recreated


# --------------------------------------------------------------------------- cursors


def _count(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute("SELECT count(*) FROM executions").fetchone()
    assert row is not None
    return int(row[0])


async def test_a_cursor_reads_its_snapshot_while_the_sink_goes_on_writing(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    # What on_cursor's docstring promises: the cursor's work runs on its own thread beside
    # the sink (which answers and writes meanwhile), in its own transaction.
    sink = await start(nursery, tmp_path / "records.duckdb")
    await sink.inbox.send(make_batch())
    inside, release = threading.Event(), threading.Event()

    def reader(cursor: duckdb.DuckDBPyConnection) -> tuple[int, int]:
        cursor.execute("BEGIN TRANSACTION READ ONLY")
        before = _count(cursor)
        inside.set()
        assert release.wait(30), "the test never let the reader go on"
        after = _count(cursor)
        cursor.execute("ROLLBACK")
        return before, after

    async def read(task_status: trio.TaskStatus[trio.MemoryReceiveChannel[Any]]) -> None:
        send, receive = trio.open_memory_channel[Any](1)
        task_status.started(receive)
        await send.send(await on_cursor(sink.inbox, reader))

    answer = await nursery.start(read)
    assert await trio.to_thread.run_sync(inside.wait, 30)
    # The reader is mid-transaction: the sink still writes and answers.
    await sink.inbox.send(make_batch())
    written = await query(sink.inbox, _count)
    release.set()

    assert written == 2
    assert await answer.receive() == (1, 1)  # the reader's snapshot did not move


async def test_on_cursor_closes_the_cursor(tmp_path: Path, nursery: trio.Nursery) -> None:
    sink = await start(nursery, tmp_path / "records.duckdb")
    cursor = await on_cursor(sink.inbox, lambda c: c)
    with pytest.raises(duckdb.ConnectionException):
        cursor.execute("SELECT 1")
    assert await query(sink.inbox, _count) == 0  # the sink's own connection is untouched
