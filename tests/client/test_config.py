"""The config file (`$XDG_CONFIG_HOME/lunar/config.yaml`, mode 0600) and the precedence
flags > LUNAR_SERVER/LUNAR_TOKEN > config file > default (platform §8.2)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from lunard.client.config import (
    DEFAULT_SERVER,
    config_path,
    load_config,
    parse_config,
    render_config,
    resolve,
    save_config,
)
from lunard.client.errors import ConfigFileError
from tests.client.helpers import Lunar, clean_env
from tests.daemon import Daemon

UNREACHABLE = "http://127.0.0.1:9"


def test_config_path_respects_xdg_config_home(tmp_path: Path) -> None:
    xdg = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert config_path(xdg) == tmp_path / "lunar" / "config.yaml"
    assert config_path({}) == Path.home() / ".config" / "lunar" / "config.yaml"
    assert config_path({"XDG_CONFIG_HOME": "relative"}).parent.parent == Path.home() / ".config"


def test_written_file_is_yaml_and_reads_back(tmp_path: Path) -> None:
    values = {"server": "http://h:3000", "token": 'a"b\\c: #d', "token_id": "x"}
    path = tmp_path / "lunar" / "config.yaml"
    save_config(path, values)
    assert load_config(path) == values
    assert yaml.safe_load(path.read_text()) == values  # any YAML parser agrees


def test_file_is_mode_0600_even_when_it_was_readable(tmp_path: Path) -> None:
    path = tmp_path / "lunar" / "config.yaml"
    path.parent.mkdir()
    path.write_text("server: x\n")
    path.chmod(0o644)
    save_config(path, {"token": "secret"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config.yaml"]  # no temp file left


def test_hand_written_yaml_subset_is_read() -> None:
    text = """# comment
---
server: http://plain:3000   # trailing comment
token: 'it''s'
other: "double \\"quoted\\""
empty:
"""
    assert parse_config(text) == {
        "server": "http://plain:3000",
        "token": "it's",
        "other": 'double "quoted"',
        "empty": "",
    }
    assert parse_config(render_config({"a": "1"})) == {"a": "1"}


@pytest.mark.parametrize("text", ["servers:\n  - a\n", "just text\n", 'token: "open\n'])
def test_unsupported_yaml_is_an_error_naming_the_line(text: str) -> None:
    with pytest.raises(ConfigFileError, match="line"):
        parse_config(text)


def test_precedence_flag_env_file_default(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    save_config(path, {"server": "http://file:1", "token": "file-token"})
    env = {"LUNAR_SERVER": "http://env:2", "LUNAR_TOKEN": "env-token"}

    def pick(flag_server: str | None, flag_token: str | None, env: dict[str, str]) -> tuple:
        s = resolve(server_flag=flag_server, token_flag=flag_token, env=env, path=path)
        return s.server, s.token

    assert pick("http://flag:3", "flag-token", env) == ("http://flag:3", "flag-token")
    assert pick(None, None, env) == ("http://env:2", "env-token")
    assert pick(None, None, {}) == ("http://file:1", "file-token")
    assert (
        resolve(server_flag=None, token_flag=None, env={}, path=tmp_path / "none.yaml").server
        == DEFAULT_SERVER
    )


def test_a_saved_token_is_only_sent_to_its_own_server(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    save_config(path, {"server": "http://saved:1/", "token": "saved-token"})
    same = resolve(server_flag="http://saved:1", token_flag=None, env={}, path=path)
    other = resolve(server_flag="http://other:1", token_flag=None, env={}, path=path)
    assert same.token == "saved-token"
    assert other.token is None


def test_server_without_scheme_gets_http(tmp_path: Path) -> None:
    settings = resolve(server_flag="localhost:3000/", token_flag=None, env={}, path=tmp_path / "x")
    assert settings.server == "http://localhost:3000"


def test_cli_flags_beat_env_which_beats_the_file(daemon: Daemon, tmp_path: Path) -> None:
    home = tmp_path / "config"
    save_config(home / "lunar" / "config.yaml", {"server": UNREACHABLE, "token": "stale"})
    from_file = Lunar(clean_env(home)).runner()
    assert "cannot reach http://127.0.0.1:9" in from_file("functions", "list").err

    from_env = Lunar(clean_env(home, LUNAR_SERVER=daemon.url, LUNAR_TOKEN=daemon.api_key))
    assert "functions" in from_env.runner().json("functions", "list")

    wrong_env = Lunar(clean_env(home, LUNAR_SERVER=UNREACHABLE, LUNAR_TOKEN="bad")).runner()
    flags = ["--server", daemon.url, "--token", daemon.api_key]
    assert "functions" in wrong_env.json(*flags, "functions", "list")
    # like the Go CLI's persistent flags, they may also follow the command
    assert "functions" in wrong_env.json("functions", "list", *flags)


def test_a_broken_config_file_is_one_line_exit_1(tmp_path: Path) -> None:
    home = tmp_path / "config"
    (home / "lunar").mkdir(parents=True)
    (home / "lunar" / "config.yaml").write_text("server:\n  nested: 1\n")
    result = Lunar(clean_env(home))("functions", "list")
    assert result.code == 1
    assert result.err.startswith("Error: cannot read ") and "line 2" in result.err
    assert len(result.err.strip().splitlines()) == 1
