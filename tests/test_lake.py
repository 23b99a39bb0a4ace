"""Cluster analytics over the lake (issue 15 item 6): the exporter on the suite's throwaway
PostgreSQL writes each sealed slice once even with three exporters racing, the lake's rows
are PostgreSQL's rows, the canned reports and the SQL runner over the lake answer what they
answer over DuckDB's records file, and the lake's DuckDB reads nothing outside the lake."""

from __future__ import annotations

import random
import sqlite3
import threading
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
import trio

from lunard.messages import RecordBatch
from lunard.records import lake, pg_schema, pg_writes, reports, schema, sql_runner
from lunard.records.lake_export import Exported, Exporter, seal_delay
from lunard.records.pg_sink import PgSink
from lunard.records.sink import Sink, on_cursor, query
from lunard.records.sql_runner import AnalyticsRefused
from lunard.state import exports
from lunard.state.connection import connect_location
from lunard.state.migrations import postgres as pg_migrations
from lunard.state.migrations import sqlite as sqlite_migrations
from tests.factories import T0, make_ai, make_batch, make_email, make_execution, make_log

INTERVAL = 60
SEAL = 120.0
START = T0 - T0 % INTERVAL  # the first slice boundary at or before T0
SPAN = 10 * INTERVAL  # the seeded records cover ten slices
AFTER = START + SPAN + SEAL + INTERVAL  # a clock at which every seeded slice is sealed


