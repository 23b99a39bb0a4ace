"""The worker side of the process boundary imports nothing heavy at start: no trio (it cost
0.5 s a start), and no DuckDB, pyarrow, Quart or httpx until a job needs them (issue 13: a
replacement worker must answer within 250 ms of the kill)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("trio", "duckdb", "pyarrow", "quart", "httpx", "click", "rich", "psycopg")


def test_a_worker_process_imports_nothing_heavy() -> None:
    code = (
        "import sys, lunard.worker.main\n"
        f"heavy = {HEAVY!r}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_messages_re_exports_the_wire_types() -> None:
    from lunard import messages, wire

    for name in messages.__all__:
        assert getattr(messages, name) is getattr(wire, name)
