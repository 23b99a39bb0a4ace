"""The lake exporter: sealed slices of the records on PostgreSQL → Parquet (scale-out §4.2).

Imported only with `lake_url` (it loads psycopg). See `Exporter` for the actor and
`lunard.records.lake` for the file layout and the readers.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import trio

from lunard.records import lake
from lunard.records.schema import ENUMS, TABLES, Table
from lunard.state import exports
from lunard.state.connection import connect_location
from lunard.state.dialect import Conn
from lunard.state.errors import StateError

log = logging.getLogger(__name__)

# Added to the execution timeout and the sink's flush interval before a slice is sealed:
# the commit of a record, a worker killed at its deadline, and clock skew between nodes.
SEAL_MARGIN_S = 30.0
LEASE_S = 300  # an unfinished claim older than this is taken over by another node
MAX_SLICES_PER_TICK = 240  # per table: catching up after a pause goes in steps
FETCH_ROWS = 50_000
CONNECT_TIMEOUT_S = 10
SWEEP_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class Exported:
    """One slice this node exported: the table, its range, its rows, its file (None if empty)."""

    table: str
    start: int
    end: int
    rows: int
    path: Path | None


def seal_delay(timeout_seconds: float, flush_interval: float) -> float:
    """How long after a slice's end it is sealed (`Exporter` explains why)."""
    return timeout_seconds + flush_interval + SEAL_MARGIN_S


