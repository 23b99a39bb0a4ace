"""`lunard check-config`: validation and where every effective value comes from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


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


def test_invalid_values_say_where_they_came_from(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("port = 70000\n")
    from_file = check_config("--config", str(config))
    assert from_file.returncode == 2
    assert f"port (PORT): 70000 must be between 0 and 65535 (from config file {config})" in (
        from_file.stderr
    )
    from_env = check_config(env={"LUNARD_SHUTDOWN_GRACE": "-1"})
    assert from_env.returncode == 2
    assert "shutdown_grace (LUNARD_SHUTDOWN_GRACE)" in from_env.stderr
    assert "(from environment)" in from_env.stderr
    from_flag = check_config("--log-format", "xml")
    assert from_flag.returncode == 2
    assert "log_format" in from_flag.stderr and "(from flag --log-format)" in from_flag.stderr
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("prot = 1\n")
    assert "unknown setting 'prot'" in check_config("--config", str(unknown)).stderr


def test_text_output_is_toml_that_loads_back(tmp_path: Path) -> None:
    """The printed values are TOML: saved as a file, they give the same configuration."""
    result = check_config("--workers", "2", env={"PORT": "4100"})
    assert result.returncode == 0, result.stderr
    saved = tmp_path / "effective.toml"
    saved.write_text(result.stdout)
    again = check_config("--config", str(saved), "--json")
    assert again.returncode == 0, again.stderr
    settings = json.loads(again.stdout)["settings"]
    assert settings["workers"] == {"value": 2, "source": "file"}
    assert settings["port"] == {"value": 4100, "source": "file"}
    assert {s["source"] for s in settings.values()} == {"file"}


def test_shipped_config_is_valid_and_documents_every_setting() -> None:
    from dataclasses import fields

    from lunard.config import Config

    shipped = Path(__file__).resolve().parent.parent / "config" / "lunard.toml"
    result = check_config("--config", str(shipped), "--json")
    assert result.returncode == 0, result.stderr
    text = shipped.read_text()
    for f in fields(Config):
        assert f"{f.name} =" in text, f"{f.name} is not documented in config/lunard.toml"
