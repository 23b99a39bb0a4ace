"""Failures are one `Error:` line on stderr, exit 1 for the server or the network and 2 for
usage, never a traceback; plus `--version` and shell completion."""

from __future__ import annotations

import sys

import pytest

from lunard.client import cli as cli_module
from tests.client.helpers import Lunar


def test_connection_refused_names_the_server(lunar: Lunar) -> None:
    result = lunar("--server", "http://127.0.0.1:9", "functions", "list")
    assert result.code == 1
    assert result.err == "Error: cannot reach http://127.0.0.1:9: connection refused\n"
    assert result.out == ""


def test_server_validation_error_is_its_error_text(cli: Lunar) -> None:
    result = cli("functions", "create", "--name", "", "--code", "x")
    assert result.code == 1
    assert result.err == "Error: 400: name: name cannot be empty\n"


def test_unknown_id_is_the_servers_404(cli: Lunar) -> None:
    result = cli("functions", "get", "nope")
    assert (result.code, result.err) == (1, "Error: 404: Function not found\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-command"], "No such command 'no-such-command'"),
        (["functions", "create", "--name", "x"], "Missing option '--code'"),
        (["functions", "env", "id", "--env", "novalue"], "expected KEY=VALUE"),
        (["invoke", "id", "-H", "no-colon"], "expected NAME:VALUE"),
        (["logs", "id", "--since", "soon"], "expected a duration"),
        (["functions", "update", "id"], "nothing to change"),
        (["functions", "env", "id"], "--clear"),
        (["--output", "xml", "tokens", "list"], "'xml' is not one of"),
    ],
)
def test_usage_errors_exit_2(cli: Lunar, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err


def test_unexpected_failure_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("lunard.client.api.Api.list_tokens", broken)
    monkeypatch.setattr(sys, "argv", ["lunar", "--server", "http://127.0.0.1:9", "tokens", "list"])
    monkeypatch.delenv("LUNAR_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err == "Error: unexpected RuntimeError: a bug (LUNAR_DEBUG=1 shows more)\n"


def test_usage_error_through_the_entry_point(lunar: Lunar) -> None:
    result = lunar("functions", "frobnicate")
    assert result.code == 2
    assert result.err.endswith("Error: No such command 'frobnicate'.\n")
    assert "Traceback" not in result.err


def test_version(cli: Lunar) -> None:
    assert cli("--version").out.startswith("lunar, version ")


def test_completion_script_and_completions(lunar: Lunar) -> None:
    script = lunar("completion", "bash")
    assert script.code == 0 and "_LUNAR_COMPLETE=bash_complete" in script.out
    env = dict(lunar.env, _LUNAR_COMPLETE="bash_complete", COMP_WORDS="lunar fun", COMP_CWORD="1")
    completed = Lunar(env)()
    assert "plain,functions" in completed.out.splitlines()
    sub = dict(env, COMP_WORDS="lunar versions ", COMP_CWORD="2")
    assert {"plain,activate", "plain,diff"} <= set(Lunar(sub)().out.splitlines())


def test_help_lists_every_command(cli: Lunar) -> None:
    out = cli("--help").out
    for name in ("login", "logout", "whoami", "status", "functions", "versions", "executions",
                 "tokens", "invoke", "deploy", "pull", "logs", "analytics", "skills", "llms",
                 "completion"):  # fmt: skip
        assert f"  {name} " in out, name


def test_llms_prints_the_servers_guide(cli: Lunar) -> None:
    out = cli("llms").out
    assert "handler" in out and len(out) > 1000


def test_no_token_at_all_says_how_to_log_in(anonymous: Lunar) -> None:
    result = anonymous("tokens", "list")
    assert (result.code, result.err) == (1, "Error: 401: not logged in — run 'lunar login'\n")
