"""The sink actor: the one owner of the records database (DuckDB), and its client helpers.

Producers (the pool) send `RecordBatch` messages; the sink buffers them and writes them in
batches as Arrow tables (one `INSERT … SELECT` per table per flush, one transaction per
flush). Readers (the http actor, the housekeeper) send `SinkQuery` / `DeleteRecords`, most
simply through `query(inbox, fn)` and `delete(inbox, ...)` below. What runs on the DuckDB
thread is in `lunard.records.writes` (and `schema.migrate` when the file is opened).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import outcome
import trio

from lunard.errors import DataDirError, LunardError, StorageError
from lunard.messages import DeleteRecords, RecordBatch, SinkQuery
from lunard.records import schema
from lunard.records.instance import SAFE_CONFIG, instance_config
from lunard.records.writes import delete_executions, replay_journal, write_batches

log = logging.getLogger(__name__)
T = TypeVar("T")

RECORDS_FILE = "records.duckdb"
SinkMessage = RecordBatch | SinkQuery | DeleteRecords


@dataclass
class SinkStats:
    """Counters the sink keeps about itself (tests, health and metrics read them).

    `flushes` counts non-empty flushes by what caused them: `size`, `time`, `query`,
    `delete`, `shutdown`.
    """

    pending_rows: int = 0
    rows_written: int = 0
    rows_dropped: int = 0
    flushes: Counter[str] = field(default_factory=Counter)


class Sink:
    """The records actor.

    Owns: the only DuckDB connection to `path` (normally `<data_dir>/records.duckdb`),
    opened and migrated when `run` starts, and the buffer of records not yet written. All
    DuckDB work runs on one thread at a time (a `CapacityLimiter(1)`), never on the loop.
    The one exception is stated at `on_cursor`: a cursor handed out for reads (reports,
    analytics SQL, metrics), used on a thread of its own.

    Receives on `inbox` (bounded; a full inbox makes producers wait):
    - `RecordBatch`: buffered; written when `batch_rows` rows are buffered or
      `flush_interval` seconds after the first buffered row, whichever comes first.
    - `SinkQuery`: flushes first (read-your-writes), then runs `run(conn)` on the DuckDB
      thread and sends an `outcome.Outcome` (the value, or the exception it raised).
    - `DeleteRecords`: flushes, deletes the selected executions with their logs, AI and
      email rows in one transaction, and sends the number of executions deleted (the reply
      channel is closed without a value if the delete failed).

    Sends: only replies, with `send_nowait` so a requester that went away never blocks it.

    On cancellation or when every producer has closed its end, it drains what is already in
    the inbox, flushes (shielded, bounded by `shutdown_timeout`) and closes the database.
    """

    def __init__(
        self,
        *,
        path: Path,
        inbox_size: int = 10_000,
        batch_rows: int = 5_000,
        flush_interval: float = 0.2,
        shutdown_timeout: float = 10.0,
        memory_mb: int = 256,
        threads: int = 1,
        journal_dir: Path | None = None,
        committed: trio.MemorySendChannel[int] | None = None,
    ) -> None:
        self.path = path
        self.memory_mb = memory_mb
        self.threads = threads
        self.journal_dir = journal_dir
        self._committed = committed
        self.batch_rows = batch_rows
        self.flush_interval = flush_interval
        self.shutdown_timeout = shutdown_timeout
        self.inbox: trio.MemorySendChannel[SinkMessage]
        self.inbox, self._receive = trio.open_memory_channel[SinkMessage](inbox_size)
        self.stats = SinkStats()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._limiter = trio.CapacityLimiter(1)
        self._buffer: list[RecordBatch] = []
        self._first_buffered_at = math.inf
        self._failed = False

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Open the database, replay the journal into it, report ready, then serve the inbox
        until cancelled or closed."""
        self._conn = await self._on_thread(
            _open, self.path, instance_config(memory_mb=self.memory_mb, threads=self.threads)
        )
        try:
            if self.journal_dir is not None:
                await self._on_thread(replay_journal, self._conn, self.journal_dir)
            task_status.started()
            await self._serve()
        finally:
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + self.shutdown_timeout
                await self._shutdown()
            if scope.cancelled_caught:
                log.error(
                    "records sink: shutdown took longer than %ss; %d rows not written",
                    self.shutdown_timeout,
                    self.stats.pending_rows,
                )

    # ----------------------------------------------------------------------- the loop

    async def _serve(self) -> None:
        while True:
            deadline = self._first_buffered_at + self.flush_interval
            message: SinkMessage | None = None
            with trio.move_on_at(deadline):
                try:
                    message = await self._receive.receive()
                except trio.EndOfChannel:
                    return
            if message is None:
                await self._flush("time")
                continue
            await self._handle(message)
            # Take what else is queued without a checkpoint per message; bounded by the
            # inbox size, and size flushes still happen inside.
            while True:
                try:
                    message = self._receive.receive_nowait()
                except trio.WouldBlock:
                    break
                except trio.EndOfChannel:
                    return
                await self._handle(message)

    async def _handle(self, message: SinkMessage) -> None:
        if isinstance(message, RecordBatch):
            self._buffer_batch(message)
            if self.stats.pending_rows >= self.batch_rows:
                await self._flush("size")
        elif isinstance(message, SinkQuery):
            await self._answer_query(message)
        elif isinstance(message, DeleteRecords):
            await self._delete(message)
        else:
            log.error("records sink: ignoring unexpected message %r", type(message).__name__)

    def _buffer_batch(self, batch: RecordBatch) -> None:
        if not self._buffer:
            self._first_buffered_at = trio.current_time()
        self._buffer.append(batch)
        self.stats.pending_rows += _row_count(batch)

    async def _flush(self, reason: str) -> None:
        if not self._buffer:
            return
        batches, rows = self._buffer, self.stats.pending_rows
        self._buffer, self.stats.pending_rows = [], 0
        self._first_buffered_at = math.inf
        if self._failed:
            self.stats.rows_dropped += rows
            log.error("records sink: database failed earlier; %d rows dropped", rows)
            return
        try:
            await self._on_thread(write_batches, self._require_conn(), batches)
        except duckdb.FatalException as exc:
            # The database invalidated itself (disk full, I/O error): nothing more can be
            # written through this connection, so the actor stops and the supervisor decides.
            self._failed = True
            self.stats.rows_dropped += rows
            raise StorageError(f"records database failed, {rows} rows lost: {exc}") from exc
        except duckdb.Error:
            # A bad batch must not stop the records of every later call.
            self.stats.rows_dropped += rows
            log.exception("records sink: could not write %d rows; they are dropped", rows)
            return
        self.stats.rows_written += rows
        self.stats.flushes[reason] += 1
        self._report_committed(batches)

    def _report_committed(self, batches: list[RecordBatch]) -> None:
        """Tell the journal that every frame up to the newest of `batches` is in DuckDB."""
        self._committed = report_committed(self._committed, batches)

    async def _answer_query(self, message: SinkQuery) -> None:
        await self._flush("query")
        result = await self._on_thread(outcome.capture, message.run, self._require_conn())
        _reply(message.reply, result)

    async def _delete(self, message: DeleteRecords) -> None:
        await self._flush("delete")
        try:
            deleted = await self._on_thread(
                delete_executions,
                self._require_conn(),
                message.function_id,
                message.version_id,
                message.older_than,
            )
        except (duckdb.Error, ValueError):
            log.exception("records sink: delete failed for %r", message)
            if message.reply is not None:
                message.reply.close()
            return
        if message.reply is not None:
            _reply(message.reply, deleted)

    async def _shutdown(self) -> None:
        """Answer what is already queued, write everything, close (called shielded)."""
        try:
            while True:
                try:
                    message = self._receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
                await self._handle(message)
            # No checkpoint between the last empty receive and this close, so nothing
            # accepted is discarded; producers now get BrokenResourceError instead of waiting.
            self._receive.close()
            await self._flush("shutdown")
        finally:
            self._receive.close()
            conn, self._conn = self._conn, None
            if conn is not None:
                await self._on_thread(_close, conn)

    # ----------------------------------------------------------------------- helpers

    def _require_conn(self) -> duckdb.DuckDBPyConnection:
        if self._conn is None:
            raise StorageError("the records sink is not running")
        return self._conn

    async def _on_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)


