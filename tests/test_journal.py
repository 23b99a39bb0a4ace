"""The journal on real files: group commit, dropping committed frames, replay after a crash."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import duckdb
import pytest
import trio

from lunard.messages import RecordBatch, RecordWrite
from lunard.records import journal as journal_module
from lunard.records.journal import Journal, encode_frame, read_segment, segments
from lunard.records.sink import Sink, _open, query
from lunard.records.writes import replay_journal
from tests.factories import counts, make_batch


def write_segment(directory: Path, batches: list[RecordBatch], name: str = "segment-1.wal") -> Path:
    """A segment as the journal writes it, for replay tests."""
    import msgspec

    directory.mkdir(parents=True, exist_ok=True)
    encoder = msgspec.msgpack.Encoder()
    path = directory / name
    path.write_bytes(b"".join(encode_frame(encoder.encode(b)) for b in batches))
    return path


async def submit(journal: Journal, batch: RecordBatch) -> None:
    """Send one batch the way the pool does and wait until it is written."""
    written = trio.Event()
    await journal.inbox.send(RecordWrite(batch, written))
    await written.wait()


async def start_pair(
    nursery: trio.Nursery, tmp_path: Path, **options: Any
) -> tuple[Sink, Journal, Path]:
    """A real sink with a journal in front of it, as the supervisor wires them."""
    directory = tmp_path / "journal"
    committed, committed_receive = trio.open_memory_channel[int](64)
    sink = Sink(
        path=tmp_path / "records.duckdb",
        journal_dir=directory,
        committed=committed,
        flush_interval=options.pop("flush_interval", 3600.0),
        batch_rows=options.pop("batch_rows", 1_000_000),
    )
    await nursery.start(sink.run)
    journal = Journal(directory=directory, sink=sink.inbox, committed=committed_receive, **options)
    await nursery.start(journal.run)
    return sink, journal, directory


def size_of(path: Path) -> int:
    """A segment's size; 0 once the journal's thread has deleted it meanwhile."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def journaled(directory: Path) -> list[RecordBatch]:
    return [batch for path in segments(directory) for batch in read_segment(path)]


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("durability", ["process", "fsync"])
async def test_a_batch_is_on_disk_when_its_write_is_acknowledged(
    tmp_path: Path, nursery: trio.Nursery, durability: str
) -> None:
    _, journal, directory = await start_pair(nursery, tmp_path, durability=durability)
    batch = make_batch(logs=2, ai=1, email=1)
    await submit(journal, batch)

    on_disk = journaled(directory)
    assert [b.execution.id for b in on_disk] == [batch.execution.id]
    assert on_disk[0].logs == batch.logs
    assert on_disk[0].ai_requests == batch.ai_requests
    assert on_disk[0].email_requests == batch.email_requests
    assert on_disk[0].journal_seq == 1


