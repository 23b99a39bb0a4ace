"""State migrations: a file written by an older lunard is upgraded in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lunard.state import StateStore
from lunard.state.db import STATE_FILE, connect, migrate
from lunard.state.migrations import MIGRATIONS
from lunard.state.runtime import load_target


def test_functions_of_a_version_1_file_get_no_concurrency_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = connect(tmp_path / STATE_FILE)
    with monkeypatch.context() as patch:
        patch.setattr("lunard.state.db.MIGRATIONS", MIGRATIONS[:1])  # before migration 2
        assert migrate(conn) == 1
    conn.execute(
        "INSERT INTO functions (id, name, created_at, updated_at) VALUES ('old', 'old', 1, 1)"
    )
    conn.close()

    store = StateStore.open(tmp_path)
    try:
        target = store.read(lambda c: load_target(c, "old"))
        assert target is not None
        assert target.max_concurrency is None
        version = store.read(
            lambda c: c.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
        )
        assert version == max(v for v, _ in MIGRATIONS)
        store.call_sync(
            lambda c: c.execute("UPDATE functions SET max_concurrency = 0 WHERE id = 'old'")
        )
        target = store.read(lambda c: load_target(c, "old"))
        assert target is not None and target.max_concurrency == 0
    finally:
        store.close()


def test_migrations_are_numbered_in_order() -> None:
    versions = [v for v, _ in MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))
    # db.migrate runs each statement separately, split on semicolons.
    for _, sql in MIGRATIONS:
        for statement in sql.split(";"):
            if statement.strip():
                assert sqlite3.complete_statement(statement + ";"), statement
