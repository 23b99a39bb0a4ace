"""Start a real `lunard serve` process for tests and talk to it over 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

READY = re.compile(r"lunard ready url=(\S+)")
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
    full_env.pop("API_KEY", None)
    if api_key is not None:
        full_env["API_KEY"] = api_key
    full_env.update(env or {})
    offset = log_path.stat().st_size if log_path.exists() else 0
    log_file = log_path.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lunard", "serve", *(args or [])],
        env=full_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        pass_fds=pass_fds,
    )
    log_file.close()
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        match = READY.search(log_path.read_bytes()[offset:].decode(errors="replace"))
        if match:
            key = api_key if api_key is not None else (data_dir / "api_key.txt").read_text()
            return Daemon(match.group(1), key, data_dir, proc, log_path)
        if proc.poll() is not None:
            raise RuntimeError(f"lunard exited with {proc.returncode}:\n{log_path.read_text()}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"lunard did not become ready:\n{log_path.read_text()}")