def report_committed(
    committed: trio.MemorySendChannel[int] | None, batches: list[RecordBatch]
) -> trio.MemorySendChannel[int] | None:
    """Tell the journal (on `committed`) that every frame up to the newest of `batches` is
    written, so it may drop them; return the channel, or None once the journal is gone.
    Both sinks use it."""
    seq = max(b.journal_seq for b in batches)
    if committed is None or seq == 0:
        return committed
    try:
        committed.send_nowait(seq)
    except trio.WouldBlock:
        pass  # the journal is behind on notices; the next one covers this one
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return None
    return committed


def _reply(channel: trio.MemorySendChannel[Any], value: Any) -> None:
    try:
        channel.send_nowait(value)
    except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
        log.debug("records sink: requester left before its answer")


def _row_count(batch: RecordBatch) -> int:
    return 1 + len(batch.logs) + len(batch.ai_requests) + len(batch.email_requests)


# --------------------------------------------------------------------------- client helpers


async def query(
    inbox: trio.MemorySendChannel[SinkMessage], fn: Callable[[duckdb.DuckDBPyConnection], T]
) -> T:
    """Run `fn(conn)` on the sink's connection after a flush and return its result.

    Exceptions raised by `fn` are re-raised here. Raises `StorageError` if the sink stops
    before answering.
    """
    send, receive = trio.open_memory_channel[Any](1)
    with send, receive:
        try:
            await inbox.send(SinkQuery(run=fn, reply=send))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise StorageError("the records sink is not running") from exc
        try:
            result: outcome.Outcome[T] = await receive.receive()
        except trio.EndOfChannel as exc:  # pragma: no cover - the sink always answers
            raise StorageError("the records sink stopped before answering") from exc
    return result.unwrap()


