"""A real HAProxy on loopback in front of real daemons, and a load generator through it.

Used by the drain test (one node and a backup) and the cluster suite (N nodes, round robin).
HAProxy is Debian's package (`make haproxy`); a missing binary fails the test, never skips
it. The proxy's health check asks `/readyz` every 100 ms (`fall 2`), so a node that stops
being ready, or dies, is out of the rotation within about 200 ms. Every answer that went
through a server carries `X-Served-By: <server name>` (`http-after-response`, so the 502s
HAProxy makes itself when a server dies mid-request carry it too).
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

HAPROXY = "/usr/sbin/haproxy"


def haproxy_binary() -> str:
    """HAProxy's path; the test fails (never skips) when it is missing."""
    found = shutil.which("haproxy") or (HAPROXY if Path(HAPROXY).exists() else None)
    if found is None:
        pytest.fail(
            "HAProxy is not installed: this test needs a real proxy in front of lunard. "
            "Install it with `make haproxy` (apt-get install haproxy)."
        )
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """One `server` line: its name, the node's base URL and extra options (`backup`)."""

    name: str
    url: str
    options: str = ""

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    def line(self) -> str:
        return f"    server {self.name} {self.address} check {self.options}".rstrip()


def haproxy_config(port: int, servers: Sequence[Server], *, redispatch: bool = False) -> str:
    """A test configuration: fast `/readyz` checks, keep-alive reuse to the servers, round
    robin; `redispatch` sends a request whose connection to a dead server failed to another
    server (what a cluster's balancer does; see deploy/haproxy.cfg)."""
    lines = "\n".join(server.line() for server in servers)
    return f"""
global
    maxconn 512
    log stdout format raw daemon
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 15s
    timeout server 15s
    retries 3
{"    option redispatch" if redispatch else ""}
listen fn
    bind 127.0.0.1:{port}
    balance roundrobin
    http-reuse always
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 100ms fastinter 100ms downinter 100ms fall 2 rise 1
    http-after-response set-header X-Served-By %s
{lines}
"""


def config_from_sample(sample: str, port: int, servers: Sequence[Server]) -> str:
    """The deploy sample with its `bind` on 127.0.0.1:`port` and its `server` lines replaced
    by `servers` (in place of the first one); every other line is kept as written, plus the
    `X-Served-By` header so a test can see where each answer came from."""
    out: list[str] = []
    for line in sample.splitlines():
        stripped = line.strip()
        if stripped.startswith("bind "):
            out.append(f"    bind 127.0.0.1:{port}")
        elif stripped.startswith("server "):
            if not any(existing.strip().startswith("server ") for existing in out):
                out.extend(server.line() for server in servers)
                out.append("    http-after-response set-header X-Served-By %s")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


@dataclass
class Proxy:
    """A running HAProxy: its URL, process and log file."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_served_by(self, path: str, names: set[str], timeout: float = 15.0) -> None:
        """Call `path` through the proxy until every server in `names` has answered it."""
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        while not names <= seen:  # HAProxy has no readiness signal: ask until it routes
            assert self.proc.poll() is None, self.log()
            assert time.monotonic() < deadline, f"served by {seen} only:\n{self.log()}"
            try:
                response = httpx.get(f"{self.url}{path}", timeout=2)
                if response.status_code == 200:
                    seen.add(response.headers.get("x-served-by", ""))
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.05)


@contextmanager
def run_haproxy(config: str, workdir: Path) -> Iterator[Proxy]:
    """HAProxy (foreground, `-db`) on `config`; stopped at the end. The config must bind
    127.0.0.1:<port>, which gives the proxy's URL."""
    binary = haproxy_binary()
    match = re.search(r"bind 127\.0\.0\.1:(\d+)", config)
    assert match, "the config binds no loopback port"
    path = workdir / "haproxy.cfg"
    path.write_text(config)
    log_path = workdir / "haproxy.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [binary, "-db", "-f", str(path)], stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        yield Proxy(f"http://127.0.0.1:{match.group(1)}", proc, log_path)
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class Load:
    """Keep-alive clients calling one URL through the proxy until `stop` is set.

    Each client thread has one connection and at most one request outstanding. `served`
    holds every answer (time, status, server); `executions` the `X-Execution-Id` of every
    2xx answer (an acknowledged execution); `errors` the requests that got no answer at all
    (HAProxy closes the client's connection without an answer when a request it sent on a
    reused connection meets a dead server, so the client may retry), `error_at` their times.
    """

    url: str
    method: str = "GET"
    stop: threading.Event = field(default_factory=threading.Event)
    served: list[tuple[float, int, str]] = field(default_factory=list)  # time, status, server
    executions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def run(self) -> None:
        with httpx.Client(timeout=15) as client:  # one keep-alive connection per thread
            while not self.stop.is_set():
                try:
                    response = client.request(self.method, self.url)
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.errors.append(repr(exc))
                        self.error_at.append(time.monotonic())
                    continue
                with self.lock:
                    entry = (
                        time.monotonic(),
                        response.status_code,
                        response.headers.get("x-served-by", ""),
                    )
                    self.served.append(entry)
                    if response.is_success:
                        self.executions.append(response.headers.get("x-execution-id", ""))

    def start(self, clients: int) -> None:
        """Start `clients` client threads."""
        self.threads = [threading.Thread(target=self.run) for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        """Stop the client threads and wait for their last answers."""
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def count(self, server: str, since: float = 0.0) -> int:
        with self.lock:
            return sum(1 for at, _, by in self.served if by == server and at >= since)

    def failed(self) -> list[tuple[float, int, str]]:
        """The answers that were not 2xx."""
        with self.lock:
            return [entry for entry in self.served if not 200 <= entry[1] < 300]


def wait_for(condition: Callable[[], bool], load: Load, timeout: float = 20.0) -> None:
    """Wait (bounded) while the load runs; stop early on a failed request."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert not load.errors, load.errors
        assert time.monotonic() < deadline, f"{len(load.served)} responses so far"
        time.sleep(0.02)  # leave the GIL to the load threads
