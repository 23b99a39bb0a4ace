"""The boot-failure policy with real worker processes that cannot start (issue 12 item 3),
and the workers' stderr as records of the daemon's log."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio

from lunard.errors import WorkerBootError
from lunard.http.deps import Readiness
from lunard.ids import new_id
from lunard.jobs import enqueue
from lunard.logs import JsonFormatter
from lunard.messages import ExecOutcome, ExecRequest, RecordWrite
from lunard.pool import Pool
from lunard.state.db import StateStore
from lunard.worker_process import BOOT_FAILURES_FATAL, BOOT_FAILURES_NOT_READY
from tests.factories import make_job

HELLO = 'function handler(ctx, event) return {statusCode = 200, body = "hello"} end'
MISSING_LUAJIT = "ImportError: libluajit-5.1.so.2: cannot open shared object file"


@dataclass
class RecordingReadiness(Readiness):
    """The daemon's real Readiness, plus the order of what the pool told it."""

    history: list[tuple[str, str]] = field(default_factory=list)

    def problem(self, component: str, reason: str) -> None:
        self.history.append(("problem", reason))
        super().problem(component, reason)

    def resolved(self, component: str) -> None:
        self.history.append(("resolved", component))
        super().resolved(component)


def interpreter(tmp_path: Path, plan: Sequence[str]) -> Path:
    """An executable standing in for Python: start n follows line n of `plan` (the last
    line repeats): `ok` runs the real interpreter, `fail` prints a plain error on stderr
    and exits 1. Every start is counted in `starts`."""
    (tmp_path / "plan").write_text("\n".join(plan) + "\n")
    script = tmp_path / "python"
    script.write_text(
        f"""#!/bin/sh
dir={tmp_path}
n=$(cat "$dir/starts" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$dir/starts"
word=$(sed -n "${{n}}p" "$dir/plan")
[ -n "$word" ] || word=$(tail -n 1 "$dir/plan")
if [ "$word" = ok ]; then exec {sys.executable} "$@"; fi
echo "{MISSING_LUAJIT} (start $n)" >&2
exit 1
"""
    )
    script.chmod(0o755)
    return script


def starts(tmp_path: Path) -> int:
    return int((tmp_path / "starts").read_text())


def make_pool(
    tmp_path: Path,
    readiness: Readiness,
    writes: trio.MemorySendChannel[RecordWrite],
    *,
    python: str = sys.executable,
    state_path: Path | None = None,
) -> Pool:
    (tmp_path / "data").mkdir(exist_ok=True)
    store = StateStore.open(tmp_path / "data")
    store.close()
    return Pool(
        workers=1,
        queue_size=4,
        runtime_dir=tmp_path / "run",
        state_path=state_path or store.path,
        worker_address_space_mb=1024,
        records=writes,
        python=python,
        readiness=readiness,
        restart_backoff_s=(0.01,),
    )


async def acknowledge(writes: trio.MemoryReceiveChannel[RecordWrite]) -> None:
    """Stand in for the journal: mark each batch written at once."""
    async for write in writes:
        write.written.set()


async def test_a_worker_that_never_starts_makes_the_pool_unready_then_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The real worker, failing for real: its state file cannot be opened.
    readiness = RecordingReadiness()
    writes, _ = trio.open_memory_channel[RecordWrite](10)
    pool = make_pool(tmp_path, readiness, writes, state_path=tmp_path / "missing" / "lunard.db")
    caplog.set_level(logging.WARNING)
    with pytest.raises(WorkerBootError) as caught:
        await pool.run()  # it never reports started
    message = caught.value.message
    assert f"worker 0 failed to start {BOOT_FAILURES_FATAL} times in a row" in message
    assert "exited during start-up (exit status 1)" in message
    assert "unable to open database file" in message  # the worker's own last words
    assert "Check that" in message and "-m lunard.worker" in message
    assert WorkerBootError.exit_code == 3

    # Not ready from the third failure on, with the reason; never resolved.
    problems = [reason for kind, reason in readiness.history if kind == "problem"]
    assert len(problems) == BOOT_FAILURES_FATAL - BOOT_FAILURES_NOT_READY + 1
    assert problems[0].startswith(f"worker 0 failed to start {BOOT_FAILURES_NOT_READY} times")
    assert "unable to open database file" in readiness.problems["pool"]
    assert not readiness.ready

    # Each failed start's traceback arrived as one record (level and exception kept).
    crashes = [r for r in caplog.records if r.name == "lunard.worker" and r.levelname == "CRITICAL"]
    assert len(crashes) == BOOT_FAILURES_FATAL
    assert crashes[0].exc_text is not None and "sqlite3.OperationalError" in crashes[0].exc_text
    line = JsonFormatter().format(crashes[0])
    assert "\n" not in line
    entry = json.loads(line)
    assert "unable to open database file" in entry["message"]
    assert "Traceback" in entry["exception"]
    assert isinstance(entry["worker_pid"], int) and entry["worker_slot"] == 0


async def test_a_plain_stderr_line_is_the_reason_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    readiness = RecordingReadiness()
    writes, _ = trio.open_memory_channel[RecordWrite](10)
    script = interpreter(tmp_path, ["fail"])
    pool = make_pool(tmp_path, readiness, writes, python=str(script))
    caplog.set_level(logging.WARNING)
    with pytest.raises(WorkerBootError) as caught:
        await pool.run()  # it never reports started
    assert starts(tmp_path) == BOOT_FAILURES_FATAL
    assert f"{MISSING_LUAJIT} (start {BOOT_FAILURES_FATAL})" in caught.value.message
    assert MISSING_LUAJIT in readiness.problems["pool"]
    plain = [r for r in caplog.records if r.name == "lunard.worker" and r.levelname == "WARNING"]
    assert [r.getMessage().endswith(f"(start {n})") for n, r in enumerate(plain, 1)] == [
        True
    ] * BOOT_FAILURES_FATAL


async def test_a_slot_that_recovers_resolves_readiness(tmp_path: Path) -> None:
    readiness = RecordingReadiness()
    writes, written = trio.open_memory_channel[RecordWrite](10)
    # Starts: the first works, the next four replacements fail, then they work again.
    script = interpreter(tmp_path, ["ok", "fail", "fail", "fail", "fail", "ok"])
    pool = make_pool(tmp_path, readiness, writes, python=str(script))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(acknowledge, written)
        await nursery.start(pool.run)
        assert readiness.history == [("resolved", "pool")]
        (pid,) = pool.worker_pids()
        os.kill(pid, signal.SIGKILL)
        await pool.wait_replaced(pid)
        assert starts(tmp_path) == 6
        kinds = [kind for kind, _ in readiness.history]
        assert kinds == ["resolved", "problem", "problem", "resolved"]
        assert "failed to start 3 times" in readiness.history[1][1]
        assert MISSING_LUAJIT in readiness.history[1][1]
        assert readiness.problems == {}

        reply, answers = trio.open_memory_channel[ExecOutcome](1)
        the_job = make_job(HELLO, execution_id=new_id())
        enqueue(pool.inbox, ExecRequest(the_job, "http", False, reply))
        outcome = await answers.receive()
        assert outcome.result.response is not None
        assert outcome.result.response.body == b"hello"
        nursery.cancel_scope.cancel()