async def delete(
    inbox: trio.MemorySendChannel[SinkMessage],
    *,
    function_id: str | None = None,
    version_id: str | None = None,
    older_than: dict[str, int] | None = None,
) -> int:
    """Delete executions of a function, of a version, or older than per-function cutoffs
    (function id -> Unix seconds), with their logs, AI and email rows; return how many
    executions went. Exactly one selector must be given.
    """
    if sum(s is not None for s in (function_id, version_id, older_than)) != 1:
        raise ValueError("delete needs exactly one of function_id, version_id, older_than")
    send, receive = trio.open_memory_channel[int](1)
    message = DeleteRecords(
        function_id=function_id, version_id=version_id, older_than=older_than, reply=send
    )
    with send, receive:
        try:
            await inbox.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise StorageError("the records sink is not running") from exc
        try:
            return await receive.receive()
        except trio.EndOfChannel as exc:
            raise StorageError("deleting execution records failed; see the daemon log") from exc


async def on_cursor(
    inbox: trio.MemorySendChannel[SinkMessage],
    fn: Callable[[duckdb.DuckDBPyConnection], T],
) -> T:
    """Run `fn(cursor)` on a fresh cursor of the records database, on a thread of its own.

    The sink hands out the cursor after flushing (read-your-writes); the work then runs
    beside the sink's writes instead of blocking them. The cursor is always closed.

    This is the one place where records work runs outside the sink actor, on purpose (a
    report or a sandboxed query can take seconds, and the sink's writes must not wait for
    it). It is safe because a cursor is not the sink's connection: `conn.cursor()` opens a
    second DuckDB connection to the same database instance, with its own transaction
    context, and DuckDB serves several connections on different threads at once (MVCC: the
    reader sees a snapshot, the sink's inserts and deletes commit beside it). Exactly one
    thread uses the cursor: `fn`'s (created on the sink's thread, used on this one, closed
    here after `fn` returned: `trio.to_thread.run_sync` does not abandon its thread). An
    `interrupt()` of the cursor (the SQL runner's deadline) stops only the cursor's
    statement. `fn` only reads (reports, metrics, and `sql_runner.run_query` inside a READ
    ONLY transaction), so the sink stays the only writer. What it shares with the sink is
    the instance: its memory limit and threads (`lunard.records.instance`). If the sink
    closes its connection while `fn` runs (the daemon stopping), DuckDB closes the cursor
    with it: a statement already running finishes, the next raises
    `duckdb.ConnectionException`.
    """
    cursor: duckdb.DuckDBPyConnection = await query(inbox, _duckdb_cursor)
    try:
        return await trio.to_thread.run_sync(fn, cursor)
    finally:
        cursor.close()


class NeedsLake(LunardError):
    """Analytics asked of records kept on PostgreSQL (`records_url`) without a lake: they
    run on the lake's Parquet files (`lake_url`, `lunard.records.lake`) only (503)."""

    status = 503


def _duckdb_cursor(conn: Any) -> duckdb.DuckDBPyConnection:
    """A cursor of the sink's DuckDB connection; `NeedsLake` when the sink is the
    PostgreSQL one (`lunard.records.pg_sink`), whose connection is not DuckDB."""
    if not isinstance(conn, duckdb.DuckDBPyConnection):
        raise NeedsLake(
            "analytics over execution records on PostgreSQL (records_url) needs lake_url: "
            "set it to a directory every node shares (see docs/scale-out.md)"
        )
    return conn.cursor()


# --------------------------------------------------------------------------- DuckDB side


def _open(path: Path, config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """Open and migrate the records file; a file we cannot use is a DataDirError."""
    config = SAFE_CONFIG if config is None else config
    try:
        conn = duckdb.connect(str(path), config=config)
    except duckdb.Error as exc:
        raise DataDirError(
            f"cannot open records database {path} ({exc}); if the file is corrupt, move it "
            "away and start again (lunard never recreates it on its own)"
        ) from exc
    try:
        schema.migrate(conn)
    except (duckdb.Error, schema.SchemaTooNew) as exc:
        conn.close()
        raise DataDirError(f"cannot use records database {path}: {exc}") from exc
    return conn


def _close(conn: duckdb.DuckDBPyConnection) -> None:
    try:
        conn.close()
    except duckdb.Error:
        log.exception("records sink: closing the database failed")
