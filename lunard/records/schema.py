"""The records database's schema, declared once: one list of columns per table.

Each `Column` says what it is in DuckDB (name, type, NULL or not, default, the schema
version that added it), how the sink fills it (the value of one source row, and the unit
of a timestamp) and how the API reads it out (field name, SQL expression, left out when
NULL). Everything else is made from these lists:

- the migrations (`MIGRATIONS`), run by the one runner in `lunard.transactions`: version N
  creates the enums and tables that came with N, and adds the columns that came with N to
  older tables (`ALTER TABLE … ADD COLUMN`, which appends);
- the statement the sink inserts a table's rows with (`Table.insert_statement`, its
  parameters `Table.values`: one list per column, zipped by DuckDB's `unnest`), which needs
  no pyarrow (issue 13: pyarrow alone is ~55 MB of the daemon's RSS);
- the column tables the reads in `lunard.records.store` select (`Table.readable`).

Adding a column is one edit: a `Column(…, since=SCHEMA_VERSION + 1)` at the END of its
table's list (ADD COLUMN appends, and a fresh file runs the same steps as an old one), with
a `default` or `null=True` (rows already stored need a value). That line is the migration.
A released version's columns never change: `tests/test_records.py` holds the DDL of every
released version and compares it with what these lists create.

Schema choices, for the reports built on this data:

- Timestamps are `TIMESTAMP` (UTC, microseconds), not Unix integers: `date_trunc`,
  `time_bucket` and range filters work on them directly, and log lines keep their sub-second
  order. The API reads them back as whole seconds (`epoch_ms(created_at) // 1000`).
- `status` and `level` are ENUMs: closed sets fixed by the spec, stored as one byte. `trigger`,
  `provider` and the AI/email `status` stay VARCHAR (DuckDB dictionary-compresses them anyway)
  so a new value never needs a table rewrite.
- No primary keys or secondary indexes. Ids are xids, which are time-ordered, so rows arrive
  almost sorted by id and DuckDB's per-row-group min/max (zone maps) prune lookups by id or
  execution id; an ART index would slow every batch insert and every delete.
- Logs, AI and email rows carry `seq`, their position within the execution, so "oldest first"
  is exact insertion order even within one second.
- Email recipients are a `VARCHAR[]` (upstream joins them with commas, which breaks addresses
  such as `"Doe, Jane" <jane@example.com>`).

Trio-free and free of `lunard.messages` at run time: the SQL sandbox process imports it for
the table names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from lunard import transactions
from lunard.transactions import SchemaTooNew as SchemaTooNew

if TYPE_CHECKING:
    from lunard.messages import RecordBatch
    from lunard.transactions import SqlConnection

Enums = dict[str, tuple[tuple[str, ...], int]]

LOG_LEVELS = ("debug", "info", "warn", "error")
EXECUTION_STATUSES = ("pending", "success", "error")

# DuckDB ENUM types: name -> (labels, the version that added it).
ENUMS: Enums = {
    "execution_status": (EXECUTION_STATUSES, 1),
    "log_level": (LOG_LEVELS, 1),
}

# How the sink's insert reads one column from its list parameter, per DuckDB type: the
# lists are unnested side by side (DuckDB zips the unnests of one SELECT), an ENUM from
# strings (cast on insert), a TIMESTAMP from Unix seconds or microseconds (`Column.unit`).
_INSERT_SQL: dict[str, str] = {
    "VARCHAR": "unnest(?::VARCHAR[])",
    "INTEGER": "unnest(?::INTEGER[])",
    "BOOLEAN": "unnest(?::BOOLEAN[])",
    "VARCHAR[]": "unnest(?::VARCHAR[][])",
    **{name: "unnest(?::VARCHAR[])" for name in ENUMS},
}
_TIMESTAMP_SQL: dict[str, str] = {
    "s": "make_timestamp(unnest(?::BIGINT[]) * 1000000)",
    "us": "make_timestamp(unnest(?::BIGINT[]))",
}


@dataclass(frozen=True)
class Column:
    """One column: in DuckDB, from the sink, out to the API.

    `get` is how the value comes out of one source item (an `ExecutionRecord`, a `JobLog`,
    an AI or email row): an attribute name, or a function of the item; by default the
    attribute named like the column. In a per-execution table, `execution_id` and `seq`
    (without `get`) are the execution's id and the item's position in its list. `unit` is
    what a TIMESTAMP's source value counts: Unix seconds ("s") or microseconds ("us").
    `field` is the API's name for it (default: the column's; `read=False` keeps it out of
    the API), `select` the SQL the reads select (default by type: enums as VARCHAR,
    timestamps as Unix seconds), `omit_null` leaves the field out of an item when it is
    NULL ("omit if null" in http-api §3).
    """

    name: str
    sql_type: str
    null: bool = False
    default: str | None = None
    since: int = 1
    get: str | Callable[[Any], Any] | None = None
    unit: str = "s"
    read: bool = True
    field: str | None = None
    select: str | None = None
    omit_null: bool = False

    @property
    def quoted(self) -> str:
        """The name as an SQL identifier."""
        return f'"{self.name}"'

    @property
    def ddl(self) -> str:
        """The column's definition in `CREATE TABLE` / `ADD COLUMN`."""
        text = f"{self.quoted} {self.sql_type}"
        if not self.null:
            text += " NOT NULL"
        if self.default is not None:
            text += f" DEFAULT {self.default}"
        return text

    @property
    def insert_sql(self) -> str:
        """The sink's SELECT expression for the column: its values from one list parameter."""
        if self.sql_type == "TIMESTAMP":
            return _TIMESTAMP_SQL[self.unit]
        return _INSERT_SQL[self.sql_type]

    @property
    def api_field(self) -> str:
        """The field's name in the API's JSON."""
        return self.field or self.name

    @property
    def select_sql(self) -> str:
        """The SQL expression the reads select for it."""
        if self.select is not None:
            return self.select
        if self.sql_type in ENUMS:
            return f"{self.quoted}::VARCHAR"
        if self.sql_type == "TIMESTAMP":
            return f"epoch_ms({self.quoted}) // 1000"
        return self.quoted


