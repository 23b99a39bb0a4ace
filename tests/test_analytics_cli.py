"""`lunard analytics` as a subprocess: a stopped data dir, and what it says about a live daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.analytics_seed import Seeded, seed_daemon


def lunard(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LUNARD_TOKEN", "DATA_DIR")}
    if token is not None:
        env["LUNARD_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "lunard", "analytics", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    s = seed_daemon(tmp_path_factory.mktemp("cli") / "data")
    yield s
    s.daemon.stop()


# --------------------------------------------------------------------------- live daemon


def test_server_mode_points_to_the_client(seeded: Seeded) -> None:
    result = lunard("overview", "--server", seeded.daemon.url, token=seeded.daemon.api_key)

    assert result.returncode == 1
    assert f"moved: run 'lunar --server {seeded.daemon.url} analytics overview" in result.stderr


def test_data_dir_of_a_running_daemon_says_it_is_in_use(seeded: Seeded) -> None:
    result = lunard("overview", "--data-dir", str(seeded.daemon.data_dir))

    assert result.returncode == 1
    assert "is in use by a running lunard" in result.stderr
    assert "lunar analytics" in result.stderr


# --------------------------------------------------------------------------- stopped daemon


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    s = seed_daemon(tmp_path_factory.mktemp("stopped") / "data")
    assert s.daemon.stop() == 0
    return s


def test_function_report_from_a_stopped_data_dir(stopped: Seeded) -> None:
    result = lunard(
        "function", stopped.busy, "--window", "1h", "--json",
        "--data-dir", str(stopped.daemon.data_dir),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["invocations"], report["errors"]) == (100, 5)
    assert report["duration_ms"]["p99"] == 99


def test_overview_from_a_stopped_data_dir_has_names(stopped: Seeded) -> None:
    result = lunard(
        "overview", "--window", "7d", "--json", "--data-dir", str(stopped.daemon.data_dir)
    )

    assert result.returncode == 0, result.stderr
    assert [f["name"] for f in json.loads(result.stdout)["functions"]] == ["busy", "quiet"]


def test_query_table_from_a_stopped_data_dir(stopped: Seeded) -> None:
    result = lunard(
        "query", "SELECT status, count(*) AS n FROM executions GROUP BY ALL ORDER BY n DESC",
        "--data-dir", str(stopped.daemon.data_dir),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "status    n",
        "-------  --",
        "success  98",
        "error     5",
        "(2 rows)",
    ]


def test_query_from_a_data_dir_refuses_file_access(stopped: Seeded) -> None:
    result = lunard(
        "query", "SELECT * FROM read_csv('/etc/passwd')", "--data-dir", str(stopped.daemon.data_dir)
    )

    assert result.returncode == 1
    assert "file system operations are disabled" in result.stderr


def test_query_from_a_data_dir_is_bounded_by_memory_mb(stopped: Seeded) -> None:
    sql = "SELECT length(string_agg(repeat('x', 1000000), '')) FROM range(100)"
    data_dir = str(stopped.daemon.data_dir)
    small = lunard("query", sql, "--memory-mb", "64", "--data-dir", data_dir)
    large = lunard("query", sql, "--memory-mb", "512", "--json", "--data-dir", data_dir)

    assert small.returncode == 1
    assert "query needs more memory than the analytics limit of 64 MiB" in small.stderr
    assert "raise --memory-mb" in small.stderr
    assert large.returncode == 0, large.stderr
    assert json.loads(large.stdout)["rows"] == [[100_000_000]]


def test_query_from_a_data_dir_refuses_side_effects(stopped: Seeded) -> None:
    result = lunard(
        "query", "SELECT * FROM checkpoint()", "--data-dir", str(stopped.daemon.data_dir)
    )

    assert result.returncode == 1
    assert "refused: checkpoint() is not allowed" in result.stderr


def test_export_parquet(stopped: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = lunard(
        "export", "--format", "parquet", str(out), "--data-dir", str(stopped.daemon.data_dir)
    )

    assert result.returncode == 0, result.stderr
    conn = duckdb.connect()
    try:
        row = conn.execute(
            f"SELECT count(*), count(*) FILTER (status = 'error') "
            f"FROM read_parquet('{out / 'executions.parquet'}')"
        ).fetchone()
        logs = conn.execute(
            f"SELECT count(*) FROM read_parquet('{out / 'logs.parquet'}')"
        ).fetchone()
    finally:
        conn.close()
    assert row == (103, 5)
    assert logs == (0,)


def test_missing_records_file_is_explained(tmp_path: Path) -> None:
    result = lunard("overview", "--data-dir", str(tmp_path))

    assert result.returncode == 1
    assert f"no records database at {tmp_path / 'records.duckdb'}" in result.stderr
