"""The journal actor: finished calls' records made durable before the caller is answered.

The sink keeps records in memory and writes them to DuckDB in batches, so a `kill -9` of
the daemon would lose whatever it had not written yet. The journal closes that gap at batch
cost: every finished call's `RecordBatch` is appended to an append-only file as one frame,
and the pool answers the call only once its frame is written. Frames of calls that finish
together are written with a single `write` (group commit); with `durability = "fsync"` one
`fdatasync` per group follows. The sink replays the journal into DuckDB when it starts
(`replay`), and says which frames it has committed, so the journal can drop them.

Files live in `<data_dir>/journal/` as segments `segment-<n>.wal`. A frame is
`<u32 payload length><u32 CRC-32 of payload><payload>` (little-endian), the payload a
msgpack-encoded `RecordBatch`. A frame that was only half written when the process died (a
torn tail) fails its length or CRC check and is skipped with a warning; replay stops reading
that segment there.

Durability modes (`Config.durability`):
- `off`: no journal; a crash loses the records the sink had not written (up to
  `sink_flush_interval` seconds of calls). The call path has no file write.
- `process`: a `write` per group before the answer. What reached the kernel survives the
  daemon's death (kill -9, OOM kill, crash), not a power loss or kernel panic.
- `fsync`: also `fdatasync` per group: survives power loss, at the cost of one disk flush
  per group of calls.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import trio

from lunard.messages import RecordBatch, RecordWrite, SinkQuery

log = logging.getLogger(__name__)

JOURNAL_DIR = "journal"
FRAME_HEADER = struct.Struct("<II")
# Rotate past this. Committed frames are dropped a whole closed segment at a time (deleted
# on a thread): truncating the file being appended to can block the loop while the kernel
# writes its pages back (seen as 380 ms p99 stalls). Replay after a crash rereads at most
# this much of already-committed frames and skips them.
SEGMENT_BYTES = 4 * 1024 * 1024
GROUP_MAX = 1024  # finished calls written with one write at most
_SEGMENT_NAME = re.compile(r"segment-(\d+)\.wal")


@dataclass
class JournalStats:
    """Counters the journal keeps about itself (tests and metrics read them)."""

    frames: int = 0
    groups: int = 0
    bytes_written: int = 0
    write_errors: int = 0


class Journal:
    """The journal actor.

    Owns: the segment files under `directory` and the open file of the current segment.

    Receives: `RecordWrite` on `inbox` (from the pool); sequence numbers on `committed`
    (from the sink, the receive end of a channel whose send end the sink was given): every
    frame up to that number is in DuckDB and may be dropped.

    Sends: each batch, stamped with its `journal_seq`, to `sink` once its frame is written
    (in the order written), then sets the write's `written` event. A failed file write is
    logged and the batch still goes to the sink (it is then only as safe as `off`).

    When `inbox` is closed it writes what is left, waits (bounded by `drain_timeout`) for
    the sink to commit the last frame, drops the committed segments and returns.
    """

    def __init__(
        self,
        *,
        directory: Path,
        sink: trio.MemorySendChannel[RecordBatch | SinkQuery],
        committed: trio.MemoryReceiveChannel[int],
        durability: str = "process",
        inbox_size: int = 10_000,
        segment_bytes: int = SEGMENT_BYTES,
        drain_timeout: float = 5.0,
    ) -> None:
        if durability not in ("off", "process", "fsync"):
            raise ValueError(f"unknown durability {durability!r}")
        self.directory = directory
        self.durability = durability
        self.segment_bytes = segment_bytes
        self.drain_timeout = drain_timeout
        self.stats = JournalStats()
        self.inbox: trio.MemorySendChannel[RecordWrite]
        self.inbox, self._receive = trio.open_memory_channel[RecordWrite](inbox_size)
        self._sink = sink
        self._committed = committed
        self._encoder = msgspec.msgpack.Encoder()
        self._fd: int | None = None
        self._segment: Path | None = None
        self._segment_size = 0
        self._segment_last = 0  # highest seq in the current segment (0: none)
        self._old: list[tuple[Path, int]] = []  # closed segments and their highest seq
        self._seq = 0
        self._committed_seq = 0
        self._commit_seen = trio.Event()

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Open a fresh segment, report ready, then write until the inbox is closed."""
        if self.durability != "off":
            self.directory.mkdir(parents=True, exist_ok=True)
            self._open_segment(_next_segment_number(self.directory))
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._serve_commits)
                task_status.started()
                await self._serve_writes()
                await self._drain()
                nursery.cancel_scope.cancel()
        finally:
            self._release_all_waiting()
            self._close_segment()

    # ----------------------------------------------------------------------- writing

    async def _serve_writes(self) -> None:
        while True:
            try:
                group = [await self._receive.receive()]
            except trio.EndOfChannel:
                return
            while len(group) < GROUP_MAX:
                try:
                    group.append(self._receive.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            try:
                await self._write_group(group)
            finally:
                for write in group:
                    write.written.set()

    async def _write_group(self, group: list[RecordWrite]) -> None:
        if self.durability == "off":
            for write in group:
                await self._forward(write.batch)
            return
        batches = []
        frames = []
        for write in group:
            self._seq += 1
            batch = _stamped(write.batch, self._seq)
            batches.append(batch)
            frames.append(encode_frame(self._encoder.encode(batch)))
        data = b"".join(frames)
        try:
            if self.durability == "fsync":
                # On a thread, so the loop runs on during the disk flush. Only this task
                # touches the file (rotation too), so nothing else needs to wait for it.
                assert self._fd is not None
                await trio.to_thread.run_sync(_write_all, self._fd, data, True)
            else:
                # A write to the page cache: microseconds, on the loop.
                assert self._fd is not None
                _write_all(self._fd, data, False)
        except OSError as exc:
            self.stats.write_errors += 1
            log.error(
                "journal: writing %d bytes to %s failed (%s); these records are not "
                "crash-safe until the sink has written them",
                len(data),
                self._segment,
                exc,
            )
        else:
            self._written(len(batches), len(data))
        for batch in batches:
            await self._forward(batch)

    def _written(self, frames: int, size: int) -> None:
        self.stats.frames += frames
        self.stats.groups += 1
        self.stats.bytes_written += size
        self._segment_size += size
        self._segment_last = self._seq
        if self._segment_size >= self.segment_bytes:
            self._rotate()

    async def _forward(self, batch: RecordBatch) -> None:
        try:
            self._sink.send_nowait(batch)
        except trio.WouldBlock:
            await self._sink.send(batch)  # the sink is behind: wait for room

    # ----------------------------------------------------------------------- dropping

    async def _serve_commits(self) -> None:
        async for seq in self._committed:
            # Only the newest notice matters; take what else is queued at once.
            while True:
                try:
                    seq = max(seq, self._committed.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            doomed = self._drop_through(seq)
            if doomed:
                await trio.to_thread.run_sync(_unlink_all, doomed)

    def _drop_through(self, seq: int) -> list[Path]:
        """Every frame up to `seq` is committed: return the closed segments that now hold
        nothing replay would need (the caller deletes them)."""
        self._committed_seq = max(self._committed_seq, seq)
        doomed = [path for path, last in self._old if last <= seq]
        self._old = [(path, last) for path, last in self._old if last > seq]
        self._commit_seen.set()
        self._commit_seen = trio.Event()
        return doomed

    async def _drain(self) -> None:
        """On the way out: ask the sink to write everything now, and give it `drain_timeout`
        seconds to commit the last frame, so a clean stop leaves an empty journal."""
        last = self._seq
        if last == 0:
            return
        with trio.move_on_after(self.drain_timeout):
            reply, answer = trio.open_memory_channel[Any](1)
            with reply, answer:
                # Any query makes the sink flush first; its answer means the flush is done.
                try:
                    await self._sink.send(SinkQuery(run=_nothing, reply=reply))
                    await answer.receive()
                except (trio.BrokenResourceError, trio.ClosedResourceError, trio.EndOfChannel):
                    return  # the sink is gone; replay at the next start writes the rest
            while self._committed_seq < last:
                await self._commit_seen.wait()

    # ----------------------------------------------------------------------- files

    def _open_segment(self, number: int) -> None:
        path = self.directory / f"segment-{number}.wal"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._segment, self._segment_size, self._segment_last = path, 0, self._seq
        if self.durability == "fsync":
            _sync_directory(self.directory)  # the new file's name must survive power loss too

    def _rotate(self) -> None:
        assert self._segment is not None
        number = _segment_number(self._segment) + 1
        self._old.append((self._segment, self._segment_last))
        self._close_segment()
        self._open_segment(number)

    def _close_segment(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        if self._segment is not None and self._segment_last <= self._committed_seq:
            self._segment.unlink(missing_ok=True)  # nothing in it that replay would need
        for path, last in self._old:
            if last <= self._committed_seq:
                path.unlink(missing_ok=True)

    def _release_all_waiting(self) -> None:
        # Cancelled mid-group, or writes still queued: never leave the pool waiting.
        while True:
            try:
                self._receive.receive_nowait().written.set()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break


def _stamped(batch: RecordBatch, seq: int) -> RecordBatch:
    """`batch` with its journal position (built directly: `dataclasses.replace` costs more
    than the frame's write on this path)."""
    return RecordBatch(
        execution=batch.execution,
        logs=batch.logs,
        ai_requests=batch.ai_requests,
        email_requests=batch.email_requests,
        journal_seq=seq,
    )


def _nothing(conn: Any) -> None:
    return None


def encode_frame(payload: bytes) -> bytes:
    """One journal frame: length, CRC-32, payload."""
    return FRAME_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _write_all(fd: int, data: bytes, sync: bool) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    if sync:
        os.fdatasync(fd)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _segment_number(path: Path) -> int:
    match = _SEGMENT_NAME.fullmatch(path.name)
    return int(match.group(1)) if match else 0


def segments(directory: Path) -> list[Path]:
    """The journal's segment files, oldest first."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _SEGMENT_NAME.fullmatch(p.name)]
    return sorted(found, key=_segment_number)


def _next_segment_number(directory: Path) -> int:
    existing = segments(directory)
    return _segment_number(existing[-1]) + 1 if existing else 1


# --------------------------------------------------------------------------- replay


def read_segment(path: Path) -> Iterator[RecordBatch]:
    """The batches in one segment, in order. A torn or corrupt frame ends the segment
    (with a warning): it was being written when the process died."""
    decoder = msgspec.msgpack.Decoder(RecordBatch)
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        header_end = offset + FRAME_HEADER.size
        if header_end > len(data):
            _warn_torn(path, offset, len(data) - offset, "an incomplete frame header")
            return
        length, crc = FRAME_HEADER.unpack_from(data, offset)
        payload = data[header_end : header_end + length]
        if len(payload) < length:
            _warn_torn(path, offset, len(data) - offset, "a frame cut short")
            return
        if zlib.crc32(payload) != crc:
            _warn_torn(path, offset, len(data) - offset, "a frame whose checksum fails")
            return
        offset = header_end + length
        try:
            yield decoder.decode(payload)
        except msgspec.DecodeError as exc:
            log.warning("journal: %s: skipping an undecodable frame at %d (%s)", path, offset, exc)


def _warn_torn(path: Path, offset: int, size: int, what: str) -> None:
    log.warning(
        "journal: %s ends with %s at byte %d (%d bytes ignored): the daemon stopped while "
        "writing it, and that call was not answered",
        path,
        what,
        offset,
        size,
    )
