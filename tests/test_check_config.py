"""`lunard check-config`: validation and where every effective value comes from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.daemon import start_daemon


def check_config(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LUNARD_")}
    for name in ("PORT", "HOST", "DATA_DIR", "API_KEY", "BASE_URL", "EXECUTION_TIMEOUT"):
        clean.pop(name, None)
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lunard", "check-config", *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )


def test_each_value_names_its_source(tmp_path: Path) -> None:
    config = tmp_path / "lunard.toml"
    config.write_text('workers = 3\nport = 4000\napi_key = "secret-key"\n')
    result = check_config(
        "--config", str(config), "--port", "4001", "--json", env={"LUNARD_QUEUE_SIZE": "9"}
    )
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)["settings"]
    assert settings["workers"] == {"value": 3, "source": "file"}
    assert settings["port"] == {"value": 4001, "source": "flag"}  # the flag beats the file
    assert settings["queue_size"] == {"value": 9, "source": "env"}
    assert settings["host"] == {"value": "127.0.0.1", "source": "default"}
    assert settings["api_key"]["value"] == "********"  # never printed
    assert "secret-key" not in result.stdout


def test_text_output_marks_sources(tmp_path: Path) -> None:
    result = check_config(env={"LUNARD_QUEUE_SIZE": "9"})
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("queue_size"))
    assert line.split("#")[1].strip() == "env LUNARD_QUEUE_SIZE"


def test_an_invalid_value_names_the_setting(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('workers = "many"\n')
    result = check_config("--config", str(config))
    assert result.returncode == 2
    assert "invalid value for workers" in result.stderr
    assert result.stdout == ""


def test_json_log_format_writes_one_object_per_line(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data", env={"LUNARD_LOG_FORMAT": "json"})
    with daemon.client() as api:
        assert api.get("/healthz").status_code == 200
    assert daemon.stop() == 0
    lines = [line for line in daemon.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    access = [r for r in records if r["logger"] == "lunard.access"]
    assert any(r.get("path") == "/healthz" and r.get("status") == 200 for r in access)
    assert any("lunard ready url=" in r["message"] for r in records)
