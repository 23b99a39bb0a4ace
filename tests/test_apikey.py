"""The admin API key and DATA_DIR preparation (statement 89; http-api §2.1)."""

from __future__ import annotations

import logging
import re
import stat
from pathlib import Path

import httpx
import pytest

from lunard.datadir import API_KEY_FILE, prepare_data_dir, resolve_api_key
from lunard.errors import DataDirError
from tests.daemon import start_daemon

HEX64 = re.compile(r"[0-9a-f]{64}")


def test_s89_env_key_wins_over_file(tmp_path: Path) -> None:
    (tmp_path / API_KEY_FILE).write_text("from-file")
    assert resolve_api_key(tmp_path, "from-env") == "from-env"
    assert (tmp_path / API_KEY_FILE).read_text() == "from-file"


def test_s89_file_is_used_verbatim(tmp_path: Path) -> None:
    (tmp_path / API_KEY_FILE).write_text("  key with spaces\n")
    assert resolve_api_key(tmp_path, "") == "  key with spaces\n"


def test_s89_generated_key_is_64_hex_mode_0600(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="lunard.datadir"):
        key = resolve_api_key(tmp_path, "")
    assert HEX64.fullmatch(key)
    path = tmp_path / API_KEY_FILE
    assert path.read_text() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key in caplog.text  # logged once so the operator can find it
    # A second start reads the saved key instead of generating another.
    assert resolve_api_key(tmp_path, "") == key


def test_unreadable_key_file_is_a_data_dir_error(tmp_path: Path) -> None:
    (tmp_path / API_KEY_FILE).mkdir()
    with pytest.raises(DataDirError, match=API_KEY_FILE):
        resolve_api_key(tmp_path, "")


def test_prepare_creates_missing_directories(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "data"
    resolved = prepare_data_dir(target)
    assert resolved == target.resolve()
    assert target.is_dir()


def test_prepare_rejects_a_regular_file(tmp_path: Path) -> None:
    regular = tmp_path / "data"
    regular.write_text("not a directory")
    with pytest.raises(DataDirError) as info:
        prepare_data_dir(regular)
    assert f"data directory {regular}" in info.value.message
    assert regular.read_text() == "not a directory"


def test_prepare_rejects_a_path_under_a_file(tmp_path: Path) -> None:
    regular = tmp_path / "file"
    regular.write_text("x")
    with pytest.raises(DataDirError, match="cannot create data directory"):
        prepare_data_dir(regular / "data")


def test_s89_daemon_generates_and_uses_key(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data", api_key=None)
    try:
        key = (tmp_path / "data" / API_KEY_FILE).read_text()
        assert HEX64.fullmatch(key)
        assert "Generated new API key" in daemon.log()
        with httpx.Client(base_url=daemon.url) as client:
            ok = client.get("/api/tokens", headers={"Authorization": f"Bearer {key}"})
            assert ok.status_code == 200
    finally:
        daemon.stop()


def test_s89_daemon_env_key_beats_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / API_KEY_FILE).write_text("file-key")
    daemon = start_daemon(data, api_key="env-key")
    try:
        with httpx.Client(base_url=daemon.url) as client:
            env_ok = client.get("/api/tokens", headers={"Authorization": "Bearer env-key"})
            file_no = client.get("/api/tokens", headers={"Authorization": "Bearer file-key"})
        assert env_ok.status_code == 200
        assert file_no.status_code == 401
    finally:
        daemon.stop()
