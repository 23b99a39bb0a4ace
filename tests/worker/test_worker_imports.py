"""A worker process does not load what it does not use (issue 13: start time and RSS per
worker): trio, DuckDB, pyarrow, Quart, hypercorn, httpx (imported on the first outbound
call), psycopg, asyncio (~7 MiB), importlib.resources with tempfile, shutil and the
compressors, secrets.

pynng imports its async helper, and asyncio with it, at import time; the worker only makes
blocking calls and takes pynng from `lunard.worker.blocking_nng`, which puts a stand-in
there that loads the real helper on first use. Checked in a fresh interpreter, as the
worker process starts (`python -m lunard.worker` imports `lunard.worker.main`).
"""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import lunard.worker.main
AVOIDED = (
    "trio", "duckdb", "pyarrow", "quart", "hypercorn", "httpx", "psycopg",
    "asyncio", "importlib.resources", "tempfile", "shutil", "bz2", "lzma", "secrets",
)
print(sorted(m for m in sys.modules if m.split(".")[0] in AVOIDED or m in AVOIDED))
"""

ASYNC_STILL_WORKS = """
import trio
from lunard.worker.blocking_nng import pynng

async def main():
    with pynng.Rep0(listen="inproc://x") as rep, pynng.Req0(dial="inproc://x") as req:
        await req.asend(b"ping")
        assert rep.recv() == b"ping"
        print("ok")

trio.run(main)
"""


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def test_the_worker_does_not_import_what_it_does_not_use() -> None:
    assert _run(CHECK) == "[]"


def test_pynngs_async_calls_still_load_their_helper_when_used() -> None:
    assert _run(ASYNC_STILL_WORKS) == "ok"
