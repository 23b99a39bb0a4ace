"""`lunard migrate-state --from DATA_DIR --to postgresql://... [--records-to URL]`: copy a
stopped node's SQLite state and DuckDB records to PostgreSQL (scale-out design §7).

It applies the PostgreSQL state and records migrations, then copies every state table
(functions, versions, env vars, KV, API tokens, sessions) and every records table
(executions, logs, AI and email requests, with the day partitions they need, and the
batches of any journal segments a `kill -9` left) in ONE transaction per database (one in
all when the records go to the state's database, the default). Env and KV keys and values
go in as the exact bytes SQLite held (TEXT as its UTF-8, BLOB as is). Before the commit it
checks, per table, the row count and a digest of every row read back against the source;
any difference rolls everything back. A target that already holds state or records is
refused unless `--force` (which empties those tables first, in the same transaction).

The source (lunard.db, records.duckdb, journal/) is opened read-only and never changed. A
node then started with `state_url` and `records_url` set to the same URLs serves it all.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lunard.config import STATE_URL_SCHEMES, redacted_url
from lunard.records.schema import TABLE_NAMES
from lunard.state.db import STATE_FILE
from lunard.state.dialect import as_bytes
from lunard.state.migrations import sqlite as sqlite_migrations

if TYPE_CHECKING:  # psycopg is an extra: `lunard --help` must work without it
    from lunard import migrate_records


class MigrateError(Exception):
    """Why the copy was not made (the target is left as it was)."""


@dataclass(frozen=True, slots=True)
class Table:
    """A state table: its copied columns, its key (for a stable order) and its bytes columns."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    binary: tuple[str, ...] = ()


# Parents before children (function_versions references functions).
TABLES = (
    Table(
        "functions",
        (
            "id", "name", "description", "created_at", "updated_at", "disabled",
            "retention_days", "cron_schedule", "cron_status", "save_response", "max_concurrency",
        ),
        ("id",),
    ),
    Table(
        "function_versions",
        ("id", "function_id", "version", "code", "created_at", "created_by", "is_active"),
        ("id",),
    ),
    Table("env_vars", ("function_id", "key", "value"), ("function_id", "key"), ("key", "value")),
    Table("kv_store", ("function_id", "key", "value"), ("function_id", "key"), ("key", "value")),
    Table(
        "api_tokens", ("id", "token_hash", "name", "created_at", "last_used", "revoked"), ("id",)
    ),
    Table("sessions", ("token_hash", "created_at", "expires_at"), ("token_hash",)),
)  # fmt: skip


