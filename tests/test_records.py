"""The records schema and its read queries (http-api §3.3–3.6, §5.22–5.26), on a real file."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from lunard.errors import DataDirError
from lunard.messages import (
    LogLevel,
)
from lunard.records import schema, store
from lunard.records.sink import _open
from lunard.records.writes import write_batches
from tests.factories import T0, make_ai, make_batch, make_email, make_execution, make_log


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = _open(tmp_path / "records.duckdb")
    yield connection
    connection.close()


# --------------------------------------------------------------------------- schema


def test_migrate_creates_versioned_schema_once(tmp_path: Path) -> None:
    path = tmp_path / "records.duckdb"
    first = _open(path)
    first.close()
    again = _open(path)  # reopening applies nothing twice
    try:
        rows = again.execute("SELECT version FROM schema_migrations").fetchall()
        tables = {r[0] for r in again.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        again.close()
    assert rows == [(store.SCHEMA_VERSION,)]
    assert {"executions", "logs", "ai_requests", "email_requests"} <= tables


def test_schema_newer_than_code_is_a_data_dir_error(tmp_path: Path) -> None:
    path = tmp_path / "records.duckdb"
    conn = _open(path)
    conn.execute("INSERT INTO schema_migrations VALUES (999, now()::TIMESTAMP)")
    conn.close()
    with pytest.raises(DataDirError, match="schema version 999"):
        _open(path)


# The DDL of every released schema version, as it was released (frozen here: the column
# lists in lunard.records.schema must go on producing exactly this, so data dirs written by
# any earlier lunard open unchanged).
RELEASED_DDL = {
    1: """
        CREATE TYPE execution_status AS ENUM ('pending', 'success', 'error');
        CREATE TYPE log_level AS ENUM ('debug', 'info', 'warn', 'error');

        CREATE TABLE executions (
            id VARCHAR NOT NULL,
            function_id VARCHAR NOT NULL,
            function_version_id VARCHAR NOT NULL,
            status execution_status NOT NULL,
            duration_ms INTEGER,
            error_message VARCHAR,
            event_json VARCHAR NOT NULL,
            response_json VARCHAR,
            "trigger" VARCHAR NOT NULL DEFAULT 'http',
            created_at TIMESTAMP NOT NULL
        );

        CREATE TABLE logs (
            execution_id VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            level log_level NOT NULL,
            message VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        );

        CREATE TABLE ai_requests (
            id VARCHAR NOT NULL,
            execution_id VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            provider VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            endpoint VARCHAR NOT NULL,
            request_json VARCHAR NOT NULL,
            response_json VARCHAR,
            status VARCHAR NOT NULL,
            error_message VARCHAR,
            input_tokens INTEGER,
            output_tokens INTEGER,
            duration_ms INTEGER NOT NULL,
            created_at TIMESTAMP NOT NULL
        );

        CREATE TABLE email_requests (
            id VARCHAR NOT NULL,
            execution_id VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            from_address VARCHAR NOT NULL,
            to_addresses VARCHAR[] NOT NULL,
            subject VARCHAR NOT NULL,
            has_text BOOLEAN NOT NULL,
            has_html BOOLEAN NOT NULL,
            request_json VARCHAR NOT NULL,
            response_json VARCHAR,
            status VARCHAR NOT NULL,
            error_message VARCHAR,
            email_id VARCHAR,
            duration_ms INTEGER NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
    """,
}


def _released_file(path: Path) -> None:
    """A records file as the released lunard of the newest released version wrote it."""
    conn = duckdb.connect(str(path))
    try:
        conn.execute(
            "CREATE TABLE schema_migrations "
            "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        for version, ddl in sorted(RELEASED_DDL.items()):
            conn.execute(ddl)
            conn.execute("INSERT INTO schema_migrations VALUES (?, now()::TIMESTAMP)", [version])
    finally:
        conn.close()


def _shape(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What DuckDB says the file holds: each table's DDL in its own words, and the enums."""
    tables = conn.execute(
        "SELECT table_name, sql FROM duckdb_tables() WHERE database_name = current_database() "
        "ORDER BY table_name"
    ).fetchall()
    enums = conn.execute(
        "SELECT type_name, labels FROM duckdb_types() WHERE database_name = current_database() "
        "AND logical_type = 'ENUM' AND labels IS NOT NULL ORDER BY type_name"
    ).fetchall()
    return {"tables": tables, "enums": enums}


def test_column_lists_are_the_tables_a_fresh_database_has(conn: duckdb.DuckDBPyConnection) -> None:
    # Every declared column, in order, with its type, NULL-ness and default, as DuckDB
    # reports it; and no table or column that the lists do not declare.
    def duckdb_type(column: schema.Column) -> str:
        if column.sql_type in schema.ENUMS:
            labels = schema.ENUMS[column.sql_type][0]
            return f"ENUM({', '.join(repr(label) for label in labels)})"
        return column.sql_type

    declared = [
        (table.name, i, c.name, duckdb_type(c), c.null, c.default)
        for table in schema.TABLES
        for i, c in enumerate(table.columns, start=1)
    ]
    actual = conn.execute(
        "SELECT table_name, column_index, column_name, data_type, is_nullable, column_default "
        "FROM duckdb_columns() WHERE database_name = current_database() "
        "AND table_name <> 'schema_migrations'"
    ).fetchall()
    order = [t.name for t in schema.TABLES]
    actual.sort(key=lambda row: (order.index(row[0]), row[1]))
    assert actual == declared
    enums = conn.execute(
        "SELECT type_name, labels FROM duckdb_types() WHERE database_name = current_database() "
        "AND logical_type = 'ENUM' AND labels IS NOT NULL"
    ).fetchall()
    assert {name: tuple(labels) for name, labels in enums} == {
        name: labels for name, (labels, _) in schema.ENUMS.items()
    }


def test_released_files_have_the_schema_the_column_lists_make(tmp_path: Path) -> None:
    assert max(RELEASED_DDL) == store.SCHEMA_VERSION, "add the new version's DDL to RELEASED_DDL"
    old_path = tmp_path / "old.duckdb"
    _released_file(old_path)
    fresh = _open(tmp_path / "fresh.duckdb")
    old = _open(old_path)  # applies nothing: the released file is already current
    try:
        assert _shape(old) == _shape(fresh)
        assert old.execute("SELECT count(*) FROM schema_migrations").fetchone() == (
            len(RELEASED_DDL),
        )
        # The same records written to both read back the same, through every read.
        execution = make_execution(created_at=T0, response_json='{"statusCode":200}')
        batch = make_batch(execution, logs=[make_log("hi")], ai=1, email=1)
        for conn in (old, fresh):
            write_batches(conn, [batch])
        item = store.get_execution(old, execution.id)
        assert item is not None and item["response_json"] == '{"statusCode":200}'
        assert item == store.get_execution(fresh, execution.id)
        for read in (store.list_logs, store.list_ai_requests, store.list_email_requests):
            page = read(old, execution.id, 20, 0)
            assert page[1] == 1
            assert page == read(fresh, execution.id, 20, 0)
        assert store.list_executions(old, execution.function_id, 20, 0) == (
            store.list_executions(fresh, execution.function_id, 20, 0)
        )
    finally:
        old.close()
        fresh.close()


def test_a_column_added_later_is_one_line_and_old_and_fresh_files_agree(tmp_path: Path) -> None:
    # What "adding a column is one edit" promises: a Column with since=N+1 at the end of
    # its table's list is migration N+1 (ADD COLUMN, the default fills stored rows), and a
    # fresh file, which runs every step, ends up with the same table as an upgraded one.
    region = schema.Column("region", "VARCHAR", default="'eu'", since=store.SCHEMA_VERSION + 1)
    executions = dataclasses.replace(
        schema.EXECUTIONS, columns=(*schema.EXECUTIONS.columns, region)
    )
    tables = [executions if t is schema.EXECUTIONS else t for t in schema.TABLES]
    steps = schema.migrations(tables)
    assert [v for v, _ in steps] == [*range(1, store.SCHEMA_VERSION + 1), region.since]
    assert (
        steps[-1][1]
        == "ALTER TABLE executions ADD COLUMN \"region\" VARCHAR NOT NULL DEFAULT 'eu';\n"
    )

    old = _open(tmp_path / "old.duckdb")
    fresh = duckdb.connect(str(tmp_path / "fresh.duckdb"))
    try:
        execution = make_execution()
        write_batches(old, [make_batch(execution)])
        assert schema.migrate(old, steps) == schema.migrate(fresh, steps) == region.since
        assert _shape(old) == _shape(fresh)
        row = old.execute("SELECT region FROM executions WHERE id = ?", [execution.id]).fetchone()
        assert row == ("eu",)
    finally:
        old.close()
        fresh.close()


# --------------------------------------------------------------------------- executions


def test_list_executions_newest_first_without_response_json(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    old = make_execution(created_at=T0, response_json='{"statusCode":200}')
    new = make_execution(created_at=T0 + 60, response_json='{"statusCode":201}')
    other = make_execution(function_id="fn2", created_at=T0 + 30)
    write_batches(conn, [make_batch(old), make_batch(other), make_batch(new)])

    items, total = store.list_executions(conn, "fn1", 20, 0)

    assert total == 2
    assert [i["id"] for i in items] == [new.id, old.id]
    assert all("response_json" not in i for i in items)
    assert items[0] == {
        "id": new.id,
        "function_id": "fn1",
        "function_version_id": "ver_fn1_v1",
        "status": "success",
        "duration_ms": 12,
        "event_json": '{"method":"GET","path":"/fn/x"}',
        "trigger": "http",
        "created_at": T0 + 60,
    }


def test_list_executions_paginates_with_total(conn: duckdb.DuckDBPyConnection) -> None:
    executions = [make_execution(created_at=T0 + i) for i in range(25)]
    write_batches(conn, [make_batch(e) for e in executions])
    newest_first = [e.id for e in reversed(executions)]

    page1, total1 = store.list_executions(conn, "fn1", 10, 0)
    page3, total3 = store.list_executions(conn, "fn1", 10, 20)
    past_end, total_past = store.list_executions(conn, "fn1", 10, 100)

    assert (total1, total3, total_past) == (25, 25, 25)
    assert [i["id"] for i in page1] == newest_first[:10]
    assert [i["id"] for i in page3] == newest_first[20:]
    assert past_end == []


def test_list_executions_of_unknown_function_is_empty_list(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    assert store.list_executions(conn, "nope", 20, 0) == ([], 0)


def test_get_execution_includes_response_and_error(conn: duckdb.DuckDBPyConnection) -> None:
    failed = make_execution(
        status="error",
        error_message="boom at line 3",
        response_json='{"statusCode":500}',
        trigger="cron",
    )
    write_batches(conn, [make_batch(failed)])

    item = store.get_execution(conn, failed.id)

    assert item is not None
    assert item["status"] == "error"
    assert item["error_message"] == "boom at line 3"
    assert item["response_json"] == '{"statusCode":500}'
    assert item["trigger"] == "cron"
    assert item["created_at"] == T0
    assert isinstance(item["created_at"], int)


def test_get_execution_omits_null_fields(conn: duckdb.DuckDBPyConnection) -> None:
    execution = make_execution()
    write_batches(conn, [make_batch(execution)])

    item = store.get_execution(conn, execution.id)

    assert item is not None
    assert "error_message" not in item
    assert "response_json" not in item


def test_get_and_exists_for_unknown_execution(conn: duckdb.DuckDBPyConnection) -> None:
    execution = make_execution()
    write_batches(conn, [make_batch(execution)])

    assert store.get_execution(conn, "unknown") is None
    assert store.execution_exists(conn, "unknown") is False
    assert store.execution_exists(conn, execution.id) is True


# --------------------------------------------------------------------------- logs


def test_logs_oldest_first_in_insertion_order_within_a_second(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    # Same second, and two lines with the very same timestamp: written order wins.
    lines = [
        make_log("first", created_at=T0 + 0.1),
        make_log("second", level="debug", created_at=T0 + 0.1),
        make_log("third", level="warn", created_at=T0 + 0.7),
        make_log("fourth", level="error", created_at=T0 + 1.2),
    ]
    execution = make_execution()
    write_batches(conn, [make_batch(execution, logs=lines)])

    items, total = store.list_logs(conn, execution.id, 20, 0)

    assert total == 4
    assert items == [
        {"level": "info", "message": "first", "created_at": T0},
        {"level": "debug", "message": "second", "created_at": T0},
        {"level": "warn", "message": "third", "created_at": T0},
        {"level": "error", "message": "fourth", "created_at": T0 + 1},
    ]


def test_logs_paginate_and_unknown_level_reads_as_info(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    lines = [make_log(f"l{i}", created_at=T0 + i) for i in range(5)]
    lines.append(make_log("odd", level="trace", created_at=T0 + 9))
    execution = make_execution()
    write_batches(conn, [make_batch(execution, logs=lines)])

    page, total = store.list_logs(conn, execution.id, 2, 4)

    assert total == 6
    assert [(i["message"], i["level"]) for i in page] == [("l4", "info"), ("odd", "info")]


def test_logs_of_execution_without_logs_is_empty_list(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    execution = make_execution()
    write_batches(conn, [make_batch(execution), make_batch(logs=3)])

    assert store.list_logs(conn, execution.id, 20, 0) == ([], 0)


# --------------------------------------------------------------------------- AI and email


def test_ai_requests_shape_order_and_omitted_nulls(conn: duckdb.DuckDBPyConnection) -> None:
    ok = make_ai(created_at=T0 + 1)
    failed = make_ai(
        created_at=T0 + 2,
        response_json=None,
        status="error",
        error_message="rate limited",
        input_tokens=None,
        output_tokens=None,
        provider="anthropic",
    )
    same_second = make_ai(created_at=T0 + 2, model="second-in-that-second")
    execution = make_execution()
    write_batches(conn, [make_batch(execution, ai=[ok, failed, same_second]), make_batch(ai=2)])

    items, total = store.list_ai_requests(conn, execution.id, 20, 0)

    assert total == 3
    assert [i["id"] for i in items] == [ok.id, failed.id, same_second.id]
    assert items[0] == {
        "id": ok.id,
        "execution_id": execution.id,
        "provider": "openai",
        "model": "gpt-4o-mini",
        "endpoint": "https://api.openai.com/v1/chat/completions",
        "request_json": '{"messages":[]}',
        "response_json": '{"ok":true}',
        "status": "success",
        "input_tokens": 10,
        "output_tokens": 5,
        "duration_ms": 300,
        "created_at": T0 + 1,
    }
    assert items[1] == {
        "id": failed.id,
        "execution_id": execution.id,
        "provider": "anthropic",
        "model": "gpt-4o-mini",
        "endpoint": "https://api.openai.com/v1/chat/completions",
        "request_json": '{"messages":[]}',
        "status": "error",
        "error_message": "rate limited",
        "duration_ms": 300,
        "created_at": T0 + 2,
    }
    page, _ = store.list_ai_requests(conn, execution.id, 1, 1)
    assert [i["id"] for i in page] == [failed.id]


def test_email_requests_shape_order_and_omitted_nulls(conn: duckdb.DuckDBPyConnection) -> None:
    sent = make_email(created_at=T0 + 1)
    failed = make_email(
        created_at=T0 + 2,
        to_addresses=["solo@example.com"],
        has_text=False,
        has_html=True,
        response_json=None,
        status="error",
        error_message="invalid api key",
        email_id=None,
    )
    execution = make_execution()
    write_batches(conn, [make_batch(execution, email=[sent, failed]), make_batch(email=1)])

    items, total = store.list_email_requests(conn, execution.id, 20, 0)

    assert total == 2
    assert items[0] == {
        "id": sent.id,
        "execution_id": execution.id,
        "from": "app@example.com",
        "to": ['"Doe, Jane" <jane@example.com>', "bob@example.com"],
        "subject": "Hello",
        "has_text": True,
        "has_html": False,
        "request_json": '{"subject":"Hello"}',
        "response_json": '{"id":"re_1"}',
        "status": "success",
        "email_id": "re_1",
        "duration_ms": 120,
        "created_at": T0 + 1,
    }
    assert items[1] == {
        "id": failed.id,
        "execution_id": execution.id,
        "from": "app@example.com",
        "to": ["solo@example.com"],
        "subject": "Hello",
        "has_text": False,
        "has_html": True,
        "request_json": '{"subject":"Hello"}',
        "status": "error",
        "error_message": "invalid api key",
        "duration_ms": 120,
        "created_at": T0 + 2,
    }


def test_ai_and_email_lists_are_empty_lists_when_none(conn: duckdb.DuckDBPyConnection) -> None:
    execution = make_execution()
    write_batches(conn, [make_batch(execution)])

    assert store.list_ai_requests(conn, execution.id, 20, 0) == ([], 0)
    assert store.list_email_requests(conn, execution.id, 20, 0) == ([], 0)


def test_log_level_type_is_enum(conn: duckdb.DuckDBPyConnection) -> None:
    # The analytics issue relies on the closed set; a stray level must never be stored.
    row = conn.execute(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'logs' AND column_name = 'level'"
    ).fetchone()
    assert row is not None
    assert row[0].startswith("ENUM")
    levels: tuple[LogLevel, ...] = ("debug", "info", "warn", "error")
    assert levels == store.LOG_LEVELS
