"""Fixtures of the worker tests: a real, migrated state file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from lunard.state.db import StateStore, connect


@pytest.fixture
def state(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A worker's connection to a fresh state file (KV and env live there)."""
    store = StateStore.open(tmp_path)
    conn = connect(store.path)
    yield conn
    conn.close()
    store.close()
