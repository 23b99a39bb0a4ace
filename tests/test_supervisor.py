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

from tests.daemon import TEST_API_KEY, start_daemon

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
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lunard", "serve", "--port", "1"],  # ignored with an fd
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            pass_fds=(3,) if fd != 3 else (),
            preexec_fn=lambda: os.dup2(fd, 3) if fd != 3 else None,
        )
    sock.close()  # only the daemon holds the listening socket now
    try:
        deadline = time.monotonic() + 60
        while "lunard ready" not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.05)
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
    from lunard.supervisor import ActorCrashed, _start

    async def broken(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep(0)
        raise RuntimeError("boom")

    readiness = Readiness()
    with pytest.RaisesGroup(pytest.RaisesExc(ActorCrashed, match="actor broken crashed: boom")):
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
