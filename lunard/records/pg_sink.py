"""The records sink on PostgreSQL (`records_url`): group commits with `COPY`, reads beside.

The twin of `lunard.records.sink.Sink` for a cluster: the same inbox messages (and the same
client helpers `sink.query` / `sink.delete` work on its inbox), but the rows go to the
day-partitioned tables of `lunard.records.pg_schema`, every node writes to the same
database, and a call can wait for its record's commit (`RecordWrite`), so a record written
through node A is listed by node B right after the call ("committed" consistency, scale-out
design §4.2). Imported only when `records_url` is set: an embedded node never loads psycopg.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import outcome
import psycopg
import trio
from psycopg_pool import ConnectionPool

from lunard.config import redacted_url
from lunard.errors import DataDirError, StorageError
from lunard.messages import DeleteRecords, RecordBatch, RecordWrite, SinkQuery, Written
from lunard.records import pg_schema, pg_writes
from lunard.records.sink import SinkStats, _reply, _row_count, report_committed
from lunard.transactions import SchemaTooNew

log = logging.getLogger(__name__)
T = TypeVar("T")

PgSinkMessage = RecordBatch | RecordWrite | SinkQuery | DeleteRecords
CONNECT_TIMEOUT_S = 10
POOL_TIMEOUT_S = 30.0
_DAY = dt.timedelta(days=1)


class PgSink:
    """The records actor on PostgreSQL.

    Owns: a psycopg pool to `url` (one writer connection plus `read_connections` for reads,
    all autocommit), opened and migrated (under the advisory lock) when `run` starts; the
    buffer of records not yet committed and the calls waiting for them; the set of day
    partitions it knows exist. Writes run on one thread at a time (the writer's limiter),
    reads on up to `read_connections` threads beside them, never on the loop.

    Receives on `inbox` (bounded; a full inbox makes producers wait):
    - `RecordWrite` (the pool, in "committed" consistency): buffered; its `written` event is
      set once the transaction holding its record has committed, or once writing it failed
      (logged; the call is answered either way, as with the DuckDB sink's journal).
    - `RecordBatch` (a journal in front, "async" consistency): buffered; the committed
      journal sequence numbers are sent on `committed`.
    - Both are written with `COPY` in one transaction per flush (group commit), when
      `batch_rows` rows are buffered or `flush_interval` seconds after the first buffered
      row. Before a write, the day partitions its rows need (and today's and tomorrow's)
      are made if missing (`pg_schema.ensure_partitions`).
    - `SinkQuery`: flushes first (read-your-writes on this node; other nodes' records are
      committed already), then runs `run(conn)` with a read connection on a thread of its
      own, beside the writes, and sends an `outcome.Outcome`.
    - `DeleteRecords`: flushes, then deletes per function or version, or for retention
      (`older_than`) drops whole day partitions older than the longest retention and deletes
      per function the rest (`pg_writes.retention`); sends the number of executions removed
      (the reply channel is closed without a value if it failed).

    Sends: replies with `send_nowait`; committed journal sequence numbers on `committed`.

    On cancellation or when every producer has closed its end, it takes what is already in
    the inbox, commits it (shielded, bounded by `shutdown_timeout`) and closes the pool.
    """

    def __init__(
        self,
        *,
        url: str,
        inbox_size: int = 10_000,
        batch_rows: int = 5_000,
        flush_interval: float = 0.0005,
        shutdown_timeout: float = 10.0,
        read_connections: int = 4,
        journal_dir: Path | None = None,
        committed: trio.MemorySendChannel[int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.batch_rows = batch_rows
        self.flush_interval = flush_interval
        self.shutdown_timeout = shutdown_timeout
        self.read_connections = read_connections
        self.journal_dir = journal_dir
        self._committed = committed
        self._clock = clock
        self.inbox: trio.MemorySendChannel[PgSinkMessage]
        self.inbox, self._receive = trio.open_memory_channel[PgSinkMessage](inbox_size)
        self.stats = SinkStats()
        self.commit_seconds: list[float] = []  # per flush, for measurements (last 10,000)
        self._pool: ConnectionPool[Any] | None = None
        self._writer = trio.CapacityLimiter(1)
        self._readers = trio.CapacityLimiter(read_connections)
        self._buffer: list[RecordBatch] = []
        self._waiting: list[Written] = []
        self._first_buffered_at = math.inf
        self._days: set[dt.date] = set()

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, migrate, make today's and tomorrow's partitions, replay a journal if one
        is in front, report ready, then serve the inbox until cancelled or closed."""
        self._pool = await trio.to_thread.run_sync(_open, self.url, self.read_connections + 1)
        try:
            await self._on_writer(self._ensure_days, set())
            if self.journal_dir is not None:
                await self._replay(self.journal_dir)
            async with trio.open_nursery() as readers:
                task_status.started()
                await self._serve(readers)
                readers.cancel_scope.cancel()
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

    async def _serve(self, readers: trio.Nursery) -> None:
        while True:
            deadline = self._first_buffered_at + self.flush_interval
            message: PgSinkMessage | None = None
            with trio.move_on_at(deadline):
                try:
                    message = await self._receive.receive()
                except trio.EndOfChannel:
                    return
            if message is None:
                await self._flush("time")
                continue
            await self._handle(message, readers)
            while True:  # what else is queued, without a checkpoint per message
                try:
                    message = self._receive.receive_nowait()
                except trio.WouldBlock:
                    break
                except trio.EndOfChannel:
                    return
                await self._handle(message, readers)

    async def _handle(self, message: PgSinkMessage, readers: trio.Nursery | None) -> None:
        if isinstance(message, RecordWrite):
            self._buffer_batch(message.batch)
            self._waiting.append(message.written)
        elif isinstance(message, RecordBatch):
            self._buffer_batch(message)
        elif isinstance(message, SinkQuery):
            await self._flush("query")
            if readers is None:
                await self._answer(message)
            else:
                readers.start_soon(self._answer, message)
            return
        elif isinstance(message, DeleteRecords):
            await self._delete(message)
            return
        else:
            log.error("records sink: ignoring unexpected message %r", type(message).__name__)
            return
        if self.stats.pending_rows >= self.batch_rows:
            await self._flush("size")

    def _buffer_batch(self, batch: RecordBatch) -> None:
        if not self._buffer:
            self._first_buffered_at = trio.current_time()
        self._buffer.append(batch)
        self.stats.pending_rows += _row_count(batch)

    async def _flush(self, reason: str) -> None:
        if not self._buffer:
            return
        batches, waiting, rows = self._buffer, self._waiting, self.stats.pending_rows
        self._buffer, self._waiting, self.stats.pending_rows = [], [], 0
        self._first_buffered_at = math.inf
        try:
            started = time.perf_counter()
            await self._on_writer(self._write, batches)
        except (psycopg.Error, StorageError):
            self.stats.rows_dropped += rows
            log.exception("records sink: could not write %d rows; they are dropped", rows)
        else:
            self.commit_seconds.append(time.perf_counter() - started)
            del self.commit_seconds[:-10_000]
            self.stats.rows_written += rows
            self.stats.flushes[reason] += 1
            self._report_committed(batches)
        finally:
            for event in waiting:
                event.set()

    def _report_committed(self, batches: list[RecordBatch]) -> None:
        self._committed = report_committed(self._committed, batches)

    async def _answer(self, message: SinkQuery) -> None:
        result = await trio.to_thread.run_sync(self._read, message.run, limiter=self._readers)
        _reply(message.reply, result)

    async def _delete(self, message: DeleteRecords) -> None:
        await self._flush("delete")
        try:
            deleted = await self._on_writer(self._remove, message)
        except (psycopg.Error, ValueError, StorageError):
            log.exception("records sink: delete failed for %r", message)
            if message.reply is not None:
                message.reply.close()
            return
        if message.reply is not None:
            _reply(message.reply, deleted)

    async def _replay(self, directory: Path) -> None:
        fresh = await self._on_writer(self._with_conn, pg_writes.replay_segments, directory)
        if fresh:
            await self._on_writer(self._write, fresh)
        await trio.to_thread.run_sync(pg_writes.journal_done, directory, len(fresh))

    async def _shutdown(self) -> None:
        """Answer what is already queued, write everything, close (called shielded)."""
        try:
            while True:
                try:
                    message = self._receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
                await self._handle(message, None)
            self._receive.close()
            await self._flush("shutdown")
        finally:
            self._receive.close()
            for event in self._waiting:
                event.set()
            pool, self._pool = self._pool, None
            if pool is not None:
                await trio.to_thread.run_sync(pool.close)

    # ----------------------------------------------------------------------- on threads

    async def _on_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self._writer)

    def _require_pool(self) -> ConnectionPool[Any]:
        if self._pool is None:
            raise StorageError("the records sink is not running")
        return self._pool

    def _with_conn(self, fn: Callable[..., T], *args: Any) -> T:
        with self._require_pool().connection() as conn:
            return fn(conn, *args)

    def _read(self, run: Callable[[Any], Any]) -> outcome.Outcome[Any]:
        try:
            with self._require_pool().connection() as conn:
                return outcome.capture(run, conn)
        except (psycopg.Error, StorageError) as exc:
            return outcome.Error(StorageError(f"reading execution records failed: {exc}"))

    def _write(self, batches: list[RecordBatch]) -> int:
        """One group commit (writer thread): partitions first, then `COPY` in one
        transaction. A broken connection or a partition dropped meanwhile is retried once."""
        columns = pg_writes.prepare(batches)
        days = pg_writes.days_needed(columns)
        try:
            with self._require_pool().connection() as conn:
                self._ensure_days_on(conn, days)
                return pg_writes.copy_rows(conn, columns)
        except (psycopg.OperationalError, psycopg.errors.CheckViolation) as exc:
            log.warning("records sink: writing failed (%s); retrying once", exc)
            self._days.clear()
            with self._require_pool().connection() as conn:
                self._ensure_days_on(conn, days)
                return pg_writes.copy_rows(conn, columns)

    def _ensure_days(self, days: set[dt.date]) -> None:
        with self._require_pool().connection() as conn:
            self._ensure_days_on(conn, days)

    def _ensure_days_on(self, conn: Any, days: set[dt.date]) -> None:
        """Make the partitions of `days`, today and tomorrow (UTC) unless known to exist."""
        today = dt.datetime.fromtimestamp(self._clock(), dt.UTC).date()
        wanted = (days | {today, today + _DAY}) - self._days
        if wanted:
            made = pg_schema.ensure_partitions(conn, wanted)
            if made:
                log.info("records: made %d day partitions", made)
            self._days |= wanted

    def _remove(self, message: DeleteRecords) -> int:
        with self._require_pool().connection() as conn:
            if message.older_than is not None:
                deleted = pg_writes.retention(conn, message.older_than)
                self._days.clear()  # partitions may have gone
                return deleted
            return pg_writes.delete_executions(conn, message.function_id, message.version_id)


def _open(url: str, size: int) -> ConnectionPool[Any]:
    """Migrate the records database and open the pool; DataDirError when it cannot be used."""
    where = redacted_url(url)
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            pg_schema.migrate(conn)
        pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=1,
            max_size=size,
            timeout=POOL_TIMEOUT_S,
            kwargs={"connect_timeout": CONNECT_TIMEOUT_S, "autocommit": True},
            open=False,
        )
        pool.open(wait=True, timeout=POOL_TIMEOUT_S)
    except (psycopg.Error, SchemaTooNew) as exc:
        raise DataDirError(f"cannot use records database {where}: {exc}") from exc
    log.info("records database: PostgreSQL %s (pool of %d)", where, size)
    return pool
