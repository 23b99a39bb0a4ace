"""The records schema and its read queries (http-api §3.3–3.6, §5.22–5.26), on a real file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from lunard.errors import DataDirError
from lunard.messages import (
    LogLevel,
)
from lunard.records import store
from lunard.records.sink import _open, write_batches
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
