"""The records schema on PostgreSQL (`records_url`), made from the same column lists as DuckDB's.

`lunard.records.schema` declares every records table once (`Column`, `Table`); this module
turns those lists into PostgreSQL DDL instead of DuckDB's, so a column added there (with its
`since`) reaches both databases, under the same schema version numbers. The differences are
deliberate (scale-out design §4.2):

- every table is `PARTITION BY RANGE (created_at)`, one partition per UTC day, named
  `<table>_pYYYYMMDD`; `ensure_partitions` makes the ones a batch needs (and today's and
  tomorrow's), `drop_partitions_before` drops whole days (retention);
- keys and indexes, which DuckDB does without: `executions` has the primary key
  `(id, created_at)` (a partitioned table's key must hold the partition key) and the index
  `(function_id, created_at DESC, id DESC)` that serves the API's list order; `logs`,
  `ai_requests` and `email_requests` are indexed by `(execution_id, …)` in their read order;
- types: `VARCHAR` is `text`, `VARCHAR[]` is `text[]`, `TIMESTAMP` is `timestamp` (UTC, no
  time zone, microseconds, as in DuckDB), the two ENUMs are PostgreSQL enums of the same
  names and labels;
- the applied versions are kept in `records_schema_migrations` (not `schema_migrations`: the
  records may share a database with the state), and the migrations run in one transaction
  under `pg_advisory_xact_lock(MIGRATION_LOCK)`, so nodes starting together apply each
  version once. Partitions are made and dropped under `PARTITION_LOCK`, so two nodes never
  race on the catalog.

Trio-free: plain functions of a psycopg connection, run on the sink's threads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from lunard import transactions
from lunard.records import schema
from lunard.records.schema import ENUMS, TABLES, Column, Enums, Table

# pg_advisory_xact_lock keys ("lnrdrec" / "lnrdprt" in ASCII, as integers).
MIGRATION_LOCK = 0x6C6E7264726563
PARTITION_LOCK = 0x6C6E7264707274
VERSION_TABLE = "records_schema_migrations"

_PG_TYPES = {
    "VARCHAR": "text",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "VARCHAR[]": "text[]",
}

# Keys and indexes per table: (the version that added it, the SQL, with {t} for the table).
_KEYS: dict[str, tuple[tuple[int, str], ...]] = {
    "executions": (
        (1, "ALTER TABLE {t} ADD PRIMARY KEY (id, created_at)"),
        (
            1,
            "CREATE INDEX {t}_function_created "
            'ON {t} (function_id, created_at DESC, id COLLATE "C" DESC)',
        ),
    ),
    "logs": ((1, "CREATE INDEX {t}_execution ON {t} (execution_id, seq, created_at)"),),
    "ai_requests": ((1, "CREATE INDEX {t}_execution ON {t} (execution_id, created_at, seq)"),),
    "email_requests": ((1, "CREATE INDEX {t}_execution ON {t} (execution_id, created_at, seq)"),),
}

_DAY = dt.timedelta(days=1)
_EPOCH = dt.datetime(1970, 1, 1)


def pg_type(column: Column) -> str:
    """The column's PostgreSQL type."""
    return column.sql_type if column.sql_type in ENUMS else _PG_TYPES[column.sql_type]


def column_ddl(column: Column) -> str:
    """The column's definition in PostgreSQL's `CREATE TABLE` / `ADD COLUMN`."""
    text = f"{column.quoted} {pg_type(column)}"
    if not column.null:
        text += " NOT NULL"
    if column.default is not None:
        text += f" DEFAULT {column.default}"
    return text


def table_ddl(table: Table, version: int) -> str:
    """`CREATE TABLE … PARTITION BY RANGE (created_at)` with the columns of `version`."""
    defs = ",\n    ".join(column_ddl(c) for c in table.columns if c.since <= version)
    return f"CREATE TABLE {table.name} (\n    {defs}\n) PARTITION BY RANGE (created_at)"


def _keys(table: Table, version: int) -> list[str]:
    return [
        sql.format(t=table.name) for since, sql in _KEYS.get(table.name, ()) if since == version
    ]


def migration_sql(
    version: int, tables: Sequence[Table] = TABLES, enums: Enums | None = None
) -> list[str]:
    """The statements of schema version `version` on PostgreSQL, from the column lists."""
    return schema.migration_statements(
        version,
        tables,
        ENUMS if enums is None else enums,
        table_ddl=table_ddl,
        column_ddl=column_ddl,
        extra=_keys,
    )


def migrations(
    tables: Sequence[Table] = TABLES, enums: Enums | None = None
) -> list[tuple[int, list[str]]]:
    """`(version, statements)` for every version the lists name, oldest first (the same
    version numbers as DuckDB's `schema.MIGRATIONS`)."""
    enums = ENUMS if enums is None else enums
    versions = set(schema.versions_of(tables, enums))
    versions |= {since for keys in _KEYS.values() for since, _ in keys}
    return [(v, migration_sql(v, tables, enums)) for v in sorted(versions)]


