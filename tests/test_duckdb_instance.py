"""The DuckDB instance settings: the records database as the sink opens it, and the sandbox."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from lunard.records.instance import instance_config
from lunard.records.sink import _open
from lunard.records.sql_sandbox import sandbox_config


def settings(conn: duckdb.DuckDBPyConnection, *names: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT name, value FROM duckdb_settings() WHERE list_contains(?, name)", [list(names)]
    ).fetchall()
    return dict(rows)


def test_the_records_instance_is_bounded_and_locked(tmp_path: Path) -> None:
    conn = _open(tmp_path / "records.duckdb", instance_config(memory_mb=96, threads=2))
    try:
        assert settings(
            conn,
            "memory_limit",
            "threads",
            "max_temp_directory_size",
            "enable_external_access",
            "allow_community_extensions",
            "autoload_known_extensions",
            "lock_configuration",
        ) == {
            "memory_limit": "96.0 MiB",
            "threads": "2",
            "max_temp_directory_size": "0 bytes",
            "enable_external_access": "false",
            "allow_community_extensions": "false",
            "autoload_known_extensions": "false",
            "lock_configuration": "true",
        }
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            conn.execute("SET max_temp_directory_size = '10GB'")
    finally:
        conn.close()


def test_the_records_instance_never_spills_to_disk(tmp_path: Path) -> None:
    conn = _open(tmp_path / "records.duckdb", instance_config(memory_mb=16, threads=1))
    try:
        with pytest.raises(duckdb.OutOfMemoryException, match="max_temp_directory_size"):
            conn.execute(
                "SELECT md5(range::VARCHAR) AS h FROM range(3000000) ORDER BY h"
            ).fetchall()
    finally:
        conn.close()
    spill_dir = tmp_path / "records.duckdb.tmp"
    assert not spill_dir.exists() or list(spill_dir.iterdir()) == []


def test_the_sandbox_settings_name_no_host_directory() -> None:
    conn = duckdb.connect(":memory:", config=sandbox_config(64))
    try:
        names = ("home_directory", "secret_directory", "extension_directory", "memory_limit")
        values = {n: conn.execute(f"SELECT current_setting('{n}')").fetchone() for n in names}
        assert values == {
            "home_directory": ("/nonexistent",),
            "secret_directory": ("/nonexistent",),
            "extension_directory": ("/nonexistent",),
            "memory_limit": ("64.0 MiB",),
        }
        assert str(Path.home()) not in str(conn.execute("FROM duckdb_settings()").fetchall())
    finally:
        conn.close()
