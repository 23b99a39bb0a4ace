"""Execution records on PostgreSQL (`records_url`): the schema made from the one column list
per table, day partitions, the `PgSink` actor's group commits (a call's record is committed
before its `RecordWrite` is released), reads with the same JSON as DuckDB's, deletes and
retention by partition, journal replay — all on the suite's throwaway PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
import trio

from lunard.messages import RecordBatch, RecordWrite
from lunard.records import journal, pg_schema, pg_store, schema, store
from lunard.records.pg_sink import PgSink
from lunard.records.sink import NeedsLake, Sink, delete, on_cursor, query
from lunard.transactions import SchemaTooNew
from tests.factories import T0, make_ai, make_batch, make_email, make_execution, make_log

DAY = 86_400


async def start_pg(nursery: trio.Nursery, url: str, **options: Any) -> PgSink:
    sink = PgSink(url=url, **options)
    await nursery.start(sink.run)
    return sink


def at_once(node: Callable[[], None], count: int) -> list[BaseException]:
    """Run `node` on `count` threads at once (nodes racing); the exceptions they raised."""
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            node()
        except BaseException as exc:  # reported to the caller
            errors.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def pg_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in schema.TABLE_NAMES
        }


# --------------------------------------------------------------------------- schema


def test_tables_follow_the_column_lists_partitioned_with_their_keys(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        assert pg_schema.migrate(conn) == schema.SCHEMA_VERSION
        for table in schema.TABLES:
            columns = conn.execute(
                "SELECT column_name, is_nullable FROM information_schema.columns "
                "WHERE table_name = %s ORDER BY ordinal_position",
                (table.name,),
            ).fetchall()
            assert columns == [(c.name, "YES" if c.null else "NO") for c in table.columns]
            kind = conn.execute(
                "SELECT relkind FROM pg_class WHERE relname = %s", (table.name,)
            ).fetchone()
            assert kind == ("p",)  # partitioned
        indexes = {
            row[0]
            for row in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'executions'"
            ).fetchall()
        }
    assert any("PRIMARY KEY" in i or "(id, created_at)" in i for i in indexes)
    assert any("function_id, created_at DESC" in i for i in indexes)


def test_nodes_migrating_at_once_apply_each_version_once(pg_url: str) -> None:
    results: list[int] = []

    def node() -> None:
        with psycopg.connect(pg_url) as conn:
            results.append(pg_schema.migrate(conn))

    assert at_once(node, 4) == []
    assert results == [schema.SCHEMA_VERSION] * 4
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(f"SELECT version FROM {pg_schema.VERSION_TABLE}").fetchall()
    assert rows == [(v,) for v, _ in pg_schema.MIGRATIONS]


def test_a_newer_records_schema_is_refused(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        pg_schema.migrate(conn)
        conn.execute(f"INSERT INTO {pg_schema.VERSION_TABLE} (version) VALUES (99)")
        conn.commit()
        with pytest.raises(SchemaTooNew, match="version 99"):
            pg_schema.migrate(conn)


def test_partitions_made_once_by_nodes_racing(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        pg_schema.migrate(conn)
    days = {dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(3)}
    made: list[int] = []

    def node() -> None:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            made.append(pg_schema.ensure_partitions(conn, days))

    assert at_once(node, 4) == []
    assert sorted(made) == [0, 0, 0, 3 * len(schema.TABLES)]
    with psycopg.connect(pg_url) as conn:
        for table in schema.TABLE_NAMES:
            assert pg_schema.partition_days(conn, table) == sorted(days)


async def test_today_and_tomorrow_at_start_and_on_each_day_change(
    pg_url: str, nursery: trio.Nursery
) -> None:
    now = [1_800_000_000]  # 2027-01-15 08:00 UTC
    sink = await start_pg(nursery, pg_url, clock=lambda: now[0])
    jan = [dt.date(2027, 1, day) for day in (15, 16, 17)]
    with psycopg.connect(pg_url) as conn:
        for table in schema.TABLE_NAMES:
            assert pg_schema.partition_days(conn, table) == jan[:2]

    now[0] += DAY  # the next write after midnight makes the new tomorrow
    batch = make_batch(make_execution(created_at=now[0]), logs=1)
    await sink.inbox.send(batch)
    assert await query(sink.inbox, lambda c: pg_store.execution_exists(c, batch.execution.id))
    with psycopg.connect(pg_url) as conn:
        for table in schema.TABLE_NAMES:
            assert pg_schema.partition_days(conn, table) == jan


# --------------------------------------------------------------------------- writing


async def test_record_write_released_only_after_commit(pg_url: str, nursery: trio.Nursery) -> None:
    sink = await start_pg(nursery, pg_url, flush_interval=0.005)
    batch = make_batch(logs=3, ai=1, email=1)
    written = trio.Event()
    await sink.inbox.send(RecordWrite(batch, written))
    await written.wait()

    # Another connection ("node B") sees the record the moment the write is released.
    with psycopg.connect(pg_url) as other:
        item = pg_store.get_execution(other, batch.execution.id)
        logs, total = pg_store.list_logs(other, batch.execution.id, 20, 0)
    assert item is not None and item["id"] == batch.execution.id
    assert total == 3 and [log["message"] for log in logs] == ["line 0", "line 1", "line 2"]
    assert sink.stats.flushes == {"time": 1}


async def test_a_nul_in_a_log_line_costs_neither_its_batch_nor_the_others(
    pg_url: str, nursery: trio.Nursery
) -> None:
    # Lua strings may hold NUL; PostgreSQL text cannot: it is stored as U+FFFD, and the
    # other calls of the same group commit are written too.
    sink = await start_pg(nursery, pg_url, flush_interval=0.005)
    odd = make_batch(logs=[make_log("a\x00b")])
    plain = make_batch(logs=1)
    events = [trio.Event(), trio.Event()]
    await sink.inbox.send(RecordWrite(odd, events[0]))
    await sink.inbox.send(RecordWrite(plain, events[1]))
    for event in events:
        await event.wait()
    with psycopg.connect(pg_url) as other:
        logs, _ = pg_store.list_logs(other, odd.execution.id, 20, 0)
        assert pg_store.get_execution(other, plain.execution.id) is not None
    assert [log["message"] for log in logs] == ["a\ufffdb"]


async def test_calls_finishing_together_share_one_commit(
    pg_url: str, nursery: trio.Nursery
) -> None:
    sink = await start_pg(nursery, pg_url, flush_interval=0.005)
    writes = [RecordWrite(make_batch(logs=2), trio.Event()) for _ in range(50)]
    for write in writes:
        await sink.inbox.send(write)
    for write in writes:
        await write.written.wait()

    assert sum(sink.stats.flushes.values()) < 50
    assert sink.stats.rows_written == 150
    assert pg_counts(pg_url)["executions"] == 50


async def test_size_threshold_flushes_before_the_interval(
    pg_url: str, nursery: trio.Nursery
) -> None:
    sink = await start_pg(nursery, pg_url, batch_rows=10, flush_interval=3600)
    for _ in range(4):
        await sink.inbox.send(make_batch(logs=2))  # 3 rows each: the 4th passes 10
    written = trio.Event()
    await sink.inbox.send(RecordWrite(make_batch(), written))
    with trio.fail_after(30):
        while sink.stats.flushes["size"] == 0:
            await trio.sleep(0.01)
    assert pg_counts(pg_url)["executions"] >= 4


async def test_a_batch_on_an_old_day_gets_its_partition(pg_url: str, nursery: trio.Nursery) -> None:
    sink = await start_pg(nursery, pg_url)
    old = make_execution(created_at=T0)  # 2023-11-14
    await sink.inbox.send(make_batch(old, logs=1))
    found = await query(sink.inbox, lambda c: pg_store.execution_exists(c, old.id))
    assert found
    with psycopg.connect(pg_url) as conn:
        assert dt.date(2023, 11, 14) in pg_schema.partition_days(conn, "logs")


async def test_shutdown_commits_what_is_buffered(pg_url: str) -> None:
    batch = make_batch(logs=1)
    async with trio.open_nursery() as nursery:
        sink = await start_pg(nursery, pg_url, flush_interval=3600)
        await sink.inbox.send(batch)
        nursery.cancel_scope.cancel()
    assert pg_counts(pg_url) == {"executions": 1, "logs": 1, "ai_requests": 0, "email_requests": 0}


async def test_journal_in_front_is_replayed_once(
    pg_url: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    stored, fresh = make_batch(logs=1), make_batch(logs=2)
    async with trio.open_nursery() as first:
        sink = await start_pg(first, pg_url)
        await sink.inbox.send(stored)
        first.cancel_scope.cancel()
    directory = tmp_path / "journal"
    directory.mkdir()
    encoder = msgspec.msgpack.Encoder()
    frames = [journal.encode_frame(encoder.encode(b)) for b in (stored, fresh, fresh)]
    (directory / "segment-1.wal").write_bytes(b"".join(frames))

    await start_pg(nursery, pg_url, journal_dir=directory)

    assert pg_counts(pg_url) == {"executions": 2, "logs": 3, "ai_requests": 0, "email_requests": 0}
    assert journal.segments(directory) == []


# --------------------------------------------------------------------------- same JSON


def varied_batches() -> list[RecordBatch]:
    """Records that exercise every field rule: omitted NULLs, an empty trigger, an unknown
    log level, recipients with commas, equal timestamps, AI and email rows."""
    batches = []
    for i in range(7):
        execution = make_execution(
            function_id="fn1" if i % 3 else "fn2",
            created_at=T0 + (i // 2) * 60,  # pairs share a second: the id breaks the tie
            status="error" if i == 3 else "success",
            error_message="boom: ü" if i == 3 else None,
            response_json='{"statusCode":200}' if i % 2 else None,
            trigger="cron" if i == 4 else ("" if i == 5 else "http"),  # type: ignore[arg-type]
            duration_ms=i * 7,
        )
        logs = [make_log(f"line {n} ✓", created_at=T0 + i * 60 + n / 3) for n in range(4)]
        logs.append(make_log("odd level", level="trace", created_at=T0 + i * 60 + 1))
        ai = [
            make_ai(created_at=T0 + i * 60, input_tokens=None, response_json=None),
            make_ai(created_at=T0 + i * 60),
        ]
        email = [make_email(created_at=T0 + i * 60, email_id=None, to_addresses=["a@x.org"])]
        email.append(make_email(created_at=T0 + i * 60))
        batches.append(make_batch(execution, logs=logs, ai=ai, email=email))
    return batches


def reads(module: Any, batches: list[RecordBatch]) -> list[Callable[[Any], Any]]:
    """Every read of the API, over the given records, as functions of a connection."""
    first, error = batches[0].execution.id, batches[3].execution.id

    def call(name: str, *args: Any) -> Callable[[Any], Any]:
        return lambda conn: getattr(module, name)(conn, *args)

    calls = [
        call("list_executions", fid, limit, offset)
        for fid in ("fn1", "fn2", "nope")
        for limit, offset in ((20, 0), (2, 1), (3, 4))
    ]
    for eid in (first, error, "missing"):
        calls += [call("get_execution", eid), call("execution_exists", eid)]
        calls += [
            call(lister, eid, limit, offset)
            for lister in ("list_logs", "list_ai_requests", "list_email_requests")
            for limit, offset in ((20, 0), (1, 1))
        ]
    return calls


def as_json(value: Any) -> str:
    # As `lunard.http.responses.json_response` encodes it.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def test_both_backends_give_the_same_json(
    pg_url: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    batches = varied_batches()
    duck = Sink(path=tmp_path / "records.duckdb")
    await nursery.start(duck.run)
    pg = await start_pg(nursery, pg_url)
    for batch in batches:
        await duck.inbox.send(batch)
        await pg.inbox.send(batch)

    duck_answers = [as_json(await query(duck.inbox, read)) for read in reads(store, batches)]
    pg_answers = [as_json(await query(pg.inbox, read)) for read in reads(pg_store, batches)]

    assert pg_answers == duck_answers
    listed = json.loads(duck_answers[0])[0]
    assert [e["id"] for e in listed] == [  # the order both agree on: newest first, id breaks ties
        b.execution.id
        for b in sorted(
            batches, key=lambda b: (b.execution.created_at, b.execution.id), reverse=True
        )
        if b.execution.function_id == "fn1"
    ]
    assert any("error_message" in e for e in json.loads(duck_answers[3])[0])


async def test_analytics_on_postgres_records_ask_for_the_lake(
    pg_url: str, nursery: trio.Nursery
) -> None:
    sink = await start_pg(nursery, pg_url)
    with pytest.raises(NeedsLake, match="needs lake_url") as caught:
        await on_cursor(sink.inbox, lambda cursor: cursor.execute("SELECT 1"))
    assert caught.value.status == 503


# --------------------------------------------------------------------------- deletes


async def test_delete_by_function_and_by_version(pg_url: str, nursery: trio.Nursery) -> None:
    sink = await start_pg(nursery, pg_url)
    keep = make_batch(make_execution(function_id="keep"), logs=1, ai=1, email=1)
    by_fn = [make_batch(make_execution(function_id="gone"), logs=2, ai=1) for _ in range(3)]
    by_version = make_batch(make_execution(function_id="keep", version_id="v_old"), logs=1)
    for batch in (keep, *by_fn, by_version):
        await sink.inbox.send(batch)

    assert await delete(sink.inbox, function_id="gone") == 3
    assert await delete(sink.inbox, version_id="v_old") == 1
    assert await delete(sink.inbox, function_id="gone") == 0

    assert pg_counts(pg_url) == {"executions": 1, "logs": 1, "ai_requests": 1, "email_requests": 1}


async def test_retention_drops_old_days_and_deletes_per_function(
    pg_url: str, nursery: trio.Nursery
) -> None:
    now = T0 + 30 * DAY
    sink = await start_pg(nursery, pg_url, clock=lambda: now)
    ages = {"ancient": 10 * DAY, "middle": 3 * DAY, "fresh": DAY // 2}
    made = {
        (fid, age): make_batch(make_execution(function_id=fid, created_at=now - s), logs=2, ai=1)
        for fid in ("short", "long")
        for age, s in ages.items()
    }
    for batch in made.values():
        await sink.inbox.send(batch)
    cutoffs = {"short": now - 1 * DAY, "long": now - 7 * DAY}

    deleted = await delete(sink.inbox, older_than=cutoffs)

    # Both "ancient" (their whole day partition dropped) and short's "middle" row.
    assert deleted == 3
    remaining = await query(
        sink.inbox, lambda c: {e["id"] for e in pg_store.list_executions(c, "long", 20, 0)[0]}
    )
    assert remaining == {made["long", "middle"].execution.id, made["long", "fresh"].execution.id}
    assert pg_counts(pg_url) == {"executions": 3, "logs": 6, "ai_requests": 3, "email_requests": 0}
    ancient_day = dt.datetime.fromtimestamp(now - 10 * DAY, dt.UTC).date()
    with psycopg.connect(pg_url) as conn:
        for table in schema.TABLE_NAMES:
            assert ancient_day not in pg_schema.partition_days(conn, table)
    # The sink still writes on every day afterwards (its partition cache was reset).
    late = make_batch(make_execution(created_at=now - 10 * DAY), logs=1)
    await sink.inbox.send(late)
    assert await query(sink.inbox, lambda c: pg_store.execution_exists(c, late.execution.id))
