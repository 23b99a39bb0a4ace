"""`store`: a migrated `StateStore` on each backend — SQLite in a temp data dir, and a fresh
database on the suite's throwaway PostgreSQL (tests/pg.py) — so every state test proves
the same behaviour on both. `worker_conn` is a worker's own connection to the same state
(`connect_location`, as `python -m lunard.worker --state` opens it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lunard.state import StateStore
from lunard.state.connection import connect_location
from lunard.state.dialect import Conn


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else ""
    state = StateStore.open(tmp_path, url)
    assert state.dialect == request.param
    yield state
    state.close()


@pytest.fixture
def worker_conn(store: StateStore) -> Iterator[Conn]:
    conn = connect_location(store.location)
    yield conn
    conn.close()