# Columns of a per-execution table that come from where the item sits, not from the item.
_POSITION = ("execution_id", "seq")


@dataclass(frozen=True)
class Table:
    """One records table: its columns in order on disk, and where its rows come from.

    `items` gives one batch's items of a per-execution table (its logs, AI or email rows);
    None for the executions table, whose item is the batch's execution.
    """

    name: str
    columns: tuple[Column, ...]
    items: Callable[[RecordBatch], Sequence[Any]] | None = None
    since: int = 1
    _getters: tuple[Callable[[Any], Any] | None, ...] = field(init=False, repr=False, compare=False)
    _insert: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        getters = tuple(self._getter(column) for column in self.columns)
        object.__setattr__(self, "_getters", getters)
        names = ", ".join(c.quoted for c in self.columns)
        selects = ", ".join(c.insert_sql for c in self.columns)
        insert = f"INSERT INTO {self.name} ({names}) SELECT {selects}"
        object.__setattr__(self, "_insert", insert)

    def _getter(self, column: Column) -> Callable[[Any], Any] | None:
        if callable(column.get):
            return column.get
        if column.get is None and self.items is not None and column.name in _POSITION:
            return None  # from the item's position
        return attrgetter(column.get or column.name)

    def ddl(self, version: int) -> str:
        """`CREATE TABLE` with the columns it had at `version`."""
        defs = ",\n    ".join(c.ddl for c in self.columns if c.since <= version)
        return f"CREATE TABLE {self.name} (\n    {defs}\n)"

    def readable(self, *, without: Sequence[str] = ()) -> tuple[Column, ...]:
        """The columns the API reads, in table order, but those named in `without`."""
        return tuple(c for c in self.columns if c.read and c.name not in without)

    def insert_statement(self) -> str:
        """The sink's `INSERT` of a batch's rows (made once, with the table): one list
        parameter per column, in table order (`values`); NULLs and NUL characters go
        through unchanged."""
        return self._insert

    def values(self, batches: list[RecordBatch]) -> list[list[Any]]:
        """The batches' rows of this table as plain Python values, one list per column in
        table order: the parameters of `insert_statement` (the PostgreSQL sink's `COPY`
        converts them with `lunard.records.pg_schema`)."""
        items, position = self._source(batches)
        return [
            position[column.name] if get is None else list(map(get, items))
            for column, get in zip(self.columns, self._getters, strict=True)
        ]

    def _source(self, batches: list[RecordBatch]) -> tuple[list[Any], dict[str, list[Any]]]:
        """The items, and the `execution_id` and `seq` of each (per-execution tables)."""
        if self.items is None:
            return [b.execution for b in batches], {}
        items: list[Any] = []
        execution_ids: list[str] = []
        seqs: list[int] = []
        for batch in batches:
            found = self.items(batch)
            items.extend(found)
            execution_ids.extend([batch.execution.id] * len(found))
            seqs.extend(range(len(found)))
        return items, {"execution_id": execution_ids, "seq": seqs}


