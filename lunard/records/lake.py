"""The lake: sealed slices of the execution records as Parquet files, read by DuckDB.

With `records_url` the records live in PostgreSQL; analytics stay DuckDB (scale-out design
§4.2 point 4). The exporter (`lunard.records.lake_export`) writes each sealed slice of each
records table to one file of a shared directory, `lake_url`:

    <lake>/<table>/day=YYYY-MM-DD/slice-<start>-<end>.parquet

(`start`, `end`: the slice's Unix seconds; `day`: the UTC day of `start`). The name is fixed
by the slice, so writing a slice twice (a claim taken over from a slow node) replaces the
file with the same rows: no row is ever in the lake twice. A file appears whole or not at
all: it is written under a hidden temporary name in the same directory, flushed to disk and
renamed (atomic on a local or NFS directory); readers match `*.parquet` only.

Reading (`open_lake`): an in-memory DuckDB walled in with `allowed_directories` = the lake
only (`instance.wall_in`), with one view per records table over
`read_parquet('<lake>/<table>/**/*.parquet', hive_partitioning=true)`, selecting exactly the
records' columns with their DuckDB types (the two ENUMs included), so the canned reports and
the SQL runner see the same tables, names and types as on the records file. A table with no
file yet is an empty view of the same shape.

Trio-free except `on_lake`.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urlparse

import duckdb
import trio

from lunard.errors import ConfigError
from lunard.records.instance import lake_config, wall_in
from lunard.records.schema import ENUMS, TABLES, Column, Table

if TYPE_CHECKING:
    import pyarrow as pa

T = TypeVar("T")

AS_OF_HEADER = "X-Lunard-Data-As-Of"


def lake_dir(url: str) -> Path:
    """The lake directory of `lake_url`: `file:///path` or an absolute `/path`."""
    if url.startswith("file://"):
        parsed = urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"lake_url {url!r}: a file:// URL must name a local path")
        path = unquote(parsed.path)
    else:
        path = url
    if not path.startswith("/"):
        raise ConfigError(
            f"lake_url {url!r} must be file:///absolute/path or /absolute/path "
            "(object stores are not supported yet)"
        )
    return Path(os.path.normpath(path))


def day_of(start: int) -> str:
    """The UTC day (`YYYY-MM-DD`) of a Unix instant."""
    return dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y-%m-%d")


def slice_path(lake: Path, table: str, start: int, end: int) -> Path:
    """Where the slice `[start, end)` of `table` lives."""
    return lake / table / f"day={day_of(start)}" / f"slice-{start}-{end}.parquet"


def rfc3339(unix: int | None) -> str:
    """`X-Lunard-Data-As-Of`'s value: RFC 3339 in UTC with `Z`, seconds precision; the Unix
    epoch when nothing is exported yet."""
    return dt.datetime.fromtimestamp(unix or 0, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(unix: float) -> dt.datetime:
    """Unix seconds as the naive UTC datetime the records' TIMESTAMP columns hold."""
    return dt.datetime.fromtimestamp(unix, dt.UTC).replace(tzinfo=None)


def utc_seconds(value: dt.datetime) -> int:
    """A naive UTC datetime (a TIMESTAMP column's value) as whole Unix seconds."""
    return math.floor(value.replace(tzinfo=dt.UTC).timestamp())


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def arrow_schema(table: Table) -> pa.Schema:
    """The Arrow schema of a slice as the exporter builds it (ENUMs as strings, timestamps
    in microseconds: PostgreSQL hands out datetimes)."""
    # Imported here: the daemon imports this module for the lake's reads (analytics), and
    # only the exporter, in cluster mode, builds Arrow (issue 13: pyarrow is ~55 MB).
    import pyarrow as pa

    types = {
        "INTEGER": pa.int32(),
        "BOOLEAN": pa.bool_(),
        "TIMESTAMP": pa.timestamp("us"),
        "VARCHAR[]": pa.list_(pa.string()),
    }  # VARCHAR, and an ENUM, as a string
    return pa.schema([pa.field(c.name, types.get(c.sql_type, pa.string())) for c in table.columns])


# --------------------------------------------------------------------------- writing


def open_writer(lake: Path, *, memory_mb: int, threads: int) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that may write only under the lake (walled in like the readers)."""
    lake.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(":memory:", config=lake_config(memory_mb=memory_mb, threads=threads))
    try:
        wall_in(conn, str(lake))
    except BaseException:
        conn.close()
        raise
    return conn


def write_slice(
    conn: duckdb.DuckDBPyConnection,
    lake: Path,
    table: Table,
    start: int,
    end: int,
    rows: pa.RecordBatchReader,
    *,
    tag: str,
) -> Path:
    """Write the rows of one slice with DuckDB's `COPY … TO … (FORMAT parquet)` under a
    temporary name (`tag` makes it this writer's), flush it, rename it into place; its path."""
    final = slice_path(lake, table.name, start, end)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{final.name}.{tag}.tmp")
    conn.register("_slice", rows)
    try:
        conn.execute(
            f"COPY (SELECT * FROM _slice ORDER BY created_at) TO {_literal(str(temp))} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        conn.unregister("_slice")
    _fsync(temp)
    os.replace(temp, final)
    _fsync(final.parent)
    return final


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- reading


def table_glob(lake: Path, table: str) -> str:
    """The glob that matches every slice file of `table`."""
    return f"{lake}/{table}/**/*.parquet"


def _has_files(lake: Path, table: str) -> bool:
    return any((lake / table).glob("*/*.parquet"))


def _cast(column: Column) -> str:
    return f"CAST({column.quoted} AS {column.sql_type}) AS {column.quoted}"


def view_sql(lake: Path, table: Table) -> str:
    """`CREATE VIEW <table>` over its slice files (an empty view while there are none)."""
    if not _has_files(lake, table.name):
        empty = ", ".join(f"CAST(NULL AS {c.sql_type}) AS {c.quoted}" for c in table.columns)
        return f"CREATE VIEW {table.name} AS SELECT {empty} LIMIT 0"
    source = (
        f"read_parquet({_literal(table_glob(lake, table.name))}, "
        "hive_partitioning = true, union_by_name = true)"
    )
    columns = ", ".join(_cast(c) for c in table.columns)
    return f"CREATE VIEW {table.name} AS SELECT {columns} FROM {source}"


def open_lake(lake: Path, *, memory_mb: int, threads: int) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB over the lake: walled in (`allowed_directories` = the lake only,
    then no other external access, then the configuration locked), with the ENUM types and
    one view per records table. The caller closes it."""
    conn = duckdb.connect(":memory:", config=lake_config(memory_mb=memory_mb, threads=threads))
    try:
        wall_in(conn, str(lake))
        for name, (labels, _since) in ENUMS.items():
            conn.execute(f"CREATE TYPE {name} AS ENUM ({', '.join(map(_literal, labels))})")
        for table in TABLES:
            conn.execute(view_sql(lake, table))
    except BaseException:
        conn.close()
        raise
    return conn


async def on_lake(
    lake: Path, fn: Callable[[duckdb.DuckDBPyConnection], T], *, memory_mb: int, threads: int
) -> T:
    """Run `fn` on a fresh `open_lake` connection on a thread of its own; closed after.

    Each call sees the files present when it opened (a slice renamed in later is not
    half-read: files appear whole)."""

    def run() -> T:
        conn = open_lake(lake, memory_mb=memory_mb, threads=threads)
        try:
            return fn(conn)
        finally:
            conn.close()

    return await trio.to_thread.run_sync(run)
