"""The records half of `lunard migrate-state`: a stopped node's `records.duckdb` (and any
journal segments it left) copied into the PostgreSQL records tables (`records_url`).

- The DuckDB file is opened read-only and never changed; its schema must be this lunard's
  (otherwise: start and stop the node once, which migrates it).
- Journal segments left in `DATA_DIR/journal/` (a node stopped by `kill -9` with the sink
  behind) are not replayed into DuckDB: their batches go straight to PostgreSQL through the
  PostgreSQL sink's replay path (`pg_writes.replay_segments`, `prepare`, `copy_rows`),
  skipping executions already copied from DuckDB, exactly as a restart would have added them
  to DuckDB. The segments are left where they are.
- The schema is made by `pg_schema.migrate` (its own transaction: an empty schema is
  harmless); everything else runs in the caller's transaction: the check that the target
  holds no records (or, with `force`, `TRUNCATE` of the four tables), the day partitions
  the rows need, one `COPY` per table fed in chunks of `FETCH_ROWS`, then the check: per
  table, the row count and an order-independent digest of every row read back from
  PostgreSQL against the rows sent. Any difference raises and the caller rolls back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from lunard.records import pg_schema, pg_writes, schema
from lunard.records.instance import SAFE_CONFIG
from lunard.records.journal import JOURNAL_DIR
from lunard.records.sink import RECORDS_FILE

FETCH_ROWS = 10_000  # rows per DuckDB fetch / PostgreSQL read-back step
_MASK = (1 << 64) - 1


class RecordsError(Exception):
    """Why the records were not copied (the caller turns it into its own error)."""


@dataclass
class Digest:
    """Row count and an order-independent checksum of one table's rows: the sum (mod 2**64)
    of this process's hash (SipHash for strings) of every row's values, lists as tuples
    (`arrays`: their column positions). Source and copy are hashed in the same process, so
    the per-process hash key is the same for both; a 1 µs or one-character change shows
    (a checksum against copy errors, not a cryptographic digest)."""

    arrays: tuple[int, ...] = ()
    rows: int = 0
    total: int = 0

    def add(self, rows: Iterable[tuple[Any, ...]]) -> None:
        plain = [self._plain(row) for row in rows] if self.arrays else list(rows)
        self.total = (self.total + sum(map(hash, plain))) & _MASK
        self.rows += len(plain)

    def _plain(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        out = list(row)
        for index in self.arrays:
            if out[index] is not None:
                out[index] = tuple(out[index])
        return tuple(out)


def _digest(table: schema.Table) -> Digest:
    arrays = [i for i, column in enumerate(table.columns) if column.sql_type.endswith("[]")]
    return Digest(tuple(arrays))


@dataclass
class RecordsSource:
    """A stopped node's records: its DuckDB file open read-only (None when it has none)
    and its journal directory."""

    path: Path
    journal_dir: Path
    conn: duckdb.DuckDBPyConnection | None
    sent: dict[str, Digest] = field(default_factory=dict)
    from_journal: int = 0  # executions taken from journal segments

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def open_source(data_dir: Path) -> RecordsSource:
    """Open `data_dir`'s records read-only; refuse a running node's or a foreign schema."""
    path = data_dir / RECORDS_FILE
    journal_dir = data_dir / JOURNAL_DIR
    if not path.is_file():
        return RecordsSource(path, journal_dir, None)
    try:
        conn = duckdb.connect(str(path), read_only=True, config=SAFE_CONFIG)
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise RecordsError(
                f"{path} is in use by a running lunard: stop the node first"
            ) from None
        raise RecordsError(f"cannot read {path}: {exc}") from None
    try:
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        current = int(row[0]) if row else 0
    except duckdb.Error as exc:
        conn.close()
        raise RecordsError(f"cannot read {path}: {exc}") from None
    if current != schema.SCHEMA_VERSION:
        conn.close()
        raise RecordsError(
            f"{path} is at records schema version {current}, this lunard at "
            f"{schema.SCHEMA_VERSION}: start and stop this lunard on the data dir once first"
            if current < schema.SCHEMA_VERSION
            else f"{path} was written by a newer lunard (records schema {current})"
        )
    return RecordsSource(path, journal_dir, conn)


def migrate_schema(conn: Any) -> None:
    """Make (or bring up to date) the records schema on PostgreSQL, in its own transaction."""
    try:
        pg_schema.migrate(conn)
    except schema.SchemaTooNew as exc:
        raise RecordsError(str(exc)) from None


def copy_records(conn: Any, source: RecordsSource, *, force: bool) -> dict[str, int]:
    """Copy every record of `source` into PostgreSQL in the caller's transaction and check
    it; rows per table. Raises `RecordsError` (the caller rolls back) on any difference."""
    _prepare_target(conn, force=force)
    source.sent = {table.name: _digest(table) for table in schema.TABLES}
    if source.conn is not None:
        pg_schema.ensure_partitions(conn, _duckdb_days(source.conn))
        for table in schema.TABLES:
            _copy_table(conn, table, _duckdb_rows(source.conn, table), source.sent[table.name])
    batches = pg_writes.replay_segments(conn, source.journal_dir)
    if batches:
        columns = pg_writes.prepare(batches)
        pg_schema.ensure_partitions(conn, pg_writes.days_needed(columns))
        try:
            pg_writes.copy_rows(conn, columns)
        except psycopg.DataError as exc:
            raise RecordsError(f"journal segments: {exc}; nothing was copied") from None
        for table in schema.TABLES:
            source.sent[table.name].add(zip(*columns[table.name], strict=True))
        source.from_journal = len(batches)
    _verify(conn, source.sent)
    return {name: digest.rows for name, digest in source.sent.items()}


def _prepare_target(conn: Any, *, force: bool) -> None:
    """Refuse a target holding records unless `force`, which empties the records tables."""
    held = {}
    for table in schema.TABLES:
        row = conn.execute(f"SELECT count(*) FROM {table.name}").fetchone()
        held[table.name] = int(row[0])
    if not any(held.values()):
        return
    if not force:
        busy = ", ".join(f"{name} {count}" for name, count in held.items() if count)
        raise RecordsError(
            f"the target already holds records ({busy} rows): use --force to replace"
        )
    conn.execute(f"TRUNCATE {', '.join(table.name for table in schema.TABLES)}")


def _names(table: schema.Table) -> str:
    return ", ".join(column.quoted for column in table.columns)


def _duckdb_days(conn: duckdb.DuckDBPyConnection) -> set[dt.date]:
    """Every UTC day a DuckDB record falls on (their partitions are made first)."""
    union = " UNION ".join(
        f"SELECT DISTINCT CAST(created_at AS DATE) FROM {table.name}" for table in schema.TABLES
    )
    return {row[0] for row in conn.execute(union).fetchall()}


def _duckdb_rows(
    conn: duckdb.DuckDBPyConnection, table: schema.Table
) -> Iterator[list[tuple[Any, ...]]]:
    """`table`'s rows in chunks, columns in table order (enums as their labels)."""
    cursor = conn.cursor()
    try:
        cursor.execute(f"SELECT {_names(table)} FROM {table.name}")
        while chunk := cursor.fetchmany(FETCH_ROWS):
            yield chunk
    finally:
        cursor.close()