# --------------------------------------------------------------------------- converters


def _log_level(entry: Any) -> str:
    level: str = entry.level
    return level if level in LOG_LEVELS else "info"  # unknown levels read as info (§3.4)


def _microseconds(entry: Any) -> int:
    return round(entry.created_at * 1_000_000)


def _recipients(row: Any) -> list[str]:
    return list(row.to_addresses)


# --------------------------------------------------------------------------- the tables

_TRIGGER_OR_HTTP = """COALESCE(NULLIF("trigger", ''), 'http')"""
_EXECUTION_ID = Column("execution_id", "VARCHAR")
_SEQ = Column("seq", "INTEGER", read=False)
_RESPONSE_JSON = Column("response_json", "VARCHAR", null=True, omit_null=True)
_ERROR_MESSAGE = Column("error_message", "VARCHAR", null=True, omit_null=True)

EXECUTIONS = Table(
    "executions",
    (
        Column("id", "VARCHAR"),
        Column("function_id", "VARCHAR"),
        Column("function_version_id", "VARCHAR"),
        Column("status", "execution_status"),
        Column("duration_ms", "INTEGER", null=True, omit_null=True),
        _ERROR_MESSAGE,
        Column("event_json", "VARCHAR"),
        _RESPONSE_JSON,
        Column("trigger", "VARCHAR", default="'http'", select=_TRIGGER_OR_HTTP),
        Column("created_at", "TIMESTAMP"),
    ),
)

LOGS = Table(
    "logs",
    (
        Column("execution_id", "VARCHAR", read=False),
        _SEQ,
        Column("level", "log_level", get=_log_level),
        Column("message", "VARCHAR"),
        Column("created_at", "TIMESTAMP", get=_microseconds, unit="us"),
    ),
    items=attrgetter("logs"),
)

AI_REQUESTS = Table(
    "ai_requests",
    (
        Column("id", "VARCHAR"),
        _EXECUTION_ID,
        _SEQ,
        Column("provider", "VARCHAR"),
        Column("model", "VARCHAR"),
        Column("endpoint", "VARCHAR"),
        Column("request_json", "VARCHAR"),
        _RESPONSE_JSON,
        Column("status", "VARCHAR"),
        _ERROR_MESSAGE,
        Column("input_tokens", "INTEGER", null=True, omit_null=True),
        Column("output_tokens", "INTEGER", null=True, omit_null=True),
        Column("duration_ms", "INTEGER"),
        Column("created_at", "TIMESTAMP"),
    ),
    items=attrgetter("ai_requests"),
)