MIGRATIONS: list[tuple[int, list[str]]] = migrations()
SCHEMA_VERSION = max(version for version, _ in MIGRATIONS)


def migrate(conn: Any, steps: Sequence[tuple[int, list[str]]] = MIGRATIONS) -> int:
    """Apply the pending migrations on a raw (non-autocommit) psycopg connection in one
    transaction under the advisory lock, with the one runner (`lunard.transactions`); return
    the version. Raises `SchemaTooNew` when the database is ahead of `steps`, and
    `psycopg.Error` when it cannot be used."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        return transactions.migrate(
            conn,
            [(version, ";\n".join(statements)) for version, statements in steps],
            what="records database",
            applied_at_type="TIMESTAMPTZ DEFAULT now()",
            record=lambda version: (
                f"INSERT INTO {VERSION_TABLE} (version) VALUES (%s)",
                (version,),
            ),
            step=contextlib.nullcontext,
            version_table=VERSION_TABLE,
        )


# --------------------------------------------------------------------------- values


def timestamp(value: int | float, unit: str) -> dt.datetime:
    """A `timestamp` (naive UTC) from Unix seconds (`unit` "s") or microseconds ("us"),
    exactly as DuckDB reads the sink's Arrow timestamps."""
    if unit == "us":
        return _EPOCH + dt.timedelta(microseconds=int(value))
    return _EPOCH + dt.timedelta(seconds=int(value))


def _unit(column: Column) -> str | None:
    return column.unit if column.sql_type == "TIMESTAMP" else None


def copy_columns(table: Table, values: list[list[Any]]) -> list[list[Any]]:
    """`Table.values` made ready for `COPY`: timestamps as datetimes, NUL characters in text
    as U+FFFD (PostgreSQL text cannot hold NUL, and one such log line would otherwise fail
    the whole group commit), the rest unchanged."""
    converted = []
    for column, column_values in zip(table.columns, values, strict=True):
        unit = _unit(column)
        if unit is not None:
            converted.append([timestamp(v, unit) for v in column_values])
        elif column.sql_type.startswith("VARCHAR"):
            converted.append([_without_nul(v) for v in column_values])
        else:
            converted.append(column_values)
    return converted


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def days_of(table: Table, columns: list[list[Any]]) -> set[dt.date]:
    """The UTC days the (converted) rows fall on, so their partitions can be made first."""
    index = [c.name for c in table.columns].index("created_at")
    return {value.date() for value in columns[index]}


# --------------------------------------------------------------------------- partitions


def partition_name(table: str, day: dt.date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def missing_partitions(conn: Any, days: Iterable[dt.date]) -> list[tuple[str, dt.date]]:
    """The `(table, day)` partitions of `days` that do not exist yet (one catalog read)."""
    wanted = [(t.name, d) for d in sorted(set(days)) for t in TABLES]
    if not wanted:
        return []
    names = [partition_name(t, d) for t, d in wanted]
    # pg_class itself (this statement's snapshot), not to_regclass: its cache may still say
    # "absent" for a partition another node made while this one waited for the lock.
    rows = conn.execute(
        "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND pg_table_is_visible(oid)",
        (names,),
    ).fetchall()
    present = {row[0] for row in rows}
    return [(t, d) for (t, d), name in zip(wanted, names, strict=True) if name not in present]


def ensure_partitions(conn: Any, days: Iterable[dt.date]) -> int:
    """Make the day partitions of every records table for `days` that are missing, under the
    partition lock (idempotent across nodes); return how many were made. Runs in its own
    transaction on a non-autocommit connection; takes no lock when nothing is missing."""
    days = set(days)
    with conn.transaction():
        if not missing_partitions(conn, days):
            return 0
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
        missing = missing_partitions(conn, days)  # another node may have made them meanwhile
        for table, day in missing:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {partition_name(table, day)} PARTITION OF {table} "
                f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + _DAY).isoformat()}')"
            )
    return len(missing)


def partition_days(conn: Any, table: str) -> list[dt.date]:
    """The days `table` has partitions for (by the names lunard gives them), oldest first."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(%s)",
        (table,),
    ).fetchall()
    prefix = f"{table}_p"
    days = []
    for (name,) in rows:
        suffix = name[len(prefix) :] if name.startswith(prefix) else ""
        if len(suffix) == 8 and suffix.isdigit():
            days.append(dt.datetime.strptime(suffix, "%Y%m%d").date())
    return sorted(days)


def drop_partitions_before(conn: Any, day: dt.date) -> int:
    """Drop every records table's partitions of the days before `day` (in one transaction,
    under the partition lock); return the number of executions they held."""
    dropped = 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
        for table in TABLES:
            for old in partition_days(conn, table.name):
                if old >= day:
                    continue
                name = partition_name(table.name, old)
                if table.name == "executions":
                    row = conn.execute(f"SELECT count(*) FROM {name}").fetchone()
                    dropped += int(row[0])
                conn.execute(f"DROP TABLE IF EXISTS {name}")
    return dropped
