"""The worker process: `python -m lunard.worker --address ipc:///path --state LOCATION`.

LOCATION is the state SQLite file (`/path/lunard.db`) or a PostgreSQL URL (`state_url`):
one connection for the worker's life either way, in autocommit mode on PostgreSQL (psycopg
is imported only then; trio never is).

One process runs one execution at a time. It binds a Rep0 socket at `--address`, prints
`ready` on stdout (the pool waits for that line before it dials), then loops: receive a
msgpack `Job`, run it in a fresh Lua state (`runtime.run_job`), reply with a `JobResult`.

Between jobs it prepares the Lua state of the next one (`runtime.prepare_state`), so a call
does not pay for a new state; the first is made right after the ready line, while the pool
dials. A finished state is freed by refcounting the moment its job is answered (no gc
pass per call; see `_watch_freed`). Its log records (and uncaught exceptions) go to stderr
as one JSON object a line, which the pool turns into records of the daemon's own log
(`lunard.worker_process`).

It never dies because of a Lua failure (those are results). A Python `MemoryError` — the
address-space limit (`--address-space-mb`, RLIMIT_AS) was hit outside Lua's own cap — is
answered with an error result when that is still possible; otherwise the process exits and
the pool starts a new one. SIGINT is ignored (a Ctrl-C in the daemon's terminal is the
daemon's to handle); SIGTERM ends the process. A worker whose parent is gone exits.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import resource
import signal
import sys
import time
import weakref
from collections.abc import Sequence
from types import TracebackType

import msgspec

from lunard.state.connection import connect_location
from lunard.state.dialect import Conn
from lunard.wire import READY_LINE, WIRE_ENCODER, Job, JobLog, JobResult, job_decoder
from lunard.worker.blocking_nng import pynng
from lunard.worker.http_client import OutboundClient
from lunard.worker.modules import precompile
from lunard.worker.modules.bridge import Bridge
from lunard.worker.runtime import PreparedState, prepare_state, run_job

log = logging.getLogger("lunard.worker")

# How often an idle worker checks that the daemon still exists (a recv timeout, so it
# costs nothing while jobs flow).
PARENT_CHECK_MS = 1000


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lunard.worker")
    parser.add_argument("--address", required=True, help="nng address to listen on")
    parser.add_argument("--state", required=True, help="state SQLite file, or a postgresql:// URL")
    parser.add_argument(
        "--address-space-mb", type=int, default=0, help="RLIMIT_AS in MiB (0: no limit)"
    )
    return parser.parse_args(argv)


def _limit_address_space(megabytes: int) -> None:
    if megabytes <= 0:
        return
    limit = megabytes << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _error_result(execution_id: str, message: str) -> bytes:
    """An error JobResult, encoded; the message is recorded like any execution error."""
    result = JobResult(
        execution_id=execution_id,
        response=None,
        error=f"Error: {message}\n",
        logs=[JobLog(level="error", message=message, created_at=time.time())],
    )
    return WIRE_ENCODER.encode(result)


def handle(
    raw: bytes,
    decoder: msgspec.msgpack.Decoder[Job],
    state: Conn,
    outbound: OutboundClient | None = None,
    prepared: PreparedState | None = None,
) -> bytes:
    """One request → one encoded reply. Raises only MemoryError (the caller decides)."""
    try:
        job = decoder.decode(raw)
    except msgspec.DecodeError as exc:
        if prepared is not None:
            prepared.bridge.release()  # no job reached it; `run_job` releases the others
        return _error_result("", f"the worker received an invalid job: {exc}")
    try:
        return WIRE_ENCODER.encode(run_job(job, state, outbound, prepared))
    except MemoryError:
        raise
    except Exception as exc:
        # A bug on our side, not the function's: answer, keep serving, keep the traceback.
        log.exception("internal error in the worker running %s", job.execution_id)
        return _error_result(job.execution_id, f"internal error in the worker: {exc!r}")


def serve(address: str, state: Conn, outbound: OutboundClient) -> None:
    """Answer jobs on `address` until the parent process goes away."""
    decoder = job_decoder()
    parent = os.getppid()
    with pynng.Rep0(recv_timeout=PARENT_CHECK_MS) as socket:
        socket.listen(address)
        _announce_ready()
        prepared: PreparedState | None = prepare_state()
        precompile()  # json's codec, which a state loads on first use only
        while True:
            try:
                raw = socket.recv()
            except pynng.Timeout:
                if os.getppid() != parent:
                    return
                continue
            try:
                reply = handle(raw, decoder, state, outbound, prepared)
            except MemoryError:
                prepared = None
                reply = _memory_error_reply(raw)
            socket.send(reply)
            finished = _watch_freed(prepared)
            prepared = None
            _collect_unless_freed(finished)
            prepared = _prepare_next()


def _watch_freed(prepared: PreparedState | None) -> weakref.ref[Bridge] | None:
    """A weak reference that tells whether the finished job's state was freed.

    `handle` leaves the state released (`run_job` breaks its one reference cycle: the
    state holds the bridge's callable, the bridge held the state), so refcounting frees it
    as soon as the caller drops its last handle, with no gc pass per call.
    """
    return None if prepared is None else weakref.ref(prepared.bridge)


def _collect_unless_freed(finished: weakref.ref[Bridge] | None) -> None:
    """A full collection if the finished state is still alive (or was not tracked).

    The bridge lives exactly as long as its state (the state holds it). Should something
    keep the state in a cycle after all, or the job ran in a state of its own, collecting
    now keeps dead states from piling up under the address-space limit.
    """
    if finished is None or finished() is not None:
        gc.collect()


def _prepare_next() -> PreparedState | None:
    """The next job's state, made while idle; None (made at call time) if that fails."""
    try:
        return prepare_state()
    except MemoryError:
        return None
    except Exception:
        log.exception("preparing the next Lua state failed; the next job makes its own")
        return None


def _memory_error_reply(raw: bytes) -> bytes:
    # Whatever the failed run held is garbage now, so there is usually room to answer; if
    # not, this raises MemoryError again and the process exits (the pool replaces it).
    try:
        execution_id = job_decoder().decode(raw).execution_id
    except msgspec.DecodeError:
        execution_id = ""
    return _error_result(
        execution_id, "the worker ran out of memory (address-space limit) during the execution"
    )


def _announce_ready() -> None:
    out = sys.stdout.buffer
    out.write(READY_LINE)
    out.flush()
    # The pool closes its end after reading the line; anything printed later must not hit
    # a closed pipe.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


class _JsonLines(logging.Formatter):
    """One JSON object a line (level, logger, message, exception), read by the pool."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(entry).decode()


def _log_uncaught(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    log.critical("uncaught exception in the worker: %r", value, exc_info=(kind, value, tb))


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    sys.excepthook = _log_uncaught


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m lunard.worker`."""
    args = _parse(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _configure_logging()
    _limit_address_space(args.address_space_mb)
    state = connect_location(args.state)
    outbound = OutboundClient()
    try:
        serve(args.address, state, outbound)
    except MemoryError:
        return 3
    finally:
        outbound.close()
        state.close()
    return 0
