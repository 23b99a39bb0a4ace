"""One way to run a transaction and one migration runner, for SQLite, DuckDB and PostgreSQL.

Both drivers' connections have `execute(sql, parameters)`; that is all this needs. Trio-free
(workers open the state file too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

log = logging.getLogger(__name__)


class SqlConnection(Protocol):
    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...


class SchemaTooNew(Exception):
    """A database was written by a newer lunard (its schema version is unknown here)."""


@contextmanager
def transaction(conn: SqlConnection, begin: str = "BEGIN TRANSACTION") -> Iterator[None]:
    """Run the block in one transaction: COMMIT when it ends, ROLLBACK when it raises."""
    conn.execute(begin)
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(
    conn: SqlConnection,
    migrations: Sequence[tuple[int, str]],
    *,
    what: str,
    applied_at_type: str,
    record: Callable[[int], tuple[str, Sequence[Any]]],
    begin: str = "BEGIN TRANSACTION",
    step: Callable[[], AbstractContextManager[Any]] | None = None,
    version_table: str = "schema_migrations",
) -> int:
    """Apply the pending `(version, sql)` migrations in order, each in its own transaction,
    and return the schema version. `record(version)` gives the statement that notes a
    version as applied. Raises `SchemaTooNew` when the database is ahead of `migrations`.

    `step` opens each version's transaction (default: `transaction(conn, begin)`); a caller
    that runs the whole migration in one transaction of its own (PostgreSQL, under an
    advisory lock) passes `contextlib.nullcontext`.
    """
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {version_table} "
        f"(version INTEGER NOT NULL, applied_at {applied_at_type} NOT NULL)"
    )
    row = conn.execute(f"SELECT COALESCE(MAX(version), 0) FROM {version_table}").fetchone()
    current = int(row[0]) if row else 0
    known = max(version for version, _ in migrations)
    if current > known:
        raise SchemaTooNew(
            f"{what} is at schema version {current}, newer than this lunard ({known})"
        )
    for version, sql in migrations:
        if version <= current:
            continue
        with transaction(conn, begin) if step is None else step():
            # One statement at a time: sqlite3's execute takes only one.
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(*record(version))
        log.info("applied %s migration %d", what, version)
        current = version
    return current
