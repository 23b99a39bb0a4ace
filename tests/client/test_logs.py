"""`lunar logs FUNCTION_ID`: executions with their log lines, newest last; `--level`,
`--output json` lines, and `--follow` until SIGINT (exit 0)."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable

import httpx
import pytest

from tests.client.helpers import LUNAR, Lunar
from tests.daemon import Daemon

NUMBERED = """function handler(ctx, event)
  log.debug("debug " .. (event.query.n or "?"))
  log.info("call " .. (event.query.n or "?"))
  log.warn("warn " .. (event.query.n or "?"))
  return { statusCode = 200, body = "ok" }
end
"""


def call(daemon: Daemon, fid: str, n: int) -> str:
    """Invoke the function with `?n=<n>`; its execution id."""
    response = httpx.get(f"{daemon.url}/fn/{fid}", params={"n": str(n)})
    assert response.status_code == 200, response.text
    return response.headers["X-Execution-Id"]


@pytest.fixture
def function_id(cli: Lunar) -> str:
    return str(cli.create(code=NUMBERED)["id"])


def test_logs_shows_executions_with_their_lines_newest_last(
    lunar: Lunar, daemon: Daemon, function_id: str
) -> None:
    first, second = call(daemon, function_id, 1), call(daemon, function_id, 2)
    result = lunar("logs", function_id)
    assert result.code == 0, result.err
    out = result.out
    assert out.index(first) < out.index("call 1") < out.index(second) < out.index("call 2")
    assert "INFO  call 1" in out and "WARN  warn 2" in out and "DEBUG debug 1" in out


def test_logs_level_keeps_lines_at_or_above_it(
    cli: Lunar, daemon: Daemon, function_id: str
) -> None:
    call(daemon, function_id, 1)
    out = cli("logs", function_id, "--level", "warn").out
    assert "warn 1" in out
    assert "call 1" not in out and "debug 1" not in out


def test_logs_json_is_one_execution_per_line(cli: Lunar, daemon: Daemon, function_id: str) -> None:
    ids = [call(daemon, function_id, n) for n in (1, 2, 3)]
    lines = cli("--output", "json", "logs", function_id, "--limit", "2").out.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == ids[1:]  # the two newest, oldest of them first
    assert [e["message"] for e in records[0]["logs"]] == ["debug 2", "call 2", "warn 2"]
    assert "pagination" not in records[0]


def test_logs_since_includes_recent_executions(
    cli: Lunar, daemon: Daemon, function_id: str
) -> None:
    eid = call(daemon, function_id, 1)
    assert eid in cli("logs", function_id, "--since", "1h").out


def test_logs_of_an_unknown_function_is_an_error(cli: Lunar) -> None:
    result = cli("logs", "no-such-function")
    assert (result.code, result.err.strip()) == (1, "Error: 404: Function not found")


class LineReader:
    """The lines a process writes to stdout, collected by a thread, awaited with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert proc.stdout is not None
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()

    def _read(self, stream: Iterable[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, found: Callable[[str], bool], deadline: float = 30) -> str:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append(line)
            if found(line):
                return line
        raise AssertionError(f"not printed in time; got {self.seen}")


def _default_sigint() -> None:
    # A shell without job control starts background commands with SIGINT ignored; the
    # follower must get the signal as a terminal's Ctrl+C would deliver it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_logs_follow_shows_a_later_call_and_stops_on_sigint(
    lunar: Lunar, daemon: Daemon, function_id: str
) -> None:
    before = call(daemon, function_id, 1)
    proc = subprocess.Popen(
        [str(LUNAR), "logs", function_id, "--follow", "--interval", "0.1"],
        env=lunar.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        reader = LineReader(proc)
        reader.wait_for(lambda line: before in line)  # the initial listing is done
        after = call(daemon, function_id, 2)
        reader.wait_for(lambda line: after in line)
        reader.wait_for(lambda line: "call 2" in line)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert "Traceback" not in err and "Aborted" not in err
    assert sum(before in line for line in reader.seen) == 1  # shown once, not at every poll
