"""The sink's insert without Arrow (`Table.insert_statement` over `Table.values`): what goes
in comes back exactly, column by column, in every table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import duckdb
import pytest

from lunard.records import schema
from lunard.records.writes import delete_executions, write_batches
from tests.factories import T0, make_ai, make_batch, make_email, make_execution, make_log

START = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=T0)  # T0 as a TIMESTAMP


@pytest.fixture
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(":memory:")
    schema.migrate(connection)
    yield connection
    connection.close()


def test_insert_statements_bind_one_list_per_column_in_table_order() -> None:
    batch = make_batch(make_execution(), logs=[make_log("a", level="fatal")], ai=1, email=1)
    for table in schema.TABLES:
        values = table.values([batch])
        assert len(values) == len(table.columns) == table.insert_statement().count("unnest(")
        assert [len(column) for column in values] == [1] * len(table.columns)
    assert schema.LOGS.values([batch])[2] == ["info"]  # unknown level (§3.4)


def test_written_rows_read_back_exactly(conn: duckdb.DuckDBPyConnection) -> None:
    execution = make_execution(
        error_message="nul \x00 inside, é 😀", duration_ms=2**31 - 1, response_json=None
    )
    empty = make_execution(duration_ms=0, error_message=None)
    lines = [make_log("first\x00", level="warn", created_at=T0 + 0.123456), make_log("")]
    ai = make_ai(response_json=None, input_tokens=None, output_tokens=None, error_message="x")
    email = make_email(to_addresses=['"Doe, Jane" <jane@example.com>', "b\x00@x"], email_id=None)
    batches = [make_batch(execution, logs=lines, ai=[ai], email=[email]), make_batch(empty)]

    assert write_batches(conn, batches) == 2 + 2 + 1 + 1

    rows = conn.execute(
        "SELECT id, status::VARCHAR, duration_ms, error_message, response_json, trigger, "
        "created_at FROM executions ORDER BY duration_ms DESC"
    ).fetchall()
    assert rows == [
        (execution.id, "success", 2**31 - 1, execution.error_message, None, "http", START),
        (empty.id, "success", 0, None, None, "http", START),
    ]
    logs = conn.execute(
        "SELECT execution_id, seq, level::VARCHAR, message, created_at FROM logs ORDER BY seq"
    ).fetchall()
    assert logs == [
        (execution.id, 0, "warn", "first\x00", START + dt.timedelta(microseconds=123456)),
        (execution.id, 1, "info", "", START + dt.timedelta(microseconds=500000)),
    ]
    assert conn.execute(
        "SELECT execution_id, seq, response_json, input_tokens, output_tokens, error_message "
        "FROM ai_requests"
    ).fetchall() == [(execution.id, 0, None, None, None, "x")]
    assert conn.execute(
        "SELECT to_addresses, has_text, has_html, email_id FROM email_requests"
    ).fetchall() == [(['"Doe, Jane" <jane@example.com>', "b\x00@x"], True, False, None)]


def test_a_batch_without_child_rows_writes_only_its_execution(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    assert write_batches(conn, [make_batch()]) == 1
    assert write_batches(conn, []) == 0
    counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone() for t in schema.TABLE_NAMES]
    assert counts == [(1,), (0,), (0,), (0,)]


def test_cutoffs_delete_strictly_older_executions_per_function(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    kept = make_execution(function_id="a", created_at=T0)
    gone = make_execution(function_id="a", created_at=T0 - 1)
    other = make_execution(function_id="b", created_at=T0 - 100)
    write_batches(conn, [make_batch(e, logs=1) for e in (kept, gone, other)])

    assert delete_executions(conn, older_than={"a": T0, "c": T0}) == 1
    ids = {row[0] for row in conn.execute("SELECT id FROM executions").fetchall()}
    assert ids == {kept.id, other.id}
    assert conn.execute("SELECT count(*) FROM logs").fetchone() == (2,)
