"""A graceful stop behind a real HAProxy fails nothing (issue 14 §5).

HAProxy (the Debian package; `make haproxy` installs it) listens on loopback in front of two
daemons: `a`, the node we stop, and `b`, a backup that gets traffic only once `a` is down.
Its health check asks `/readyz` every 100 ms and it reuses its keep-alive connections to the
servers. A load generator calls a `/fn` function through HAProxy on keep-alive connections
while `a` gets SIGTERM. `a` must keep serving for its `drain_delay` with `/readyz` 503 and
`Connection: close` on every response, HAProxy must move the traffic to `b` without a single
failed request, and `a` must exit long before its `shutdown_grace` runs out, even with an
idle keep-alive connection open to an API route (such a connection used to hold the stop for
the whole grace: see lunard/http/draining.py).
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.daemon import Daemon, start_daemon
from tests.haproxy import Load, Server, free_port, haproxy_config, run_haproxy, wait_for

DRAIN_DELAY = 2.0
SHUTDOWN_GRACE = 20.0
LOAD_THREADS = 4
CODE = 'function handler(ctx, event) return {statusCode = 200, body = "ok"} end'


@dataclass
class Probe:
    """Calls the draining node directly (not through the proxy) until it stops listening."""

    base_url: str
    function_path: str
    readyz: list[tuple[int, str, str]] = field(default_factory=list)  # status, body, connection
    calls: list[tuple[int, str]] = field(default_factory=list)  # status, connection header

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=15) as client:
            while True:
                try:
                    ready = client.get("/readyz")
                    call = client.get(self.function_path)
                except httpx.ConnectError:
                    return  # the listener is closed: the drain delay is over
                except httpx.HTTPError:
                    continue  # a connection closed as we reused it: try again
                self.readyz.append(
                    (ready.status_code, ready.text, ready.headers.get("connection", ""))
                )
                self.calls.append((call.status_code, call.headers.get("connection", "")))


def copy_state(source: Daemon, target: Path) -> None:
    """The state database of a running daemon into `target` (SQLite online backup)."""
    target.mkdir(parents=True)
    src = sqlite3.connect(source.data_dir / "lunard.db")
    dst = sqlite3.connect(target / "lunard.db")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[Daemon, Daemon, str]]:
    """Daemon `a` (drain_delay 2 s) and backup `b` serving the same function, and its id."""
    env = {
        "LUNARD_DRAIN_DELAY": str(DRAIN_DELAY),
        "LUNARD_SHUTDOWN_GRACE": str(SHUTDOWN_GRACE),
        "LUNARD_WORKERS": "2",
    }
    a = start_daemon(tmp_path / "a", env=env)
    b: Daemon | None = None
    try:
        with a.client() as api:
            function_id = api.post("/api/functions", json={"name": "drain", "code": CODE}).json()[
                "id"
            ]
        copy_state(a, tmp_path / "b")
        b = start_daemon(tmp_path / "b", env={"LUNARD_WORKERS": "2"})
        yield a, b, function_id
    finally:
        for daemon in (a, b):
            if daemon is not None and daemon.proc.poll() is None:
                daemon.stop(signal.SIGKILL)


@pytest.fixture
def proxy(tmp_path: Path, nodes: tuple[Daemon, Daemon, str]) -> Iterator[str]:
    """HAProxy in front of the two nodes; yields its URL once it routes to `a`."""
    a, b, function_id = nodes
    config = haproxy_config(free_port(), [Server("a", a.url), Server("b", b.url, "backup")])
    with run_haproxy(config, tmp_path) as running:
        running.wait_served_by(f"/fn/{function_id}", {"a"})
        yield running.url


def test_sigterm_behind_haproxy_fails_no_request(
    nodes: tuple[Daemon, Daemon, str], proxy: str
) -> None:
    a, _, function_id = nodes
    load = Load(f"{proxy}/fn/{function_id}")
    threads = [threading.Thread(target=load.run) for _ in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    probe = Probe(a.url, f"/fn/{function_id}")
    try:
        wait_for(lambda: load.count("a") >= 50, load)  # under load through the proxy
        # A client on an API route that keeps its connection open and idle (a dashboard, a
        # monitoring agent): it must not hold the stop for the whole grace.
        idle = a.client(auth=False)
        assert idle.get("/healthz").status_code == 200
        a.proc.send_signal(signal.SIGTERM)
        probing = threading.Thread(target=probe.run)
        probing.start()
        # Exits well before the grace runs out: the drain delay plus a few seconds at most.
        assert a.proc.wait(timeout=DRAIN_DELAY + SHUTDOWN_GRACE / 2) == 0
        exited_at = time.monotonic()
        idle.close()
        probing.join(15)
        wait_for(lambda: load.count("b", since=exited_at) >= 50, load)  # now served by `b`
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(30)

    assert load.errors == []
    statuses = {status for _, status, _ in load.served}
    assert statuses == {200}, [entry for entry in load.served if entry[1] != 200][:5]
    # While draining, `a` answered /readyz 503 and everything with Connection: close...
    assert probe.readyz, "the draining node answered nothing before it closed its listener"
    assert {(status, connection) for status, _, connection in probe.readyz} == {(503, "close")}
    assert all('"draining"' in body for _, body, _ in probe.readyz)
    # ...and still ran functions until the listener closed.
    assert probe.calls and set(probe.calls) == {(200, "close")}
    log = a.log()
    assert "Draining: /readyz answers 503" in log
    assert "Server stopped gracefully" in log
