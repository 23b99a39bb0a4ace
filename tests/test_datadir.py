"""An unusable DATA_DIR stops `lunard serve` with a clear message and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

GARBAGE = b"this is not an SQLite database\x00\xff" * 200


def serve(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUNARD_", "NOTIFY_"))}
    env.update({"DATA_DIR": str(data_dir), "PORT": "0", "HOST": "127.0.0.1", "API_KEY": "k"})
    return subprocess.run(
        [sys.executable, "-m", "lunard", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unwritable_data_dir_stops_serve(tmp_path: Path) -> None:
    # As root every directory is writable; a path below a regular file never is.
    regular = tmp_path / "not-a-dir"
    regular.write_text("x")
    result = serve(regular / "data")
    assert result.returncode == 1
    assert "cannot start" in result.stderr
    assert f"cannot create data directory {regular / 'data'}" in result.stderr
    assert "lunard ready" not in result.stderr
    assert regular.read_text() == "x"


def test_corrupt_state_database_stops_serve_and_is_left_untouched(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "lunard.db"
    db.write_bytes(GARBAGE)
    before = db.stat()
    result = serve(data)
    assert result.returncode == 1
    assert "cannot start" in result.stderr
    assert f"cannot use state database {db}" in result.stderr
    assert "lunard ready" not in result.stderr
    assert db.read_bytes() == GARBAGE
    assert db.stat().st_mtime_ns == before.st_mtime_ns
    assert not (data / "lunard.db-wal").exists()
