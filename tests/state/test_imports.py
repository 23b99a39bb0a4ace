"""What each process imports: an SQLite node never loads psycopg, and a worker never loads
trio (nor psycopg unless its state is a PostgreSQL URL). Checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = """
import sys
{setup}
loaded = sorted(m for m in ("psycopg", "psycopg_pool", "trio") if m in sys.modules)
print(",".join(loaded))
"""


def loaded_modules(setup: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", CHECK.format(setup=setup)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [name for name in result.stdout.strip().split(",") if name]


def test_an_sqlite_daemon_store_does_not_import_psycopg(tmp_path: Path) -> None:
    setup = f"""
import lunard.supervisor, lunard.cli
from pathlib import Path
from lunard.state import StateStore
store = StateStore.open(Path({str(tmp_path)!r}))
store.call_sync(lambda c: c.execute("SELECT 1"))
store.close()
"""
    assert loaded_modules(setup) == ["trio"]


def test_a_worker_on_sqlite_imports_neither_trio_nor_psycopg(tmp_path: Path) -> None:
    setup = f"""
import lunard.worker.main
from lunard.state.connection import connect_location
from lunard.worker.modules import kv, env
conn = connect_location({str(tmp_path / "w.db")!r})
conn.close()
"""
    assert loaded_modules(setup) == []


def test_a_worker_on_postgres_imports_psycopg_but_not_trio(pg_url: str) -> None:
    setup = f"""
import lunard.worker.main
from lunard.state.connection import connect_location
from lunard.worker.modules.kv import KV
conn = connect_location({pg_url!r})
assert conn.execute("SELECT 1").fetchone()[0] == 1
conn.close()
"""
    assert loaded_modules(setup) == ["psycopg"]