def _copy_table(
    conn: Any, table: schema.Table, chunks: Iterable[list[tuple[Any, ...]]], digest: Digest
) -> None:
    """One `COPY` of every chunk into `table`, each row added to `digest` as sent."""
    sql = f"COPY {table.name} ({_names(table)}) FROM STDIN"
    with conn.cursor() as cursor, cursor.copy(sql) as copy:
        for chunk in chunks:
            for row in chunk:
                try:
                    copy.write_row(row)
                except psycopg.DataError as exc:
                    raise RecordsError(_unstorable(table, row, exc)) from None
            digest.add(chunk)


def _unstorable(table: schema.Table, row: tuple[Any, ...], exc: Exception) -> str:
    """Why PostgreSQL cannot take `row` (a NUL character in a text value, which DuckDB's
    VARCHAR holds and PostgreSQL's text cannot), naming its execution."""
    names = [column.name for column in table.columns]
    execution = row[names.index("id" if table is schema.EXECUTIONS else "execution_id")]
    return (
        f"{table.name}: a row of execution {execution} cannot be stored in PostgreSQL ({exc}); "
        "nothing was copied"
    )


def _verify(conn: Any, sent: dict[str, Digest]) -> None:
    """Read every copied row back: per table, the count and digest must be those sent."""
    for table in schema.TABLES:
        copied = _digest(table)
        with conn.cursor(name=f"verify_{table.name}") as cursor:
            cursor.itersize = FETCH_ROWS
            cursor.execute(f"SELECT {_names(table)} FROM {table.name}")
            while chunk := cursor.fetchmany(FETCH_ROWS):
                copied.add(chunk)
        expected = sent[table.name]
        if copied.rows != expected.rows:
            raise RecordsError(
                f"{table.name}: {copied.rows} rows in the target, {expected.rows} sent; "
                "nothing was copied"
            )
        if copied.total != expected.total:
            raise RecordsError(f"{table.name}: the copied rows differ; nothing was copied")
