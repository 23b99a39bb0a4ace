"""Configuration precedence and validation (statement 88; platform §4)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from lunard.config import Config, env_name, load_config
from lunard.errors import ConfigError


def test_s88_defaults() -> None:
    cfg = load_config(environ={})
    assert cfg.port == 3000
    assert cfg.data_dir == Path("./data")
    assert cfg.execution_timeout == 300
    assert cfg.timeout_seconds == 300
    assert cfg.host == "127.0.0.1"
    assert cfg.api_key == ""
    assert cfg.session_ttl == 86400
    assert cfg.public_url == "http://localhost:3000"


def test_s88_execution_timeout_from_env() -> None:
    assert load_config(environ={"EXECUTION_TIMEOUT": "120"}).timeout_seconds == 120


@pytest.mark.parametrize("value", ["abc", "1.5", "12s", " "])
def test_s88_non_numeric_execution_timeout_means_300(value: str) -> None:
    assert load_config(environ={"EXECUTION_TIMEOUT": value}).timeout_seconds == 300


def test_zero_execution_timeout_falls_back_to_300() -> None:
    cfg = load_config(environ={"EXECUTION_TIMEOUT": "0"})
    assert cfg.execution_timeout == 0
    assert cfg.timeout_seconds == 300


def test_upstream_env_names() -> None:
    cfg = load_config(
        environ={
            "PORT": "8080",
            "DATA_DIR": "/var/lib/lunard",
            "API_KEY": "k",
            "BASE_URL": "https://fn.example.com/",
            "HOST": "0.0.0.0",
        }
    )
    assert cfg.port == 8080
    assert cfg.data_dir == Path("/var/lib/lunard")
    assert cfg.api_key == "k"
    assert cfg.host == "0.0.0.0"
    assert cfg.public_url == "https://fn.example.com"  # one trailing slash removed


def test_other_settings_use_lunard_prefix() -> None:
    assert env_name("workers") == "LUNARD_WORKERS"
    assert env_name("port") == "PORT"
    cfg = load_config(
        environ={"LUNARD_WORKERS": "3", "LUNARD_SHUTDOWN_GRACE": "2.5", "WORKERS": "9"}
    )
    assert cfg.workers == 3
    assert cfg.shutdown_grace == 2.5


def test_empty_env_value_is_ignored() -> None:
    assert load_config(environ={"PORT": "", "LUNARD_WORKERS": ""}).port == 3000


def test_precedence_defaults_file_env_overrides(tmp_path: Path) -> None:
    config_file = tmp_path / "lunard.toml"
    config_file.write_text('port = 4000\nworkers = 2\nqueue_size = 10\nlog_level = "DEBUG"\n')
    from_file = load_config(file=config_file, environ={})
    assert (from_file.port, from_file.workers, from_file.queue_size) == (4000, 2, 10)
    assert from_file.max_memory_mb == Config().max_memory_mb  # untouched default

    env = {"PORT": "5000", "LUNARD_WORKERS": "4"}
    from_env = load_config(file=config_file, environ=env)
    assert (from_env.port, from_env.workers, from_env.queue_size) == (5000, 4, 10)

    flags = load_config(file=config_file, environ=env, overrides={"port": "6000", "workers": None})
    assert (flags.port, flags.workers, flags.queue_size) == (6000, 4, 10)
    assert flags.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"PORT": "abc"}, ("port", "PORT")),
        ({"PORT": "70000"}, ("port", "PORT")),
        ({"LUNARD_WORKERS": "many"}, ("workers", "LUNARD_WORKERS")),
        ({"LUNARD_WORKERS": "0"}, ("workers", "LUNARD_WORKERS")),
        ({"LUNARD_QUEUE_SIZE": "0"}, ("queue_size", "LUNARD_QUEUE_SIZE")),
        ({"LUNARD_SESSION_TTL": "10"}, ("session_ttl", "LUNARD_SESSION_TTL")),
        ({"LUNARD_SHUTDOWN_GRACE": "soon"}, ("shutdown_grace", "LUNARD_SHUTDOWN_GRACE")),
        ({"LUNARD_LOG_LEVEL": "LOUD"}, ("log_level", "LUNARD_LOG_LEVEL")),
        ({"LUNARD_TIMEZONE": "Mars/Olympus"}, ("timezone", "LUNARD_TIMEZONE")),
        ({"EXECUTION_TIMEOUT": "-5"}, ("execution_timeout", "EXECUTION_TIMEOUT")),
    ],
)
def test_invalid_values_name_the_setting(environ: dict[str, str], names: tuple[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ=environ)
    for name in names:
        assert name in info.value.message


def test_invalid_flag_value_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="max_body_bytes"):
        load_config(environ={}, overrides={"max_body_bytes": "big"})


def test_config_file_errors(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("prot = 3000\n")
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_config(file=unknown, environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(file=broken, environ={})
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(file=tmp_path / "missing.toml", environ={})
    wrong_type = tmp_path / "wrong.toml"
    wrong_type.write_text("port = true\n")
    with pytest.raises(ConfigError, match="port"):
        load_config(file=wrong_type, environ={})


def test_config_is_frozen() -> None:
    cfg = load_config(environ={})
    with pytest.raises(AttributeError):
        cfg.port = 1  # type: ignore[misc]


def test_serve_with_invalid_setting_exits_2_with_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNARD_")}
    env.update({"DATA_DIR": str(tmp_path / "data"), "LUNARD_WORKERS": "lots"})
    result = subprocess.run(
        [sys.executable, "-m", "lunard", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "LUNARD_WORKERS" in result.stderr
    assert not (tmp_path / "data").exists()  # nothing was created before the check


def test_sources_default_file_env_flag(tmp_path: Path) -> None:
    from lunard.config import load_config_with_sources

    config_file = tmp_path / "lunard.toml"
    config_file.write_text('port = 4000\nworkers = 2\nlog_format = "json"\n')
    cfg, sources = load_config_with_sources(
        file=config_file,
        environ={"LUNARD_WORKERS": "3", "EXECUTION_TIMEOUT": "soon"},
        overrides={"port": "4001", "queue_size": None},
    )
    assert (cfg.port, cfg.workers, cfg.log_format, cfg.execution_timeout) == (4001, 3, "json", 300)
    assert sources["port"] == "flag"
    assert sources["workers"] == "env"
    assert sources["execution_timeout"] == "env"  # upstream leniency still counts as set
    assert sources["log_format"] == "file"
    assert sources["queue_size"] == "default"  # a None flag is "not given"
    assert set(sources) == {f.name for f in fields(Config)}
    assert (
        load_config(file=config_file, environ={})
        == load_config_with_sources(file=config_file, environ={})[0]
    )


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"environ": {"LUNARD_LOG_FORMAT": "xml"}}, "(from environment)"),
        ({"environ": {}, "overrides": {"shutdown_grace": "-1"}}, "(from flag --shutdown-grace)"),
        ({"environ": {}, "overrides": {"shutdown_grace": "later"}}, "(from flag --shutdown-grace)"),
    ],
)
def test_errors_name_their_source(kwargs: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(**kwargs)
    assert where in info.value.message


def test_drain_delay_defaults_and_sources(tmp_path: Path) -> None:
    assert load_config(environ={}).drain_delay == 5.0
    assert load_config(environ={"LUNARD_DRAIN_DELAY": "0"}).drain_delay == 0.0
    assert load_config(environ={"LUNARD_DRAIN_DELAY": "2.5"}).drain_delay == 2.5
    config_file = tmp_path / "lunard.toml"
    config_file.write_text("drain_delay = 1\n")
    assert load_config(file=config_file, environ={}).drain_delay == 1.0
    assert load_config(environ={}, overrides={"drain_delay": "0.25"}).drain_delay == 0.25


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf"])
def test_drain_delay_must_be_a_finite_number_of_seconds(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ={"LUNARD_DRAIN_DELAY": value})
    assert "drain_delay (LUNARD_DRAIN_DELAY)" in info.value.message
    assert "(from environment)" in info.value.message


def test_the_shipped_config_file_lists_drain_delay_with_its_default() -> None:
    shipped = Path(__file__).resolve().parent.parent / "config" / "lunard.toml"
    text = shipped.read_text()
    assert f"# drain_delay = {Config().drain_delay}" in text
    assert load_config(file=shipped, environ={}) == load_config(environ={})


# --------------------------------------------------------------------------- state backend


def test_state_url_defaults_to_sqlite_and_reads_its_env() -> None:
    cfg = load_config(environ={})
    assert cfg.state_url == "" and cfg.state_pool_size == 4
    url = "postgresql://lunard@db.internal:5432/lunard"
    cfg = load_config(environ={"LUNARD_STATE_URL": url, "LUNARD_STATE_POOL_SIZE": "8"})
    assert cfg.state_url == url and cfg.state_pool_size == 8
    assert load_config(environ={"LUNARD_STATE_URL": "postgres://x@y/z"}).state_url.startswith(
        "postgres://"
    )


@pytest.mark.parametrize(
    "url", ["sqlite:///data/lunard.db", "mysql://u@h/db", "db.internal:5432", "http://x"]
)
def test_state_url_must_be_postgresql(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ={"LUNARD_STATE_URL": url})
    message = str(caught.value)
    assert "state_url (LUNARD_STATE_URL)" in message
    assert "postgresql:// or postgres://" in message and "(from environment)" in message


def test_a_refused_state_url_does_not_echo_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ={"LUNARD_STATE_URL": "mysql://user:hunter2@h/db"})
    assert "hunter2" not in str(caught.value) and "user:********@h" in str(caught.value)


@pytest.mark.parametrize("value", ["0", "65", "-1"])
def test_state_pool_size_is_between_1_and_64(value: str) -> None:
    with pytest.raises(ConfigError, match=r"state_pool_size \(LUNARD_STATE_POOL_SIZE\).*1 and 64"):
        load_config(environ={"LUNARD_STATE_POOL_SIZE": value})


def test_check_config_masks_the_state_url_password() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNARD_")}
    env["LUNARD_STATE_URL"] = "postgresql://lunard:s3cret@db:5432/lunard?password=s3cret"
    for args in ([], ["--json"]):
        result = subprocess.run(
            [sys.executable, "-m", "lunard", "check-config", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "s3cret" not in result.stdout
        assert "postgresql://lunard:********@db:5432/lunard?password=********" in result.stdout


def test_the_shipped_config_file_documents_the_state_settings() -> None:
    shipped = (Path(__file__).resolve().parent.parent / "config" / "lunard.toml").read_text()
    assert 'state_url = ""' in shipped and "state_pool_size = 4" in shipped


def test_records_url_needs_postgresql_state_and_hides_its_password() -> None:
    state = "postgresql://lunard@db/lunard"
    cfg = load_config(environ={"LUNARD_STATE_URL": state, "LUNARD_RECORDS_URL": state})
    assert cfg.records_url == state
    with pytest.raises(ConfigError, match=r"records_url \(LUNARD_RECORDS_URL\) needs state_url"):
        load_config(environ={"LUNARD_RECORDS_URL": state})
    with pytest.raises(ConfigError) as caught:
        load_config(
            environ={"LUNARD_STATE_URL": state, "LUNARD_RECORDS_URL": "mysql://u:hunter2@h/db"}
        )
    assert "hunter2" not in str(caught.value) and "postgresql:// or postgres://" in str(
        caught.value
    )


def test_cache_ttl_and_node_name() -> None:
    cfg = load_config(environ={})
    assert cfg.state_cache_ttl == 5.0 and cfg.node_id == ""
    assert cfg.node_name.endswith(f"-{os.getpid()}")
    named = load_config(environ={"LUNARD_NODE_ID": "node-a", "LUNARD_STATE_CACHE_TTL": "0.5"})
    assert (named.node_name, named.state_cache_ttl) == ("node-a", 0.5)
    with pytest.raises(ConfigError, match="state_cache_ttl"):
        load_config(environ={"LUNARD_STATE_CACHE_TTL": "0"})


def test_lake_url_needs_records_on_postgresql() -> None:
    url = "postgresql://lunard@db/lunard"
    cfg = load_config(
        environ={"LUNARD_STATE_URL": url, "LUNARD_RECORDS_URL": url, "LUNARD_LAKE_URL": "/lake"}
    )
    assert (cfg.lake_url, cfg.lake_export_interval) == ("/lake", 60.0)
    with pytest.raises(ConfigError, match=r"lake_url \(LUNARD_LAKE_URL\) needs records_url"):
        load_config(environ={"LUNARD_LAKE_URL": "/lake"})
    with pytest.raises(ConfigError, match="lake_export_interval"):
        load_config(environ={"LUNARD_LAKE_EXPORT_INTERVAL": "0"})
