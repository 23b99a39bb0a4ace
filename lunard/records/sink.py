"""The sink actor: the one owner of the records database (DuckDB), and its client helpers.

Producers (the pool) send `RecordBatch` messages; the sink buffers them and writes them in
batches as Arrow tables (one `INSERT … SELECT` per table per flush, one transaction per
flush). Readers (the http actor, the housekeeper) send `SinkQuery` / `DeleteRecords`, most
simply through `query(inbox, fn)` and `delete(inbox, ...)` below.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import outcome
import pyarrow as pa
import trio

from lunard.errors import DataDirError, StorageError
from lunard.messages import DeleteRecords, RecordBatch, SinkQuery
from lunard.records import journal, store
from lunard.records.instance import SAFE_CONFIG, instance_config
from lunard.transactions import transaction

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
        seq = max(b.journal_seq for b in batches)
        if self._committed is None or seq == 0:
            return
        try:
            self._committed.send_nowait(seq)
        except trio.WouldBlock:
            pass  # the journal is behind on notices; the next one covers this one
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._committed = None

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


def _reply(channel: trio.MemorySendChannel[Any], value: Any) -> None:
    try:
        channel.send_nowait(value)
    except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
        log.debug("records sink: requester left before its answer")


def _row_count(batch: RecordBatch) -> int:
    return 1 + len(batch.logs) + len(batch.ai_requests) + len(batch.email_requests)


# --------------------------------------------------------------------------- client helpers


async def query(inbox: trio.MemorySendChannel[Any], fn: Callable[[Any], T]) -> T:
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
    inbox: trio.MemorySendChannel[Any],
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
        store.migrate(conn)
    except (duckdb.Error, store.SchemaTooNew) as exc:
        conn.close()
        raise DataDirError(f"cannot use records database {path}: {exc}") from exc
    return conn


def replay_journal(conn: duckdb.DuckDBPyConnection, directory: Path) -> int:
    """Write the journal's frames that are not in DuckDB yet; return the executions added.

    Idempotent: a batch whose execution is already stored (its whole batch was committed in
    one transaction) is skipped, so a journal replayed twice adds nothing the second time.
    A segment is deleted once its batches are committed; one that cannot be written is
    renamed `*.failed` and kept for the operator, and start-up goes on.
    """
    added = skipped = 0
    files = journal.segments(directory)
    for path in files:
        unique = {b.execution.id: b for b in journal.read_segment(path)}
        stored = _stored_execution_ids(conn, list(unique))
        fresh = [b for eid, b in unique.items() if eid not in stored]
        try:
            if fresh:
                write_batches(conn, fresh)
        except duckdb.Error:
            failed = path.with_name(path.name + ".failed")
            log.exception("journal: replaying %s failed; kept as %s", path, failed)
            path.rename(failed)
            continue
        added += len(fresh)
        skipped += len(unique) - len(fresh)
        path.unlink()
    if files:
        log.info(
            "journal: replayed %d executions from %d segments (%d were already stored)",
            added,
            len(files),
            skipped,
        )
    return added


def _stored_execution_ids(conn: duckdb.DuckDBPyConnection, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = conn.execute(
        "SELECT id FROM executions WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]
    ).fetchall()
    return {row[0] for row in rows}


def _close(conn: duckdb.DuckDBPyConnection) -> None:
    try:
        conn.close()
    except duckdb.Error:
        log.exception("records sink: closing the database failed")


def write_batches(conn: duckdb.DuckDBPyConnection, batches: list[RecordBatch]) -> int:
    """Insert the batches as Arrow tables in one transaction; return the rows written."""
    tables = _arrow_tables(batches)
    with transaction(conn):
        for name, table in tables.items():
            if table.num_rows == 0:
                continue
            view = f"_incoming_{name}"
            columns = ", ".join(f'"{c}"' for c in table.column_names)
            conn.register(view, table)
            try:
                conn.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {view}")
            finally:
                conn.unregister(view)
    return sum(t.num_rows for t in tables.values())


def _timestamps(seconds: Iterable[float], unit: str = "s") -> pa.Array:
    return pa.array(seconds, pa.timestamp(unit))


def _arrow_tables(batches: list[RecordBatch]) -> dict[str, pa.Table]:
    """Column-wise copies of the batches, one Arrow table per records table."""
    executions = [b.execution for b in batches]
    log_rows = [(b.execution.id, i, entry) for b in batches for i, entry in enumerate(b.logs)]
    ai_rows = [(b.execution.id, i, r) for b in batches for i, r in enumerate(b.ai_requests)]
    email_rows = [(b.execution.id, i, r) for b in batches for i, r in enumerate(b.email_requests)]
    i32 = pa.int32()
    return {
        "executions": pa.table(
            {
                "id": [e.id for e in executions],
                "function_id": [e.function_id for e in executions],
                "function_version_id": [e.function_version_id for e in executions],
                "status": [e.status for e in executions],
                "duration_ms": pa.array([e.duration_ms for e in executions], i32),
                "error_message": pa.array([e.error_message for e in executions], pa.string()),
                "event_json": [e.event_json for e in executions],
                "response_json": pa.array([e.response_json for e in executions], pa.string()),
                "trigger": [e.trigger for e in executions],
                "created_at": _timestamps(e.created_at for e in executions),
            }
        ),
        "logs": pa.table(
            {
                "execution_id": pa.array([r[0] for r in log_rows], pa.string()),
                "seq": pa.array([r[1] for r in log_rows], i32),
                "level": pa.array(
                    # unknown levels read as info (http-api §3.4)
                    [r[2].level if r[2].level in store.LOG_LEVELS else "info" for r in log_rows],
                    pa.string(),
                ),
                "message": pa.array([r[2].message for r in log_rows], pa.string()),
                "created_at": _timestamps(
                    (round(r[2].created_at * 1_000_000) for r in log_rows), "us"
                ),
            }
        ),
        "ai_requests": pa.table(
            {
                "id": pa.array([r.id for _, _, r in ai_rows], pa.string()),
                "execution_id": pa.array([e for e, _, _ in ai_rows], pa.string()),
                "seq": pa.array([i for _, i, _ in ai_rows], i32),
                "provider": pa.array([r.provider for _, _, r in ai_rows], pa.string()),
                "model": pa.array([r.model for _, _, r in ai_rows], pa.string()),
                "endpoint": pa.array([r.endpoint for _, _, r in ai_rows], pa.string()),
                "request_json": pa.array([r.request_json for _, _, r in ai_rows], pa.string()),
                "response_json": pa.array([r.response_json for _, _, r in ai_rows], pa.string()),
                "status": pa.array([r.status for _, _, r in ai_rows], pa.string()),
                "error_message": pa.array([r.error_message for _, _, r in ai_rows], pa.string()),
                "input_tokens": pa.array([r.input_tokens for _, _, r in ai_rows], i32),
                "output_tokens": pa.array([r.output_tokens for _, _, r in ai_rows], i32),
                "duration_ms": pa.array([r.duration_ms for _, _, r in ai_rows], i32),
                "created_at": _timestamps(r.created_at for _, _, r in ai_rows),
            }
        ),
        "email_requests": pa.table(
            {
                "id": pa.array([r.id for _, _, r in email_rows], pa.string()),
                "execution_id": pa.array([e for e, _, _ in email_rows], pa.string()),
                "seq": pa.array([i for _, i, _ in email_rows], i32),
                "from_address": pa.array([r.from_address for _, _, r in email_rows], pa.string()),
                "to_addresses": pa.array(
                    [list(r.to_addresses) for _, _, r in email_rows], pa.list_(pa.string())
                ),
                "subject": pa.array([r.subject for _, _, r in email_rows], pa.string()),
                "has_text": pa.array([r.has_text for _, _, r in email_rows], pa.bool_()),
                "has_html": pa.array([r.has_html for _, _, r in email_rows], pa.bool_()),
                "request_json": pa.array([r.request_json for _, _, r in email_rows], pa.string()),
                "response_json": pa.array([r.response_json for _, _, r in email_rows], pa.string()),
                "status": pa.array([r.status for _, _, r in email_rows], pa.string()),
                "error_message": pa.array([r.error_message for _, _, r in email_rows], pa.string()),
                "email_id": pa.array([r.email_id for _, _, r in email_rows], pa.string()),
                "duration_ms": pa.array([r.duration_ms for _, _, r in email_rows], i32),
                "created_at": _timestamps(r.created_at for _, _, r in email_rows),
            }
        ),
    }


def delete_executions(
    conn: duckdb.DuckDBPyConnection,
    function_id: str | None = None,
    version_id: str | None = None,
    older_than: dict[str, int] | None = None,
) -> int:
    """Delete the selected executions and their logs, AI and email rows in one transaction.

    Exactly one selector: a function, a version, or per-function cutoffs
    (function id -> Unix seconds; executions created strictly before the cutoff go).
    Returns the number of executions deleted.
    """
    if sum(s is not None for s in (function_id, version_id, older_than)) != 1:
        raise ValueError("exactly one of function_id, version_id, older_than is required")
    if older_than == {}:
        return 0
    with transaction(conn):
        if function_id is not None:
            conn.execute(
                "CREATE TEMP TABLE _doomed AS SELECT id FROM executions WHERE function_id = ?",
                [function_id],
            )
        elif version_id is not None:
            conn.execute(
                "CREATE TEMP TABLE _doomed AS "
                "SELECT id FROM executions WHERE function_version_id = ?",
                [version_id],
            )
        else:
            assert older_than is not None
            cutoffs = pa.table(
                {
                    "function_id": pa.array(list(older_than), pa.string()),
                    "cutoff": _timestamps(older_than.values()),
                }
            )
            conn.register("_cutoffs", cutoffs)
            try:
                conn.execute(
                    "CREATE TEMP TABLE _doomed AS SELECT e.id FROM executions e "
                    "JOIN _cutoffs c ON e.function_id = c.function_id "
                    "WHERE e.created_at < c.cutoff"
                )
            finally:
                conn.unregister("_cutoffs")
        for table in ("logs", "ai_requests", "email_requests"):
            conn.execute(f"DELETE FROM {table} WHERE execution_id IN (SELECT id FROM _doomed)")
        row = conn.execute("DELETE FROM executions WHERE id IN (SELECT id FROM _doomed)").fetchone()
        conn.execute("DROP TABLE _doomed")
    return int(row[0]) if row else 0
