"""Shared fixtures: a real daemon per test module, on 127.0.0.1 with a real data dir, and a
real state file.

Fixture names mean one thing everywhere: `state_store` is the daemon's `StateStore` on a
fresh state file; `state` (tests/worker) is a worker's `sqlite3.Connection` to one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lunard.state import StateStore
from tests.daemon import Daemon, start_daemon

# `pg_server` / `pg_url`: a throwaway PostgreSQL for the state-backend tests (tests/pg.py).
pytest_plugins = ["tests.pg"]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon shared by the tests of a module (they must not disturb each other)."""
    d = start_daemon(tmp_path_factory.mktemp("daemon") / "data")
    yield d
    d.stop()


@pytest.fixture
def api(daemon: Daemon) -> Iterator[httpx.Client]:
    """A client authenticated with the admin key."""
    with daemon.client() as client:
        yield client


@pytest.fixture
def anon(daemon: Daemon) -> Iterator[httpx.Client]:
    """A client without credentials."""
    with daemon.client(auth=False) as client:
        yield client


@pytest.fixture
def state_store(tmp_path: Path) -> Iterator[StateStore]:
    """The daemon's handle on a fresh, migrated state file in `tmp_path`."""
    store = StateStore.open(tmp_path)
    yield store
    store.close()
