"""Start a real `lunard serve` process for tests and talk to it over 127.0.0.1.

Readiness is awaited on a pipe (`lunard serve --ready-fd N`), not by polling the log: the
daemon writes its URL there once `/readyz` would answer 200; end of file first means it
exited without becoming ready. Daemons started here do not wait before closing their
listener on SIGTERM (`LUNARD_DRAIN_DELAY=0`) unless the test's `env` or `args` say otherwise.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

TEST_API_KEY = "test-admin-key-0123456789"


@dataclass
class Daemon:
    """A running daemon: its URL, admin key, data dir, process and log file."""

    url: str
    api_key: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, *, auth: bool = True, timeout: float = 30.0) -> httpx.Client:
        """An httpx client on the daemon; with the admin key as Bearer unless auth=False."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if auth else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self.clients.append(client)
        return client

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_line(self, *parts: str, timeout: float = 10.0) -> str:
        """The first log line holding every one of `parts`, waiting for it to be written
        (a request's access-log line follows its response)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log().splitlines():
                if all(part in line for part in parts):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line with {parts!r} after {timeout}s")
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send `sig` and wait for the exit code."""
        for client in self.clients:
            client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def read_ready_line(fd: int, timeout: float) -> str | None:
    """The line a daemon writes to its `--ready-fd` pipe; None on end of file or timeout.

    Closes `fd`. Waits on the pipe itself (select), never by sleeping."""
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            data += chunk
    finally:
        os.close(fd)
    return data.decode().strip()


def start_daemon(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
    api_key: str | None = TEST_API_KEY,
    ready_timeout: float = 60.0,
    pass_fds: tuple[int, ...] = (),
) -> Daemon:
    """Run `python -m lunard serve --port 0` with DATA_DIR=data_dir until it reports ready."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-daemon.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LUNARD_", "NOTIFY_"))}
    full_env.update({"DATA_DIR": str(data_dir), "PORT": "0", "HOST": "127.0.0.1"})
    full_env["LUNARD_DRAIN_DELAY"] = "0"  # no proxy in front: close the listener at once
    full_env.pop("API_KEY", None)
    if api_key is not None:
        full_env["API_KEY"] = api_key
    full_env.update(env or {})
    ready_read, ready_write = os.pipe()
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lunard", "serve", f"--ready-fd={ready_write}", *(args or [])],
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            pass_fds=(*pass_fds, ready_write),
        )
    os.close(ready_write)  # only the daemon holds the write end: its exit means end of file
    url = read_ready_line(ready_read, ready_timeout)
    if url:
        key = api_key if api_key is not None else (data_dir / "api_key.txt").read_text()
        return Daemon(url, key, data_dir, proc, log_path)
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"lunard did not become ready:\n{log_path.read_text()}") from None
    raise RuntimeError(f"lunard exited with {code}:\n{log_path.read_text()}")