async def test_calls_finishing_together_share_one_write(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    _, journal, directory = await start_pair(nursery, tmp_path)
    events = [trio.Event() for _ in range(20)]
    for event in events:  # queued before the journal runs again: one group
        journal.inbox.send_nowait(RecordWrite(make_batch(logs=1), event))
    for event in events:
        await event.wait()
    assert journal.stats.frames == 20
    assert journal.stats.groups == 1
    assert len(journaled(directory)) == 20


async def test_segments_rotate_and_committed_ones_are_deleted(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    sink, journal, directory = await start_pair(nursery, tmp_path, segment_bytes=1)
    for _ in range(3):
        await submit(journal, make_batch())
    assert len(segments(directory)) >= 3  # every group starts a new segment

    await query(sink.inbox, counts)
    with trio.fail_after(5):
        while any(size_of(p) for p in segments(directory)):
            await trio.sleep(0.01)
    assert journaled(directory) == []


async def test_durability_off_writes_no_file_and_still_records(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    sink, journal, directory = await start_pair(nursery, tmp_path, durability="off")
    await submit(journal, make_batch(logs=1))
    assert segments(directory) == []
    assert (await query(sink.inbox, counts))["executions"] == 1


async def test_a_clean_stop_leaves_an_empty_journal(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        sink, journal, directory = await start_pair(nursery, tmp_path)
        for _ in range(4):
            await submit(journal, make_batch(logs=1))
        journal.inbox.close()  # as the supervisor does once the pool has stopped
        with trio.fail_after(10):
            while journal.stats.frames != 4 or segments(directory):
                await trio.sleep(0.01)
        assert (await query(sink.inbox, counts))["executions"] == 4
        nursery.cancel_scope.cancel()


async def test_a_failed_write_still_reaches_the_sink(
    tmp_path: Path, nursery: trio.Nursery, caplog: Any
) -> None:
    sink, journal, directory = await start_pair(nursery, tmp_path)
    for path in segments(directory):
        path.unlink()
    journal._fd, fd = None, journal._fd  # a file we cannot write to
    assert fd is not None
    journal_module.os.close(fd)
    journal._fd = journal_module.os.open("/dev/full", journal_module.os.O_WRONLY)

    await submit(journal, make_batch())
    assert journal.stats.write_errors == 1
    assert "not crash-safe" in caplog.text
    assert (await query(sink.inbox, counts))["executions"] == 1


# --------------------------------------------------------------------------- replay


def test_replay_is_idempotent(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    batches = [make_batch(logs=2, ai=1, email=1) for _ in range(3)]
    conn = _open(tmp_path / "records.duckdb")
    try:
        write_segment(directory, batches)
        assert replay_journal(conn, directory) == 3
        assert segments(directory) == []
        # The same frames again (a crash after the commit, before the delete): nothing new.
        write_segment(directory, batches + batches[:1], name="segment-2.wal")
        assert replay_journal(conn, directory) == 0
        assert counts(conn) == {"executions": 3, "logs": 6, "ai_requests": 3, "email_requests": 3}
    finally:
        conn.close()


def test_a_torn_last_frame_is_ignored_with_a_warning(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="lunard.records.journal")
    directory = tmp_path / "journal"
    batches = [make_batch(logs=1) for _ in range(3)]
    path = write_segment(directory, batches)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 7])  # the last frame was being written

    conn = _open(tmp_path / "records.duckdb")
    try:
        assert replay_journal(conn, directory) == 2
        ids = {r[0] for r in conn.execute("SELECT id FROM executions").fetchall()}
    finally:
        conn.close()
    assert ids == {b.execution.id for b in batches[:2]}
    assert "a frame cut short" in caplog.text


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data + b"\x01\x02\x03", "an incomplete frame header"),
        (lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]), "checksum fails"),
    ],
)
def test_other_torn_tails_are_ignored(
    tmp_path: Path, caplog: Any, damage: Any, message: str
) -> None:
    directory = tmp_path / "journal"
    path = write_segment(directory, [make_batch(), make_batch()])
    path.write_bytes(damage(path.read_bytes()))
    kept = list(read_segment(path))
    assert len(kept) == (2 if "header" in message else 1)
    assert message in caplog.text


async def test_the_sink_is_ready_only_after_replaying(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    batches = [make_batch(logs=1) for _ in range(50)]
    write_segment(directory, batches)
    async with trio.open_nursery() as nursery:
        sink = Sink(path=tmp_path / "records.duckdb", journal_dir=directory)
        await nursery.start(sink.run)
        # No flush can have happened yet: what is there was written by the replay.
        assert sink.stats.rows_written == 0
        assert (await query(sink.inbox, counts))["executions"] == 50
        nursery.cancel_scope.cancel()
    assert segments(directory) == []


def test_a_segment_that_cannot_be_replayed_is_kept_aside(tmp_path: Path, caplog: Any) -> None:
    directory = tmp_path / "journal"
    write_segment(directory, [make_batch()])
    conn = duckdb.connect(str(tmp_path / "broken.duckdb"))  # no records tables at all
    try:
        conn.execute("CREATE TABLE executions (id VARCHAR)")
        assert replay_journal(conn, directory) == 0
    finally:
        conn.close()
    assert (directory / "segment-1.wal.failed").exists()
    assert "replaying" in caplog.text
