"""The two migration lists stay twins, and both backends open, re-open and refuse a newer
schema the same way."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import psycopg
import pytest

from lunard.errors import DataDirError
from lunard.state import StateStore
from lunard.state.dialect import Conn
from lunard.state.migrations import postgres, sqlite

TABLES = {"functions", "function_versions", "env_vars", "kv_store", "api_tokens", "sessions"}


def test_both_lists_have_the_same_versions_in_order() -> None:
    sqlite_versions = [version for version, _ in sqlite.MIGRATIONS]
    postgres_versions = [version for version, _ in postgres.MIGRATIONS]
    assert sqlite_versions == postgres_versions
    assert postgres_versions == list(range(1, len(postgres_versions) + 1))


def sqlite_columns(conn: Conn, table: str) -> set[str]:
    return {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}


def postgres_columns(conn: Conn, table: str) -> set[str]:
    sql = "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
    return {row[0] for row in conn.execute(sql, (table,))}


def test_postgres_schema_has_the_sqlite_tables_and_columns(pg_url: str, tmp_path: Path) -> None:
    lite = StateStore.open(tmp_path)
    pg = StateStore.open(tmp_path, pg_url)
    try:
        for table in TABLES:
            lite_columns = lite.read(partial(sqlite_columns, table=table))
            pg_columns = pg.read(partial(postgres_columns, table=table))
            # PostgreSQL adds only the `seq` tie-break column (SQLite has rowid).
            assert pg_columns - {"seq"} == lite_columns, table
    finally:
        lite.close()
        pg.close()


def test_reopening_is_idempotent_and_a_newer_schema_is_refused(
    store: StateStore, tmp_path: Path
) -> None:
    store.call_sync(lambda c: c.execute("INSERT INTO schema_migrations VALUES (1, 0)"))
    store.close()
    again = StateStore.open(tmp_path, "" if store.dialect == "sqlite" else store.location)
    known = max(version for version, _ in sqlite.MIGRATIONS)
    count = again.read(lambda c: c.execute("SELECT COUNT(*) FROM schema_migrations").fetchone())
    assert count[0] == known + 1  # nothing re-applied
    again.call_sync(lambda c: c.execute("INSERT INTO schema_migrations VALUES (99, 0)"))
    again.close()
    with pytest.raises(DataDirError, match="newer than this lunard"):
        StateStore.open(tmp_path, "" if store.dialect == "sqlite" else store.location)
    # `store` is closed already; the fixture closes it again harmlessly.


def test_an_unreachable_database_is_a_data_dir_error(tmp_path: Path) -> None:
    with pytest.raises(DataDirError, match="cannot use state database"):
        StateStore.open(tmp_path, "postgresql://nobody@127.0.0.1:1/none")


def test_migrations_hold_the_advisory_lock(pg_url: str) -> None:
    """While another session holds the migration lock, migrating waits (no race)."""
    with psycopg.connect(pg_url) as holder, psycopg.connect(pg_url) as other:
        holder.execute("SELECT pg_advisory_lock(%s)", (postgres.MIGRATION_LOCK,))
        other.execute("SET lock_timeout = '200ms'")
        other.commit()
        with pytest.raises(psycopg.errors.LockNotAvailable):
            postgres.migrate(other)
        holder.execute("SELECT pg_advisory_unlock(%s)", (postgres.MIGRATION_LOCK,))
        assert postgres.migrate(other) == len(postgres.MIGRATIONS)
