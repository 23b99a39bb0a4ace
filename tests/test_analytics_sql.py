"""The read-only SQL runner on a real records file opened the way the sink opens it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import trio

from lunard import analytics_sql
from lunard.analytics_sql import AnalyticsRefused, check_sql, on_cursor, run_query
from lunard.sink import Sink, _open, query
from tests.test_analytics import NOW, insert_executions
from tests.test_records import make_batch


@pytest.fixture
def records(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = _open(tmp_path / "records.duckdb")
    insert_executions(
        conn,
        [{"id": f"e{i}", "function_id": f"f{i % 2}", "created_at": NOW - i} for i in range(10)],
    )
    yield conn
    conn.close()


@pytest.fixture
def cursor(records: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    cur = records.cursor()
    yield cur
    cur.close()


def test_select_returns_columns_and_json_rows(cursor: duckdb.DuckDBPyConnection) -> None:
    result = run_query(
        cursor,
        "SELECT function_id, count(*) AS n, max(created_at) AS latest FROM executions "
        "GROUP BY ALL ORDER BY function_id",
    )

    assert [c["name"] for c in result.columns] == ["function_id", "n", "latest"]
    assert [c["type"] for c in result.columns] == ["VARCHAR", "BIGINT", "TIMESTAMP"]
    assert result.rows == [["f0", 5, "2023-11-14T22:13:00"], ["f1", 5, "2023-11-14T22:12:59"]]
    assert result.truncated is False


def test_row_limit_truncates(cursor: duckdb.DuckDBPyConnection) -> None:
    result = run_query(cursor, "SELECT id FROM executions ORDER BY id", limit=3)

    assert result.rows == [["e0"], ["e1"], ["e2"]]
    assert result.truncated is True
    assert result.to_json()["row_count"] == 3


def test_with_describe_and_values_are_selects(cursor: duckdb.DuckDBPyConnection) -> None:
    assert run_query(cursor, "WITH t AS (FROM executions) SELECT count(*) FROM t").rows == [[10]]
    assert run_query(cursor, "DESCRIBE executions").rows[0][:2] == ["id", "VARCHAR"]
    assert run_query(cursor, "VALUES (1, 'a')").rows == [[1, "a"]]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
        ("SELECT * FROM read_parquet('/tmp/x.parquet')", "file system operations are disabled"),
        ("SELECT * FROM glob('/etc/*')", "file system operations are disabled"),
        ("SELECT * FROM read_text('/etc/hostname')", "file system operations are disabled"),
        ("SELECT * FROM '/etc/passwd'", "query failed"),
    ],
)
def test_file_access_is_refused_by_duckdb(
    cursor: duckdb.DuckDBPyConnection, sql: str, message: str
) -> None:
    with pytest.raises(AnalyticsRefused, match=message):
        run_query(cursor, sql)


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("COPY executions TO '/tmp/stolen.csv'", "COPY"),
        ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
        ("INSTALL httpfs", "LOAD"),
        ("LOAD httpfs", "LOAD"),
        ("SET enable_external_access = true", "SET"),
        ("PRAGMA threads = 1", "SET"),  # DuckDB parses an assigning PRAGMA as SET
        ("PRAGMA database_size", "PRAGMA"),
        ("CREATE TABLE t AS SELECT 1", "CREATE"),
        ("INSERT INTO executions SELECT * FROM executions", "INSERT"),
        ("UPDATE executions SET status = 'error'", "UPDATE"),
        ("DELETE FROM executions", "DELETE"),
        ("DROP TABLE executions", "DROP"),
        ("EXPORT DATABASE '/tmp/dump'", "EXPORT"),
        ("CALL pragma_version()", "CALL"),
    ],
)
def test_statements_other_than_select_are_refused(
    cursor: duckdb.DuckDBPyConnection, records: duckdb.DuckDBPyConnection, sql: str, kind: str
) -> None:
    with pytest.raises(AnalyticsRefused, match=f"only read-only SELECT .* {kind}"):
        run_query(cursor, sql)
    assert records.execute("SELECT count(*) FROM executions").fetchone() == (10,)


def test_more_than_one_statement_is_refused(cursor: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(AnalyticsRefused, match="exactly one statement, got 2"):
        run_query(cursor, "SELECT 1; DELETE FROM executions")


def test_unparsable_and_empty_sql_are_refused() -> None:
    with pytest.raises(AnalyticsRefused, match="does not parse"):
        check_sql("SELEC 1")
    with pytest.raises(AnalyticsRefused, match="empty"):
        check_sql("  ")


def test_runaway_query_is_interrupted_at_the_time_limit(
    cursor: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(AnalyticsRefused, match=r"exceeded the time limit of 0\.2s"):
        run_query(cursor, "SELECT count(*) FROM range(1000000000000)", time_limit=0.2)
    with pytest.raises(AnalyticsRefused, match=r"exceeded the time limit of 0\.2s"):
        run_query(
            cursor,
            "SELECT sum(a.range * b.range) FROM range(10000000) a, range(10000000) b",
            time_limit=0.2,
        )
    assert run_query(cursor, "SELECT count(*) FROM executions").rows == [[10]]


def test_the_records_instance_itself_is_locked(records: duckdb.DuckDBPyConnection) -> None:
    # Even code holding the sink's own connection cannot read files or change settings.
    with pytest.raises(duckdb.PermissionException):
        records.execute("SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        records.execute("SET enable_external_access = true")


def test_read_only_transaction_refuses_writes(cursor: duckdb.DuckDBPyConnection) -> None:
    # The second lock, beneath the statement check: DuckDB refuses writes in the transaction.
    cursor.execute("BEGIN TRANSACTION READ ONLY")
    try:
        with pytest.raises(duckdb.TransactionException, match="read-only"):
            cursor.execute("DELETE FROM executions")
    finally:
        cursor.execute("ROLLBACK")


async def test_on_cursor_sees_records_just_sent_to_the_sink(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        sink = Sink(path=tmp_path / "records.duckdb", flush_interval=3600)
        await nursery.start(sink.run)
        batch = make_batch(logs=2)
        await sink.inbox.send(batch)

        result = await on_cursor(
            sink.inbox, lambda cur: run_query(cur, "SELECT id FROM executions")
        )
        logs = await on_cursor(sink.inbox, lambda cur: run_query(cur, "FROM logs"))
        still_serving = await query(sink.inbox, lambda c: c.execute("SELECT 42").fetchone())
        nursery.cancel_scope.cancel()

    assert result.rows == [[batch.execution.id]]
    assert logs.to_json()["row_count"] == 2
    assert still_serving == (42,)


def test_json_values() -> None:
    import datetime as dt
    import decimal
    import uuid

    assert analytics_sql.json_value(decimal.Decimal("1.50")) == 1.5
    assert analytics_sql.json_value(dt.timedelta(days=1)) == 86400.0
    assert analytics_sql.json_value(b"ab") == "YWI="
    assert analytics_sql.json_value({"k": [dt.date(2024, 1, 2)]}) == {"k": ["2024-01-02"]}
    u = uuid.uuid4()
    assert analytics_sql.json_value(u) == str(u)
