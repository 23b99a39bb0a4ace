"""A daemon whose records file holds generated executions, for the analytics tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from lunard.records.sink import _open
from tests.daemon import Daemon, start_daemon
from tests.factories import insert_executions

CODE = "function handler(ctx, event) return {statusCode = 200} end"


@dataclass
class Seeded:
    """A running daemon with two functions and records written while it was stopped."""

    daemon: Daemon
    busy: str
    quiet: str
    now: int


def seed_daemon(data_dir: Path) -> Seeded:
    """Start a daemon, create `busy` and `quiet`, stop it, write their records, restart.

    `busy`: 100 executions in the last 10 minutes, durations 1..100 ms, 5 fail with "boom",
    10 are cron. `quiet`: 3 executions two days ago (inside 7d, outside 24h).
    """
    first = start_daemon(data_dir)
    with first.client() as api:
        ids = [
            api.post("/api/functions", json={"name": name, "code": CODE}).json()["id"]
            for name in ("busy", "quiet")
        ]
    assert first.stop() == 0
    now = int(time.time())
    rows = [
        {
            "id": f"busy-{i:03d}",
            "function_id": ids[0],
            "created_at": now - 600 + i,
            "duration_ms": i + 1,
            "trigger": "cron" if i % 10 == 0 else "http",
            **({"status": "error", "error_message": "boom"} if i % 20 == 0 else {}),
        }
        for i in range(100)
    ]
    rows += [
        {"id": f"quiet-{i}", "function_id": ids[1], "created_at": now - 2 * 86400} for i in range(3)
    ]
    conn = _open(data_dir / "records.duckdb")
    try:
        insert_executions(conn, rows)
    finally:
        conn.close()
    return Seeded(start_daemon(data_dir), ids[0], ids[1], now)