class Exporter:
    """The lake exporter actor: every node runs one; each slice is exported by one node.

    Owns: a connection to the state database (the claims, `lunard.state.exports`), one to
    the records database (read only), and for each pass an in-memory DuckDB that may write
    only under the lake. All of it runs on a worker thread (`trio.to_thread`), one pass at
    a time, never on the loop.

    Every `tick` seconds (a pass, `export_due`), for each records table (executions, logs,
    ai_requests, email_requests), oldest slice first:
    1. take over the claims of dead or stuck nodes whose lease (`LEASE_S`) expired, and
       export those slices;
    2. claim each further slice `[t, t + interval)` (`t` a multiple of `interval`) that is
       *sealed* — its end at least `seal` seconds in the past — and export it if the claim
       went in (`INSERT … ON CONFLICT DO NOTHING`: one node per slice); at most
       `MAX_SLICES_PER_TICK` per table and pass. A table with no claim yet starts at the
       slice of its oldest record (or at the last sealed slice when it has none).
    Export = read the slice's rows from PostgreSQL (`created_at` in the range, a server-side
    cursor in batches) and write them with DuckDB `COPY … TO … (FORMAT parquet)` to the
    slice's fixed file name via a temporary name and an atomic rename
    (`lake.write_slice`); an empty slice writes no file. Then the claim is marked finished
    with its row count.

    Why a sealed slice has all its rows: a record's `created_at` is when its call started
    (logs, AI and email rows: when they happened during the call), and it is committed when
    the call ends, which is at most the execution timeout later (the pool kills a worker at
    its deadline), plus the sink's flush interval, plus the commit. `seal` is those plus
    `SEAL_MARGIN_S` (covering clock skew between nodes too), so no row can arrive in a
    sealed slice later: the PostgreSQL sink writes before it answers and drops (logs) a
    batch it cannot write after a retry, it never writes one late. The price is staleness:
    the lake lags the records by `seal` + one `interval` + one `tick` at most (about 6.5 min
    with the defaults), shown by `X-Lunard-Data-As-Of`.

    Every node must use the same `interval` (`lake_export_interval`, whole seconds): the
    slice boundaries and file names derive from it.

    A failed pass (a database or file error) is logged and retried at the next tick; a
    slice whose export failed stays claimed until its lease expires, then any node takes it.
    Sends nothing; receives nothing; stops when cancelled (a pass under way finishes).
    """

    def __init__(
        self,
        *,
        lake_dir: Path,
        state_url: str,
        records_url: str,
        node: str,
        interval: float,
        seal: float,
        tick: float | None = None,
        clock: Callable[[], float] = time.time,
        memory_mb: int = 256,
        threads: int = 1,
        lease: int = LEASE_S,
    ) -> None:
        self.lake_dir = lake_dir
        self.state_url = state_url
        self.records_url = records_url
        self.node = node
        self.interval = max(1, round(interval))
        self.seal = seal
        self.tick = min(self.interval, 10.0) if tick is None else tick
        self.clock = clock
        self.memory_mb = memory_mb
        self.threads = threads
        self.lease = lease
        self._state: Conn | None = None
        self._records: psycopg.Connection[Any] | None = None
        self._swept_at = 0.0

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Export what is due every `tick` seconds until cancelled."""
        task_status.started()
        try:
            while True:
                try:
                    done = await trio.to_thread.run_sync(self.export_due)
                except (StateError, psycopg.Error, duckdb.Error, OSError) as exc:
                    log.warning("lake export failed (%s); retrying in %gs", exc, self.tick)
                    self._drop_connections()
                else:
                    if done:
                        log.debug("lake: exported %d slices", len(done))
                await trio.sleep(self.tick)
        finally:
            self.close()

    def close(self) -> None:
        """Close the database connections (the next pass opens them again)."""
        self._drop_connections()

    # ------------------------------------------------------------------ one pass (a thread)

    def export_due(self, now: float | None = None) -> list[Exported]:
        """One pass over every table at `now` (default: the clock); what it exported."""
        now = self.clock() if now is None else now
        sealed_end = math.floor((now - self.seal) / self.interval) * self.interval
        done: list[Exported] = []
        writer = lake.open_writer(self.lake_dir, memory_mb=self.memory_mb, threads=self.threads)
        try:
            for table in TABLES:
                done.extend(self._export_table(writer, table, now, sealed_end))
        finally:
            writer.close()
        if now - self._swept_at >= SWEEP_EVERY_S:
            exports.sweep_claims(self._state_conn(), now)
            self._swept_at = now
        return done

    def _export_table(
        self, writer: duckdb.DuckDBPyConnection, table: Table, now: float, sealed_end: int
    ) -> list[Exported]:
        state = self._state_conn()
        lease_until = int(now) + self.lease
        done = []
        for start, end in exports.take_over_expired(state, table.name, self.node, now, lease_until):
            done.append(self._export_slice(writer, table, start, end))
        known = exports.next_start(state, table.name)
        start = self._first_start(table, sealed_end) if known is None else known
        for _ in range(MAX_SLICES_PER_TICK):
            end = start + self.interval
            if end > sealed_end:
                break
            if exports.claim_slice(state, table.name, start, end, self.node, now, lease_until):
                done.append(self._export_slice(writer, table, start, end))
            start = end
        return done

    def _first_start(self, table: Table, sealed_end: int) -> int:
        """The slice of the table's oldest record (it may not be sealed yet), or the last
        sealed slice if the table has none (no row can arrive in a sealed slice later)."""
        row = self._records_conn().execute(f"SELECT min(created_at) FROM {table.name}").fetchone()
        self._records_conn().rollback()
        if row is None or row[0] is None:
            return sealed_end - self.interval
        return lake.utc_seconds(row[0]) // self.interval * self.interval

    def _export_slice(
        self, writer: duckdb.DuckDBPyConnection, table: Table, start: int, end: int
    ) -> Exported:
        conn = self._records_conn()
        schema = lake.arrow_schema(table)
        count = 0
        path: Path | None = None
        with conn.transaction(), conn.cursor(name="lake_slice") as cursor:
            cursor.execute(_select(table), (lake.utc(start), lake.utc(end)))
            first = cursor.fetchmany(FETCH_ROWS)
            if first:
                counted: list[int] = []
                batches = _batches(schema, first, cursor, counted)
                reader = pa.RecordBatchReader.from_batches(schema, batches)
                tag = f"{os.getpid()}-{self.node}".replace("/", "_")
                path = lake.write_slice(writer, self.lake_dir, table, start, end, reader, tag=tag)
                count = sum(counted)
        finished = exports.finish_slice(
            self._state_conn(), table.name, start, self.node, self.clock(), count
        )
        if not finished:
            log.info("lake: %s slice %d was taken over meanwhile (same file)", table.name, start)
        return Exported(table.name, start, end, count, path)

    # ------------------------------------------------------------------ connections

    def _state_conn(self) -> Conn:
        if self._state is None:
            self._state = connect_location(self.state_url)
        return self._state

    def _records_conn(self) -> psycopg.Connection[Any]:
        if self._records is None or self._records.broken:
            self._records = psycopg.connect(self.records_url, connect_timeout=CONNECT_TIMEOUT_S)
            self._records.read_only = True
        return self._records

    def _drop_connections(self) -> None:
        for conn in (self._state, self._records):
            if conn is not None:
                try:
                    conn.close()
                except (StateError, psycopg.Error):
                    log.debug("lake: closing a connection failed", exc_info=True)
        self._state = self._records = None


def _select(table: Table) -> str:
    """The slice's rows from PostgreSQL, every column (ENUMs as text)."""
    columns = ", ".join(
        f"{c.quoted}::text" if c.sql_type in ENUMS else c.quoted for c in table.columns
    )
    return (
        f"SELECT {columns} FROM {table.name} "
        "WHERE created_at >= %s AND created_at < %s ORDER BY created_at"
    )


def _batches(
    schema: pa.Schema, first: list[Any], cursor: Any, counted: list[int]
) -> Iterator[pa.RecordBatch]:
    """Arrow batches of the cursor's rows (`first` already fetched); counts them."""
    rows = first
    while rows:
        counted.append(len(rows))
        columns = list(zip(*rows, strict=True))
        yield pa.record_batch(
            [
                pa.array(values, type=field.type)
                for values, field in zip(columns, schema, strict=True)
            ],
            schema=schema,
        )
        rows = cursor.fetchmany(FETCH_ROWS)