def seeded_batches(count: int = 240, seed: int = 7) -> list[RecordBatch]:
    """Executions spread over ten slices (some exactly on a slice boundary), with logs, AI
    and email rows, errors, cron triggers and varied durations."""
    rng = random.Random(seed)
    batches = []
    for i in range(count):
        at = START + ((i // 10) % 10 * INTERVAL if i % 10 == 0 else rng.randrange(SPAN))
        error = i % 7 == 0
        execution = make_execution(
            function_id=("fn1", "fn2", "fn3")[i % 3],
            created_at=at,
            status="error" if error else "success",
            error_message=f"boom {i % 3}" if error else None,
            trigger="cron" if i % 5 == 0 else "http",
            duration_ms=rng.randrange(1, 500),
        )
        logs = [make_log(f"line {n}", created_at=at + n / 4) for n in range(i % 4)]
        ai = [make_ai(created_at=at)] if i % 6 == 0 else []
        email = [make_email(created_at=at)] if i % 9 == 0 else []
        batches.append(make_batch(execution, logs=logs, ai=ai, email=email))
    return batches


def migrate_state(url: str) -> None:
    with psycopg.connect(url) as conn:
        pg_migrations.migrate(conn)


def seed_pg(url: str, batches: list[RecordBatch]) -> None:
    """State and records schemas on `url`, and the batches' rows in the records tables."""
    migrate_state(url)
    columns = pg_writes.prepare(batches)
    with psycopg.connect(url) as conn:
        pg_schema.migrate(conn)
        pg_schema.ensure_partitions(conn, pg_writes.days_needed(columns))
        pg_writes.copy_rows(conn, columns)


def exporter(url: str, lake_dir: Path, node: str, **options: Any) -> Exporter:
    options.setdefault("interval", INTERVAL)
    options.setdefault("seal", SEAL)
    return Exporter(lake_dir=lake_dir, state_url=url, records_url=url, node=node, **options)


def pg_slice_counts(url: str, table: str) -> dict[int, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT floor(extract(epoch FROM created_at) / %s)::bigint * %s, count(*) "
            f"FROM {table} GROUP BY 1",
            (INTERVAL, INTERVAL),
        ).fetchall()
    return {int(start): int(n) for start, n in rows}


def lake_rows(lake_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = lake.open_lake(lake_dir, memory_mb=128, threads=1)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# --------------------------------------------------------------------------- claims


@pytest.fixture(params=["sqlite", "postgres"])
def claims_conn(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A state connection with migration 4 applied, on either backend."""
    if request.param == "sqlite":
        conn = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
        conn.row_factory = sqlite3.Row
        for _version, sql in sqlite_migrations.MIGRATIONS:
            conn.executescript(sql)
        yield conn
        conn.close()
    else:
        url = request.getfixturevalue("pg_url")
        migrate_state(url)
        pg_conn = connect_location(url)
        yield pg_conn
        pg_conn.close()


def test_claims_one_node_per_slice_takeover_and_as_of(claims_conn: Any) -> None:
    conn = claims_conn
    assert exports.data_as_of(conn, ["logs"]) is None
    assert exports.next_start(conn, "logs") is None
    assert exports.claim_slice(conn, "logs", 0, 60, "a", 1000, lease_until=1300)
    assert not exports.claim_slice(conn, "logs", 0, 60, "b", 1000, lease_until=1300)
    assert exports.claim_slice(conn, "logs", 60, 120, "b", 1000, lease_until=1300)
    assert exports.next_start(conn, "logs") == 120
    assert exports.data_as_of(conn, ["logs"]) == 0  # slice 0 is not exported yet

    assert exports.finish_slice(conn, "logs", 60, "b", 1001, row_count=5)
    assert not exports.finish_slice(conn, "logs", 60, "b", 1002, row_count=5)  # once
    assert exports.data_as_of(conn, ["logs"]) == 0
    # Node a died: its lease has not expired at 1299, it has at 1300.
    assert exports.take_over_expired(conn, "logs", "c", 1299, lease_until=1600) == []
    assert exports.take_over_expired(conn, "logs", "c", 1300, lease_until=1600) == [(0, 60)]
    assert exports.take_over_expired(conn, "logs", "d", 1300, lease_until=1600) == []
    assert not exports.finish_slice(conn, "logs", 0, "a", 1301, row_count=3)  # too late
    assert exports.finish_slice(conn, "logs", 0, "c", 1301, row_count=3)
    assert exports.data_as_of(conn, ["logs"]) == 120
    assert exports.data_as_of(conn, ["logs", "executions"]) is None  # nothing of executions

    # The sweep keeps each table's latest claim: it says where the next slice starts.
    assert exports.sweep_claims(conn, 120 + 8 * exports.SECONDS_PER_DAY) == 1
    assert exports.next_start(conn, "logs") == 120


# --------------------------------------------------------------------------- the exporter


def test_three_exporters_racing_export_each_slice_once(pg_url: str, tmp_path: Path) -> None:
    seed_pg(pg_url, seeded_batches())
    lake_dir = tmp_path / "lake"
    racers = [exporter(pg_url, lake_dir, node) for node in ("a", "b", "c")]
    results: dict[str, list[Exported]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(racers))

    def race(racer: Exporter) -> None:
        try:
            barrier.wait()
            results[racer.node] = racer.export_due(AFTER) + racer.export_due(AFTER)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            racer.close()

    threads = [threading.Thread(target=race, args=(r,)) for r in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors

    done = [(e.table, e.start) for found in results.values() for e in found]
    assert len(done) == len(set(done)), "a slice was exported twice"
    with psycopg.connect(pg_url) as conn:
        claims = conn.execute(
            "SELECT table_name, slice_start, node_id, finished_at IS NOT NULL, row_count "
            "FROM export_claims"
        ).fetchall()
    assert sorted(done) == sorted((t, s) for t, s, *_ in claims)
    assert all(finished for *_, finished, _ in claims)
    by_node = {node for _, _, node, _, _ in claims}
    assert by_node <= {"a", "b", "c"}

    for table in schema.TABLE_NAMES:
        expected = pg_slice_counts(pg_url, table)
        exported = {s: n for t, s, _, _, n in claims if t == table and n}
        assert exported == expected, table
        files = sorted(p.name for p in (lake_dir / table).glob("day=*/*.parquet"))
        assert files == sorted(f"slice-{s}-{s + INTERVAL}.parquet" for s in expected)
        assert not list((lake_dir / table).glob("day=*/.*"))  # no temporary file left
        (lake_count,) = lake_rows(lake_dir, f"SELECT count(*) FROM {table}")[0]
        assert lake_count == sum(expected.values())
    ids = lake_rows(lake_dir, "SELECT count(*), count(DISTINCT id) FROM executions")[0]
    assert ids == (240, 240)
    with psycopg.connect(pg_url) as conn:
        as_of = exports.data_as_of(connect_location(pg_url), schema.TABLE_NAMES)
        newest = conn.execute("SELECT max(created_at) FROM executions").fetchone()
    assert as_of == (AFTER - SEAL) // INTERVAL * INTERVAL
    assert newest is not None and lake.utc_seconds(newest[0]) < as_of


def test_a_slice_waits_until_sealed_and_a_dead_claim_is_taken_over(
    pg_url: str, tmp_path: Path
) -> None:
    seed_pg(pg_url, [make_batch(make_execution(created_at=START + 5), logs=2)])
    lake_dir = tmp_path / "lake"
    dead = exporter(pg_url, lake_dir, "dead", lease=100)
    # At START + INTERVAL + SEAL - 1 the slice has ended but is not sealed.
    early = dead.export_due(START + INTERVAL + SEAL - 1)
    assert [(e.table, e.rows) for e in early] == [("ai_requests", 0), ("email_requests", 0)]
    with psycopg.connect(pg_url) as conn:
        claimed = conn.execute("SELECT DISTINCT table_name FROM export_claims").fetchall()
    # Only the tables without records start at once (at the last sealed slice).
    assert sorted(claimed) == [("ai_requests",), ("email_requests",)]
    # "dead" claims the sealed slice and dies before exporting it.
    state = connect_location(pg_url)
    at = START + INTERVAL + int(SEAL)
    assert exports.claim_slice(state, "executions", START, START + INTERVAL, "dead", at, at + 100)
    alive = exporter(pg_url, lake_dir, "alive")
    assert all(e.table != "executions" for e in alive.export_due(at))  # still leased
    assert lake_rows(lake_dir, "SELECT count(*) FROM executions") == [(0,)]
    assert exports.data_as_of(state, ["executions"]) == START
    taken = alive.export_due(at + 100)
    # The taken-over slice first, then the one sealed meanwhile (empty).
    assert [(e.table, e.start, e.rows) for e in taken if e.table == "executions"] == [
        ("executions", START, 1),
        ("executions", START + INTERVAL, 0),
    ]
    assert lake_rows(lake_dir, "SELECT count(*) FROM executions") == [(1,)]
    assert lake_rows(lake_dir, "SELECT count(*) FROM logs") == [(2,)]
    assert exports.data_as_of(state, ["executions"]) == START + 2 * INTERVAL
    state.close()
    alive.close()
    dead.close()


def test_the_seal_delay_covers_the_longest_call() -> None:
    # A record carries its call's start; the call may run until the timeout, its record is
    # committed within the sink's flush interval after that.
    assert seal_delay(300, 0.2) == pytest.approx(330.2)
    assert seal_delay(5, 0.005) > 5 + 0.005


# --------------------------------------------------------------------------- reading


async def _both(
    tmp_path: Path, pg_url: str, nursery: trio.Nursery, batches: list[RecordBatch]
) -> tuple[Sink, Path]:
    """The batches in a DuckDB records file (a Sink) and exported from PostgreSQL to a lake."""
    migrate_state(pg_url)
    duck = Sink(path=tmp_path / "records.duckdb")
    await nursery.start(duck.run)
    pg = PgSink(url=pg_url)
    await nursery.start(pg.run)
    for batch in batches:
        await duck.inbox.send(batch)
        await pg.inbox.send(batch)
    await query(pg.inbox, lambda conn: None)  # flushed and committed
    lake_dir = tmp_path / "lake"
    export = exporter(pg_url, lake_dir, "a")
    await trio.to_thread.run_sync(export.export_due, AFTER)
    export.close()
    return duck, lake_dir


async def test_reports_over_the_lake_equal_the_duckdb_reports(
    tmp_path: Path, pg_url: str, nursery: trio.Nursery
) -> None:
    duck, lake_dir = await _both(tmp_path, pg_url, nursery, seeded_batches())
    now = START + SPAN + 30
    runs = [lambda c, w=window: reports.overview(c, w, now) for window in reports.WINDOWS]
    runs += [
        lambda c, f=fid: reports.function_report(c, f, "1h", now)
        for fid in ("fn1", "fn2", "fn3", "nope")
    ]
    for run in runs:
        over_duck = await on_cursor(duck.inbox, run)
        over_lake = await lake.on_lake(lake_dir, run, memory_mb=128, threads=1)
        assert over_lake == over_duck
    assert over_duck["invocations"] == 0  # "nope"
    overview = await lake.on_lake(
        lake_dir, lambda c: reports.overview(c, "1h", now), memory_mb=128, threads=1
    )
    assert overview["totals"]["invocations"] == 240
    assert overview["totals"]["errors"] == len([i for i in range(240) if i % 7 == 0])


QUERIES = [
    "SELECT function_id, count(*), quantile_disc(duration_ms, 0.5), "
    "count(*) FILTER (status = 'error') FROM executions GROUP BY 1 ORDER BY 1",
    "SELECT e.function_id, l.level, count(*) FROM logs l JOIN executions e "
    "ON e.id = l.execution_id GROUP BY ALL ORDER BY ALL",
    'SELECT id, status, created_at, "trigger" FROM executions ORDER BY created_at, id LIMIT 7',
    "SELECT to_addresses, has_text FROM email_requests ORDER BY created_at, id",
    "SELECT typeof(status), typeof(created_at) FROM executions LIMIT 1",
    "SELECT count(*) FROM ai_requests",
]


async def test_queries_over_the_lake_answer_as_over_duckdb(
    tmp_path: Path, pg_url: str, nursery: trio.Nursery
) -> None:
    duck, lake_dir = await _both(tmp_path, pg_url, nursery, seeded_batches(90))
    on_lake = lake.on_lake
    shape_duck = await on_cursor(duck.inbox, sql_runner.records_shape)
    assert await on_lake(lake_dir, sql_runner.records_shape, memory_mb=128, threads=1) == shape_duck
    for sql in QUERIES:

        def run(conn: duckdb.DuckDBPyConnection, sql: str = sql) -> Any:
            return sql_runner.run_query(conn, sql, limit=50, time_limit=10).rows

        assert await on_lake(lake_dir, run, memory_mb=128, threads=1) == await on_cursor(
            duck.inbox, run
        ), sql


def test_the_lake_reads_only_the_lake(pg_url: str, tmp_path: Path) -> None:
    seed_pg(pg_url, seeded_batches(30))
    lake_dir = tmp_path / "lake"
    exporter(pg_url, lake_dir, "a").export_due(AFTER)
    outside = tmp_path / "outside"
    outside.mkdir()
    duckdb.connect().execute(
        f"COPY (SELECT 42 AS secret) TO '{outside}/x.parquet' (FORMAT parquet)"
    )
    conn = lake.open_lake(lake_dir, memory_mb=128, threads=1)
    try:
        assert conn.execute("SELECT count(*) FROM executions").fetchone() == (30,)
        direct = conn.execute(
            f"SELECT count(*) FROM read_parquet('{lake_dir}/executions/**/*.parquet')"
        ).fetchone()
        assert direct == (30,)
        refused = [
            "SELECT * FROM read_csv('/etc/passwd')",
            f"SELECT * FROM read_parquet('{outside}/x.parquet')",
            f"SELECT * FROM read_parquet('{lake_dir}/../outside/x.parquet')",
            f"COPY (SELECT 1) TO '{outside}/y.parquet' (FORMAT parquet)",
            "SELECT * FROM glob('/etc/*')",
        ]
        for sql in refused:
            with pytest.raises(duckdb.PermissionException):
                conn.execute(sql)
        for sql in ("SET enable_external_access = true", "SET allowed_directories = ['/']"):
            with pytest.raises(duckdb.InvalidInputException, match="locked"):
                conn.execute(sql)
        allowed = conn.execute("SELECT current_setting('allowed_directories')").fetchall()
        assert allowed == [([f"{lake_dir}/"],)]
    finally:
        conn.close()
    assert not (outside / "y.parquet").exists()


def test_sandboxed_queries_over_the_lake_refuse_files(pg_url: str, tmp_path: Path) -> None:
    seed_pg(pg_url, seeded_batches(30))
    lake_dir = tmp_path / "lake"
    exporter(pg_url, lake_dir, "a").export_due(AFTER)
    conn = lake.open_lake(lake_dir, memory_mb=128, threads=1)
    try:
        for sql in (
            "SELECT * FROM read_csv('/etc/passwd')",
            "SELECT * FROM read_parquet('/tmp/elsewhere/*.parquet')",
            f"SELECT * FROM read_parquet('{lake_dir}/executions/**/*.parquet')",
            "SELECT current_setting('allowed_directories')",
        ):
            with pytest.raises(AnalyticsRefused, match="refused"):
                sql_runner.run_query(conn, sql, time_limit=10)
        answer = sql_runner.run_query(conn, "SELECT count(*) AS n FROM executions", time_limit=10)
        assert answer.rows == [[30]]
    finally:
        conn.close()


def test_an_empty_lake_has_the_tables_empty(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    lake_dir.mkdir()
    conn = lake.open_lake(lake_dir, memory_mb=64, threads=1)
    try:
        report = reports.overview(conn, "24h", T0)
        assert report["totals"]["invocations"] == 0
        assert sql_runner.run_query(conn, "SELECT count(*) FROM logs").rows == [[0]]
    finally:
        conn.close()


def test_lake_url_forms() -> None:
    assert lake.lake_dir("file:///srv/lake/") == Path("/srv/lake")
    assert lake.lake_dir("/srv/lake") == Path("/srv/lake")
    for bad in ("lake", "s3://bucket/x", "file://host/x"):
        with pytest.raises(Exception, match="lake_url"):
            lake.lake_dir(bad)
    assert lake.rfc3339(None) == "1970-01-01T00:00:00Z"
    assert lake.rfc3339(1_700_000_040) == "2023-11-14T22:14:00Z"


async def test_the_actor_exports_on_its_own_and_survives_a_failed_pass(
    pg_url: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    seed_pg(pg_url, seeded_batches(30))
    lake_dir = tmp_path / "lake"
    lake_dir.write_text("not a directory yet")  # the first passes fail (logged, retried)
    actor = exporter(pg_url, lake_dir, "a", tick=0.05, clock=lambda: float(AFTER))
    await nursery.start(actor.run)
    await trio.sleep(0.3)
    assert lake_dir.is_file()
    lake_dir.unlink()
    with trio.fail_after(30):
        while not list(lake_dir.glob("executions/day=*/*.parquet")):
            await trio.sleep(0.05)
    with trio.fail_after(30):
        while lake_rows(lake_dir, "SELECT count(*) FROM executions") != [(30,)]:
            await trio.sleep(0.05)
    nursery.cancel_scope.cancel()
