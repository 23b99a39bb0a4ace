"""A throwaway PostgreSQL server for the suite, from Debian's binaries (scale-out design §2.6).

`pg_server` (session scope) runs `initdb` and `pg_ctl start` under a temp dir on a free
loopback port with `fsync=off` — as the `postgres` user through `runuser` when the suite
runs as root (initdb refuses root), directly otherwise — and stops and removes it at the
end. `pg_url` (per test) is a fresh, empty database on it, so tests never see each other's
rows. Missing binaries fail the tests (never skip them): `make postgres` installs them.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

USER = "lunard"
_counter = itertools.count(1)


@dataclass(frozen=True)
class PgServer:
    """A running test server: connect as `USER` over TCP on 127.0.0.1 (trust auth)."""

    port: int
    root: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database (from template0); its URL."""
        name = f"t{os.getpid()}_{next(_counter)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)


def postgres_bin_dir() -> Path:
    """Where initdb and pg_ctl are: Debian's /usr/lib/postgresql/<major>/bin, else PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(pg_ctl).resolve().parent
    pytest.fail(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin "
        "or on PATH: run `make postgres` (installs Debian's postgresql package)"
    )


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}): {result.stdout}\n{result.stderr}")


def start_server(bin_dir: Path, root: Path) -> PgServer:
    """initdb + pg_ctl start under `root` (owned by the server's user); the server."""
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
    _run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
         "--locale=C.UTF-8", "--no-sync"],
        "initdb",
    )  # fmt: skip
    port = _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sock} "
        "-c max_connections=200 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off"
    )
    _run(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
         "-o", options, "start"],
        "pg_ctl start",
    )  # fmt: skip
    return PgServer(port=port, root=root)


def stop_server(bin_dir: Path, server: PgServer) -> None:
    subprocess.run(
        _as_server_user(
            [str(bin_dir / "pg_ctl"), "-D", str(server.root / "data"), "-m", "fast", "-w", "stop"]
        ),
        capture_output=True,
        timeout=60,
    )
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole session, stopped and removed at the end."""
    bin_dir = postgres_bin_dir()
    # Not under pytest's tmp dir: its parents are root-only (0700), the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="lunard-pg-"))
    try:
        server = start_server(bin_dir, root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        yield server
    finally:
        stop_server(bin_dir, server)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a fresh, empty database for this test."""
    return pg_server.create_database()