EMAIL_REQUESTS = Table(
    "email_requests",
    (
        Column("id", "VARCHAR"),
        _EXECUTION_ID,
        _SEQ,
        Column("from_address", "VARCHAR", field="from"),
        Column("to_addresses", "VARCHAR[]", get=_recipients, field="to"),
        Column("subject", "VARCHAR"),
        Column("has_text", "BOOLEAN"),
        Column("has_html", "BOOLEAN"),
        Column("request_json", "VARCHAR"),
        _RESPONSE_JSON,
        Column("status", "VARCHAR"),
        _ERROR_MESSAGE,
        Column("email_id", "VARCHAR", null=True, omit_null=True),
        Column("duration_ms", "INTEGER"),
        Column("created_at", "TIMESTAMP"),
    ),
    items=attrgetter("email_requests"),
)

TABLES: tuple[Table, ...] = (EXECUTIONS, LOGS, AI_REQUESTS, EMAIL_REQUESTS)
TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in TABLES)


# --------------------------------------------------------------------------- migrations


def migration_statements(
    version: int,
    tables: Sequence[Table],
    enums: Enums,
    *,
    table_ddl: Callable[[Table, int], str] = Table.ddl,
    column_ddl: Callable[[Column], str] = attrgetter("ddl"),
    extra: Callable[[Table, int], Iterable[str]] = lambda table, version: (),
) -> list[str]:
    """The statements of schema version `version`, made from the column lists: its enum
    types, its new tables, the columns it adds to older ones, and `extra` per table (keys
    and indexes a dialect adds). DuckDB's DDL by default; `pg_schema` passes PostgreSQL's."""
    statements = [
        f"CREATE TYPE {name} AS ENUM ({', '.join(repr(label) for label in labels)})"
        for name, (labels, since) in enums.items()
        if since == version
    ]
    for table in tables:
        if table.since == version:
            statements.append(table_ddl(table, version))
        elif table.since < version:
            statements.extend(
                f"ALTER TABLE {table.name} ADD COLUMN {column_ddl(c)}"
                for c in table.columns
                if c.since == version
            )
        statements.extend(extra(table, version))
    return statements


def versions_of(tables: Sequence[Table], enums: Enums) -> list[int]:
    """Every schema version the lists name, oldest first."""
    versions = {since for _, since in enums.values()} | {t.since for t in tables}
    versions |= {c.since for t in tables for c in t.columns}
    return sorted(versions)


def migration_sql(
    version: int, tables: Sequence[Table] = TABLES, enums: Enums | None = None
) -> str:
    """The statements of schema version `version` (DuckDB), as one SQL text."""
    statements = migration_statements(version, tables, ENUMS if enums is None else enums)
    return ";\n".join(statements) + ";\n"


def migrations(
    tables: Sequence[Table] = TABLES, enums: Enums | None = None
) -> list[tuple[int, str]]:
    """`(version, SQL)` for every version the lists name, oldest first."""
    enums = ENUMS if enums is None else enums
    return [(v, migration_sql(v, tables, enums)) for v in versions_of(tables, enums)]


# (version, SQL) for the runner; a released version's SQL never changes.
MIGRATIONS: list[tuple[int, str]] = migrations()
SCHEMA_VERSION = max(version for version, _ in MIGRATIONS)


def migrate(conn: SqlConnection, steps: Sequence[tuple[int, str]] = MIGRATIONS) -> int:
    """Apply pending migrations (`steps`: this code's), each in its own transaction;
    return the schema version.

    Raises `SchemaTooNew` when the file is ahead of `steps`, and `duckdb.Error` when the
    file cannot be read.
    """
    return transactions.migrate(
        conn,
        steps,
        what="records database",
        applied_at_type="TIMESTAMP",
        record=lambda version: (
            "INSERT INTO schema_migrations VALUES (?, now()::TIMESTAMP)",
            [version],
        ),
    )
