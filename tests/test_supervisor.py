"""The daemon as systemd sees it: signals, drain, sd_notify, socket activation, restarts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.daemon import TEST_API_KEY, read_ready_line, start_daemon

CODE = "function handler(ctx, event) return {statusCode = 200} end"


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TEST_API_KEY}"}


def test_sigterm_drains_a_slow_request_and_exits_zero(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data")
    body = f'{{"name": "slow-upload", "code": "{CODE}"}}'.encode()
    sent_first_half = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield body[:10]
        sent_first_half.set()
        time.sleep(1.0)  # the request is in flight while SIGTERM arrives
        yield body[10:]

    result: dict[str, httpx.Response] = {}

    def upload() -> None:
        with httpx.Client(base_url=daemon.url, headers=_auth(), timeout=30) as client:
            result["response"] = client.post("/api/functions", content=slow_body())

    thread = threading.Thread(target=upload)
    thread.start()
    assert sent_first_half.wait(10)
    daemon.proc.send_signal(signal.SIGTERM)
    thread.join(30)
    assert daemon.proc.wait(30) == 0
    assert result["response"].status_code == 200
    assert result["response"].json()["name"] == "slow-upload"
    assert "Server stopped gracefully" in daemon.log()


def test_sd_notify_ready_watchdog_stopping(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(20)
    daemon = start_daemon(
        tmp_path / "data", env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "200000"}
    )
    try:
        messages = [listener.recv(256).decode() for _ in range(3)]
        assert messages[0] == "READY=1"
        assert messages[1:] == ["WATCHDOG=1", "WATCHDOG=1"]
        daemon.proc.send_signal(signal.SIGTERM)
        while (message := listener.recv(256).decode()) == "WATCHDOG=1":
            pass
        assert message == "STOPPING=1"
        assert daemon.proc.wait(30) == 0
    finally:
        daemon.stop()
        listener.close()


def test_socket_activation_serves_on_the_inherited_fd(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    fd = sock.fileno()

    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNARD_")}
    env.update({"DATA_DIR": str(tmp_path / "data"), "API_KEY": TEST_API_KEY, "LISTEN_FDS": "1"})
    log_path = tmp_path / "daemon.log"
    ready_read, ready_write = os.pipe()
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            # --port is ignored with an inherited socket
            [sys.executable, "-m", "lunard", "serve", "--port", "1", f"--ready-fd={ready_write}"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            pass_fds=(ready_write, 3),
            preexec_fn=lambda: os.dup2(fd, 3) if fd != 3 else None,
        )
    sock.close()  # only the daemon holds the listening socket now
    os.close(ready_write)
    try:
        assert read_ready_line(ready_read, 60) == f"http://127.0.0.1:{port}", log_path.read_text()
        response = httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert response.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_restart_on_the_same_data_dir_keeps_everything(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_daemon(data, api_key=None)
    key = first.api_key
    assert len(key) == 64
    with first.client() as client:
        created = client.post("/api/functions", json={"name": "keeper", "code": CODE}).json()
        client.put(f"/api/functions/{created['id']}/env", json={"env_vars": {"A": "1"}})
    assert first.stop() == 0

    second = start_daemon(data, api_key=None)
    try:
        assert second.api_key == key  # the generated key was kept in api_key.txt
        with second.client() as client:
            got = client.get(f"/api/functions/{created['id']}")
            assert got.status_code == 200
            assert got.json()["name"] == "keeper"
            assert got.json()["env_vars"] == {"A": "1"}
    finally:
        assert second.stop() == 0


def test_sigterm_with_unflushed_records_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # A flush interval far longer than the test: every record is still buffered at SIGTERM.
    env = {"LUNARD_SINK_FLUSH_INTERVAL": "3600", "LUNARD_SINK_BATCH_ROWS": "100000"}
    first = start_daemon(data, env=env)
    with first.client() as api, first.client(auth=False) as anon:
        code = "function handler(ctx, event) log.info('call ' .. event.query.n) return {} end"
        fid = api.post("/api/functions", json={"name": "flushed", "code": code}).json()["id"]
        ids = [anon.get(f"/fn/{fid}?n={n}").headers["X-Execution-Id"] for n in range(25)]
    assert first.stop() == 0

    second = start_daemon(data)
    try:
        with second.client() as api:
            listed = api.get(f"/api/functions/{fid}/executions?limit=100").json()
            assert sorted(item["id"] for item in listed["executions"]) == sorted(ids)
            logs = api.get(f"/api/executions/{ids[7]}/logs").json()["logs"]
            assert [entry["message"] for entry in logs] == ["call 7"]
    finally:
        assert second.stop() == 0


async def test_a_crashing_actor_is_logged_and_stops_the_daemon(caplog: Any) -> None:
    import trio

    from lunard.http.deps import Readiness
    from lunard.stop_status import ActorCrashed
    from lunard.supervisor import _start

    async def broken(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep(0)
        raise RuntimeError("boom")

    readiness = Readiness()
    crashed = pytest.RaisesExc(ActorCrashed, match="actor broken crashed: RuntimeError: boom")
    with pytest.RaisesGroup(crashed):
        async with trio.open_nursery() as nursery:
            await _start(nursery, readiness, "broken", broken)
            assert readiness.ready
            await trio.sleep_forever()
    assert "actor broken crashed" in caplog.text


def test_a_busy_port_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("LUNARD_")}
        env.update({"DATA_DIR": str(tmp_path / "data"), "API_KEY": TEST_API_KEY})
        result = subprocess.run(
            [sys.executable, "-m", "lunard", "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "lunard ready" not in result.stderr


def test_port_zero_resolves_to_the_bound_port_everywhere(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data")
    try:
        port = daemon.url.rsplit(":", 1)[1]
        with daemon.client() as api, daemon.client(auth=False) as anon:
            code = "function handler(ctx, event) return {body = ctx.baseUrl} end"
            fid = api.post("/api/functions", json={"name": "url", "code": code}).json()["id"]
            assert anon.get(f"/fn/{fid}").text == f"http://localhost:{port}"
            approval = anon.post("/api/auth/device-request").json()["approval_url"]
            assert approval.startswith(f"http://localhost:{port}/#!/device-approve/")
    finally:
        assert daemon.stop() == 0


def _serve_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUNARD_", "NOTIFY_"))}
    env.update({"DATA_DIR": str(data_dir), "API_KEY": TEST_API_KEY, "PORT": "0"})
    return env


def test_a_corrupt_records_file_prints_the_advice_and_exits_1(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "records.duckdb").write_bytes(b"not a duckdb database " * 1000)
    ready_read, ready_write = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lunard", "serve", f"--ready-fd={ready_write}"],
        env=_serve_env(data),
        stderr=subprocess.PIPE,
        text=True,
        pass_fds=(ready_write,),
    )
    os.close(ready_write)
    assert read_ready_line(ready_read, 60) is None  # end of file: it never became ready
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    lines = [line for line in stderr.splitlines() if " ERROR " in line]
    assert len(lines) == 1, stderr  # one readable line, no traceback of our own error
    assert "ERROR lunard: cannot start: cannot open records database" in lines[0]
    assert "if the file is corrupt, move it away and start again" in lines[0]
    assert "Exceptions from Trio nursery" not in stderr
    assert "Traceback" not in stderr


def test_sighup_is_logged_and_the_daemon_keeps_serving(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data")
    with daemon.client(auth=False) as anon:
        assert anon.get("/readyz").status_code == 200
        for count in (1, 2):
            daemon.proc.send_signal(signal.SIGHUP)
            # Served while and after the signal is handled: the daemon does not stop.
            while daemon.log().count("SIGHUP received") < count:
                assert anon.get("/healthz").status_code == 200
        assert daemon.log().count("SIGHUP received: ignored") == 2
        assert anon.get("/readyz").json() == {"status": "ready"}
        assert daemon.proc.poll() is None
    assert daemon.stop() == 0
    assert "Server stopped gracefully" in daemon.log()


def test_a_second_sigterm_cuts_the_drain_delay_short(tmp_path: Path) -> None:
    # A drain delay far longer than the test: only the second signal can end it.
    daemon = start_daemon(tmp_path / "data", env={"LUNARD_DRAIN_DELAY": "3600"})
    with daemon.client(auth=False) as anon:
        daemon.proc.send_signal(signal.SIGTERM)
        while anon.get("/readyz").status_code == 200:
            pass
        draining = anon.get("/readyz")
        assert (draining.status_code, draining.json()) == (503, {"status": "draining"})
        assert draining.headers["connection"] == "close"
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(60) == 0
    assert "Second shutdown signal (SIGTERM): closing the listener now" in daemon.log()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ready-fd", "-1"], "--ready-fd -1: must be a file descriptor number"),
        (["--ready-fd", "987"], "--ready-fd 987: not an open file descriptor"),
    ],
)
def test_a_bad_ready_fd_exits_2(tmp_path: Path, argv: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lunard", "serve", *argv],
        env=_serve_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr


async def _a_real_cancelled() -> BaseException:
    import trio

    with trio.CancelScope() as scope:
        scope.cancel()
        try:
            await trio.sleep_forever()
        except trio.Cancelled as exc:
            return exc
    raise AssertionError("not cancelled")


def _crash(name: str, cause: BaseException) -> BaseException:
    from lunard.stop_status import ActorCrashed

    crashed = ActorCrashed(f"actor {name} crashed: {cause}")
    crashed.__cause__ = cause
    return crashed


async def test_stop_status_splits_exception_groups() -> None:
    from lunard.errors import ConfigError, DataDirError, WorkerBootError
    from lunard.stop_status import StopStatus, stop_status

    cancelled = await _a_real_cancelled()
    advice = DataDirError("records.duckdb is corrupt; move it away")
    group = BaseExceptionGroup
    # How we stop is not a failure: Ctrl-C and cancellations, however nested.
    assert stop_status(KeyboardInterrupt()) == StopStatus(0)
    assert stop_status(group("", [cancelled, group("", [KeyboardInterrupt()])])) == StopStatus(0)
    # An actor crash caused by our own error reports that error, not the group's summary.
    nested = group("outer", [group("inner", [_crash("sink", group("pool", [advice]))])])
    assert stop_status(group("", [cancelled, nested])) == StopStatus(
        1, ("cannot start: records.duckdb is corrupt; move it away",)
    )
    assert stop_status(ConfigError("cannot listen on 127.0.0.1:1")) == StopStatus(
        1, ("cannot start: cannot listen on 127.0.0.1:1",)
    )
    # A WorkerBootError anywhere wins, with its exit code.
    boot = WorkerBootError("workers failed to start 5 times in a row: luajit not found")
    mixed = group("", [RuntimeError("later"), group("", [cancelled, _crash("pool", boot)])])
    assert stop_status(mixed) == StopStatus(
        3, ("stopping: workers failed to start 5 times in a row: luajit not found",)
    )
    assert WorkerBootError.exit_code == 3
    # Anything else is a failure with the real messages, each once.
    full = _crash("journal", OSError(28, "No space left"))
    other = group("", [full, ValueError("x"), ValueError("x")])
    assert stop_status(other) == StopStatus(
        1,
        (
            "stopping after a failure: actor journal crashed: [Errno 28] No space left",
            "stopping after a failure: ValueError: x",
        ),
    )


async def test_an_actor_stopped_by_our_own_error_is_reported_once(caplog: Any) -> None:
    import trio

    from lunard.errors import WorkerBootError
    from lunard.http.deps import Readiness
    from lunard.stop_status import stop_status
    from lunard.supervisor import _start

    async def pool(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async with trio.open_nursery():  # raised inside the actor's own nursery
            raise WorkerBootError("workers failed to start 5 times in a row")

    with pytest.raises(BaseExceptionGroup) as info:
        async with trio.open_nursery() as nursery:
            await _start(nursery, Readiness(), "pool", pool)
            await trio.sleep_forever()
    status = stop_status(info.value)
    assert status.exit_code == 3
    assert status.messages == ("stopping: workers failed to start 5 times in a row",)
    assert "Traceback" not in caplog.text  # no traceback for a message meant for the operator