def add_parser(commands: Any) -> None:
    """Add `migrate-state` to the `lunard` parser's subcommands."""
    parser = commands.add_parser(
        "migrate-state",
        help="copy a stopped node's SQLite state and DuckDB records to PostgreSQL",
        description="\n\n".join(__doc__.split("\n\n")[:3]) if __doc__ else None,
    )
    parser.add_argument(
        "--from", dest="source", type=Path, required=True, metavar="DATA_DIR",
        help="the stopped node's data dir (holds lunard.db and records.duckdb)",
    )  # fmt: skip
    parser.add_argument(
        "--to", dest="target", required=True, metavar="URL",
        help="state_url: postgresql://user@host:port/db (the password: PGPASSWORD or ~/.pgpass)",
    )  # fmt: skip
    parser.add_argument(
        "--records-to", dest="records_target", metavar="RECORDS_URL",
        help="records_url: where the execution records go (default: the --to URL)",
    )  # fmt: skip
    parser.add_argument(
        "--force", action="store_true",
        help="replace the state and records already in the target database(s)",
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    """Run the command; 0 when copied, 1 with a message on stderr when not."""
    records_url = args.records_target or args.target
    try:
        counts, journaled = migrate_state(
            args.source, args.target, records_url=records_url, force=args.force
        )
    except MigrateError as exc:
        print(f"lunard migrate-state: {exc}", file=sys.stderr)
        return 1
    state = ", ".join(f"{table.name} {counts[table.name]}" for table in TABLES)
    print(f"state copied to {redacted_url(args.target)}: {state} (rows; verified)")
    records = ", ".join(f"{name} {counts[name]}" for name in TABLE_NAMES)
    print(f"records copied to {redacted_url(records_url)}: {records} (rows; verified)")
    if journaled:
        print(f"  of which {journaled} executions from journal segments (left in place)")
    print(
        f"{args.source} is unchanged; start the nodes with state_url = {redacted_url(args.target)}"
        f" and records_url = {redacted_url(records_url)}"
    )
    return 0


def migrate_state(
    data_dir: Path, url: str, *, records_url: str | None = None, force: bool = False
) -> tuple[dict[str, int], int]:
    """Copy the state and records of `data_dir` into the databases at `url` (state) and
    `records_url` (default `url`); rows per table, and the executions taken from the
    journal."""
    records_url = records_url or url
    for flag, value in (("--to", url), ("--records-to", records_url)):
        if not value.startswith(STATE_URL_SCHEMES):
            raise MigrateError(f"{flag} must be a postgresql:// or postgres:// URL, not {value!r}")
    try:
        import psycopg

        from lunard import migrate_records
    except ImportError:
        raise MigrateError("psycopg is not installed: pip install 'lunard[postgres]'") from None
    try:
        source = migrate_records.open_source(data_dir)
    except migrate_records.RecordsError as exc:
        raise MigrateError(str(exc)) from None
    try:
        rows = _read_source(data_dir / STATE_FILE)
        return _copy_all(rows, source, url, records_url, force=force)
    except psycopg.Error as exc:
        where = {redacted_url(url): None, redacted_url(records_url): None}
        raise MigrateError(f"{', '.join(where)}: {exc}") from exc
    except migrate_records.RecordsError as exc:
        raise MigrateError(f"records: {exc}") from None
    finally:
        source.close()


def _copy_all(
    rows: dict[str, list[tuple[Any, ...]]],
    source: migrate_records.RecordsSource,
    url: str,
    records_url: str,
    *,
    force: bool,
) -> tuple[dict[str, int], int]:
    """Both copies, each verified, committed only once both are (records first)."""
    import psycopg

    from lunard import migrate_records
    from lunard.state.migrations import postgres as pg_migrations

    with contextlib.ExitStack() as stack:
        conn = stack.enter_context(psycopg.connect(url, connect_timeout=10))
        records_conn = conn
        if records_url != url:
            records_conn = stack.enter_context(psycopg.connect(records_url, connect_timeout=10))
        pg_migrations.migrate(conn)
        migrate_records.migrate_schema(records_conn)
        with conn.transaction(), records_conn.transaction():
            _prepare_target(conn, force=force)
            for table in TABLES:
                _copy(conn, table, rows[table.name])
            _verify(conn, rows)
            counts = migrate_records.copy_records(records_conn, source, force=force)
    state = {table.name: len(rows[table.name]) for table in TABLES}
    return {**state, **counts}, source.from_journal


def _read_source(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every state row of the SQLite file (read-only), in rowid order, bytes normalised."""
    if not path.is_file():
        raise MigrateError(f"no state database at {path} (is --from the node's data dir?)")
    known = max(version for version, _ in sqlite_migrations.MIGRATIONS)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            version = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            current = int(version.fetchone()[0])
            if current != known:
                raise MigrateError(
                    f"{path} is at state schema version {current}, this lunard at {known}: "
                    "start and stop this lunard on the data dir once first"
                    if current < known
                    else f"{path} was written by a newer lunard (schema {current} > {known})"
                )
            return {table.name: _source_rows(conn, table) for table in TABLES}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise MigrateError(f"cannot read {path}: {exc}") from exc


def _source_rows(conn: sqlite3.Connection, table: Table) -> list[tuple[Any, ...]]:
    columns = ", ".join(table.columns)
    rows = conn.execute(f"SELECT {columns} FROM {table.name} ORDER BY rowid").fetchall()
    binary = [table.columns.index(name) for name in table.binary]
    return [_with_bytes(row, binary) for row in rows]


def _with_bytes(row: Sequence[Any], binary: Sequence[int]) -> tuple[Any, ...]:
    """The row with its bytes columns as the exact bytes stored (TEXT as UTF-8)."""
    out = list(row)
    for index in binary:
        value = out[index]
        out[index] = as_bytes(value if isinstance(value, (str, bytes)) else str(value))
    return tuple(out)


def _prepare_target(conn: Any, *, force: bool) -> None:
    """Refuse a target holding state unless `force`, which empties the state tables."""
    held = {
        table.name: int(conn.execute(f"SELECT COUNT(*) FROM {table.name}").fetchone()[0])
        for table in TABLES
    }
    if any(held.values()) and not force:
        busy = ", ".join(f"{name} {count}" for name, count in held.items() if count)
        raise MigrateError(f"the target already holds state ({busy} rows): use --force to replace")
    if any(held.values()):
        for table in reversed(TABLES):
            conn.execute(f"DELETE FROM {table.name}")


def _copy(conn: Any, table: Table, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    marks = ", ".join(["%s"] * len(table.columns))
    sql = f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({marks})"
    with conn.cursor() as cursor:
        cursor.executemany(sql, rows)


def _digest(rows: list[tuple[Any, ...]], table: Table) -> str:
    keyed = sorted(rows, key=lambda row: tuple(row[table.columns.index(k)] for k in table.key))
    return hashlib.sha256(
        repr([tuple(_plain(v) for v in row) for row in keyed]).encode()
    ).hexdigest()


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def _verify(conn: Any, source: dict[str, list[tuple[Any, ...]]]) -> None:
    """Row counts and a digest of every copied row, per table, against the source."""
    for table in TABLES:
        columns = ", ".join(table.columns)
        copied = [tuple(row) for row in conn.execute(f"SELECT {columns} FROM {table.name}")]
        if len(copied) != len(source[table.name]):
            raise MigrateError(
                f"{table.name}: {len(copied)} rows in the target, "
                f"{len(source[table.name])} in the source; nothing was copied"
            )
        if _digest(copied, table) != _digest(source[table.name], table):
            raise MigrateError(f"{table.name}: the copied rows differ; nothing was copied")
