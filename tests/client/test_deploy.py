"""`lunar deploy FILE` (a version only when the code changed) and `lunar pull ID`."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.client.helpers import HELLO, Lunar
from tests.daemon import Daemon


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A uniquely named Lua file (the function's name is the file's stem)."""
    path = tmp_path / f"deploy-{uuid.uuid4().hex[:8]}.lua"
    path.write_text(HELLO)
    return path


def versions(daemon: Daemon, fid: str) -> list[int]:
    response = httpx.get(
        f"{daemon.url}/api/functions/{fid}/versions",
        headers={"Authorization": f"Bearer {daemon.api_key}"},
    )
    return [v["version"] for v in response.json()["versions"]]


def test_deploy_twice_with_the_same_code_makes_one_version(
    lunar: Lunar, daemon: Daemon, source: Path
) -> None:
    first = lunar("deploy", str(source))
    assert first.code == 0, first.err
    assert f"created {source.stem} (" in first.out
    second = lunar.json("deploy", str(source))
    assert second["action"] == "unchanged" and second["name"] == source.stem
    assert second["url"] == f"{daemon.url}/fn/{second['id']}"
    assert second["url"] in first.out
    assert versions(daemon, second["id"]) == [1]


def test_deploy_with_changed_code_makes_two_versions(
    lunar: Lunar, daemon: Daemon, source: Path
) -> None:
    created = lunar.json("deploy", str(source))
    source.write_text(HELLO.replace("careful", "changed"))
    updated = lunar.json("deploy", str(source))
    assert (updated["action"], updated["new_version"], updated["version"]) == ("updated", True, 2)
    assert updated["id"] == created["id"]
    assert versions(daemon, created["id"]) == [2, 1]
    assert lunar("invoke", created["id"]).out == "ok"


def test_deploy_by_id_keeps_the_name_and_name_option_renames(cli: Lunar, source: Path) -> None:
    fid = cli.json("deploy", str(source))["id"]
    other = source.with_name("other-name.lua")
    other.write_text(HELLO + "-- edited\n")
    by_id = cli.json("deploy", str(other), "--id", fid)
    assert (by_id["id"], by_id["name"], by_id["version"]) == (fid, source.stem, 2)
    renamed = cli.json("deploy", str(other), "--id", fid, "--name", "renamed-by-deploy")
    assert (renamed["name"], renamed["version"], renamed["new_version"]) == (
        "renamed-by-deploy",
        2,
        False,
    )


def test_deploy_from_stdin_needs_a_name(cli: Lunar) -> None:
    name = f"stdin-{uuid.uuid4().hex[:8]}"
    assert cli("deploy", "-", input=HELLO).code == 2
    created = cli.json("deploy", "-", "--name", name, input=HELLO)
    assert (created["action"], created["name"]) == ("created", name)


def test_deploy_refuses_to_guess_between_functions_of_one_name(cli: Lunar, source: Path) -> None:
    cli.create(name=source.stem)
    cli.create(name=source.stem)
    result = cli("deploy", str(source))
    assert result.code == 2
    assert f"2 functions are named '{source.stem}'" in result.err and "--id" in result.err


def test_deploy_of_a_missing_file_is_a_usage_error(lunar: Lunar, tmp_path: Path) -> None:
    result = lunar("deploy", str(tmp_path / "nope.lua"))
    assert result.code == 2
    assert "does not exist" in result.err and "Traceback" not in result.err


def test_pull_prints_or_writes_the_active_code(
    lunar: Lunar, cli: Lunar, source: Path, tmp_path: Path
) -> None:
    fid = cli.json("deploy", str(source))["id"]
    source.write_text(HELLO + "-- v2\n")
    cli.json("deploy", str(source))
    assert lunar("pull", fid).out == HELLO + "-- v2\n"
    assert cli("pull", fid, "--version", "1").out == HELLO

    target = tmp_path / "pulled.lua"
    result = cli("pull", fid, "-o", str(target))
    assert result.code == 0, result.err
    assert target.read_text() == HELLO + "-- v2\n"
    assert f"wrote version 2 of {fid}" in result.err
