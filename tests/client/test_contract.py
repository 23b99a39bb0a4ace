"""platform §8.5: the CLI's behavioural contract, every call with `--output json`, against a
real daemon. A few tests run the installed `lunar` entry point (`lunar` fixture); the others
call the same command tree in-process (`cli` fixture), which only saves start-up time."""

from __future__ import annotations

import httpx

from tests.client.helpers import HELLO, Lunar
from tests.daemon import Daemon


def test_functions_list_has_functions_and_pagination_total(cli: Lunar) -> None:
    cli.create()
    body = cli.json("functions", "list")
    assert isinstance(body["functions"], list)
    assert body["pagination"]["total"] >= 1


def test_create_get_list_delete(lunar: Lunar) -> None:
    created = lunar.create(name="contract-crud")
    fid = created["id"]
    assert fid
    got = lunar.json("functions", "get", fid)
    assert (got["id"], got["name"]) == (fid, "contract-crud")
    listed = lunar.json("functions", "list", "--limit", "100")
    assert fid in [fn["id"] for fn in listed["functions"]]

    deleted = lunar("--output", "json", "functions", "delete", fid)
    assert deleted.code == 0, deleted.err
    assert deleted.out == ""  # the API's 204 has no body
    listed = lunar.json("functions", "list", "--limit", "100")
    assert fid not in [fn["id"] for fn in listed["functions"]]


def test_update_name_renames(cli: Lunar) -> None:
    fid = cli.create()["id"]
    result = cli("--output", "json", "functions", "update", fid, "--name", "renamed-fn")
    assert result.code == 0, result.err
    assert cli.json("functions", "get", fid)["name"] == "renamed-fn"


def test_update_code_adds_a_version(cli: Lunar) -> None:
    fid = cli.create()["id"]
    new_code = HELLO.replace("careful", "changed")
    assert cli("functions", "update", fid, "--code", new_code).code == 0
    versions = cli.json("versions", "list", fid)["versions"]
    assert len(versions) >= 2
    assert versions[0]["code"] == new_code and versions[0]["is_active"]


def test_env_replaces_and_get_shows_key_and_value(cli: Lunar) -> None:
    fid = cli.create()["id"]
    result = cli("--output", "json", "functions", "env", fid, "--env", "API_KEY=secret",
                   "--env", "DEBUG=true")  # fmt: skip
    assert result.code == 0, result.err
    got = cli("--output", "json", "functions", "get", fid)
    assert "API_KEY" in got.out and "secret" in got.out
    assert got.json()["env_vars"] == {"API_KEY": "secret", "DEBUG": "true"}


def test_kv_scoped_entries_appear_in_get(cli: Lunar) -> None:
    fid = cli.create()["id"]
    result = cli("--output", "json", "functions", "kv", fid, "--kv", "counter=0",
                   "--kv", "region=useast", "--global=false")  # fmt: skip
    assert result.code == 0, result.err
    got = cli("--output", "json", "functions", "get", fid)
    assert "counter" in got.out
    assert got.json()["scoped_data"] == {"counter": "0", "region": "useast"}


def test_kv_global_flag_replaces_the_global_set(cli: Lunar) -> None:
    fid = cli.create()["id"]
    assert cli("functions", "kv", fid, "--kv", "shared=yes", "--global").code == 0
    got = cli.json("functions", "get", fid)
    assert got["global_data"].get("shared") == "yes"
    assert "shared" not in got["scoped_data"]


def test_new_function_has_a_version_and_the_first_listed_is_active(cli: Lunar) -> None:
    fid = cli.create()["id"]
    versions = cli.json("versions", "list", fid)["versions"]
    assert len(versions) >= 1
    assert versions[0]["is_active"] is True


def test_versions_get_activate_delete(cli: Lunar) -> None:
    fid = cli.create()["id"]
    assert cli("functions", "update", fid, "--code", HELLO + "-- v2\n").code == 0
    v1 = cli("--output", "json", "versions", "get", fid, "1")
    v1_id = v1.json()["id"]
    assert v1_id in v1.out and v1_id == f"ver_{fid}_v1"

    assert cli("versions", "activate", fid, v1_id).code == 0
    versions = {v["version"]: v for v in cli.json("versions", "list", fid)["versions"]}
    assert versions[1]["is_active"] and not versions[2]["is_active"]

    v2_id = versions[2]["id"]
    assert cli("versions", "delete", fid, v2_id).code == 0
    remaining = [v["id"] for v in cli.json("versions", "list", fid)["versions"]]
    assert remaining == [v1_id]


def test_versions_accept_a_number_for_the_version_id(cli: Lunar) -> None:
    fid = cli.create()["id"]
    assert cli("functions", "update", fid, "--code", HELLO + "-- v2\n").code == 0
    assert cli("versions", "activate", fid, "1").code == 0
    active = [v["version"] for v in cli.json("versions", "list", fid)["versions"] if v["is_active"]]
    assert active == [1]


def test_versions_diff_is_the_api_diff(cli: Lunar, daemon: Daemon) -> None:
    fid = cli.create()["id"]
    assert cli("functions", "update", fid, "--code", HELLO.replace("careful", "x")).code == 0
    expected = httpx.get(
        f"{daemon.url}/api/functions/{fid}/diff/1/2",
        headers={"Authorization": f"Bearer {daemon.api_key}"},
    ).json()
    assert cli.json("versions", "diff", fid, "1", "2") == expected
    table = cli("versions", "diff", fid, "1", "2").out
    assert '-  log.warn("careful")' in table and '+  log.warn("x")' in table


def test_invoke_prints_the_body(lunar: Lunar) -> None:
    fid = lunar.create()["id"]
    result = lunar("--output", "json", "invoke", fid)
    assert result.code == 0, result.err
    assert "ok" in result.out
    assert result.json()["body"] == "ok"
    assert lunar("invoke", fid).out == "ok"  # the raw body by default


def test_invoke_post_with_a_json_body_has_no_error(cli: Lunar) -> None:
    echo = "function handler(ctx, event) return {statusCode = 200, body = event.body} end"
    fid = cli.create(code=echo)["id"]
    result = cli("--output", "json", "invoke", fid, "--method", "POST",
                   "--body", '{"hello":"world"}')  # fmt: skip
    assert result.code == 0, result.err
    assert "error" not in result.out
    assert result.json()["body"] == '{"hello":"world"}'


def test_executions_total_is_zero_then_positive_after_invoke(cli: Lunar) -> None:
    fid = cli.create()["id"]
    assert cli.json("executions", "list", fid)["pagination"]["total"] == 0
    assert cli("invoke", fid).code == 0
    assert cli.json("executions", "list", fid)["pagination"]["total"] > 0


def test_tokens_list_is_an_object_with_a_tokens_array(cli: Lunar) -> None:
    body = cli.json("tokens", "list")
    assert isinstance(body["tokens"], list)


def test_wrong_token_is_an_error_without_functions(lunar: Lunar) -> None:
    result = lunar("--output", "json", "--token", "wrong-token", "functions", "list")
    assert result.code == 1
    assert '"functions"' not in result.out
    assert "401" in result.err and "Traceback" not in result.err


def test_skills_list_mentions_both_guides(cli: Lunar) -> None:
    out = cli("skills", "list").out
    assert "lunar-cli" in out and "lunar-lua" in out
    names = [s["name"] for s in cli.json("skills", "list")["skills"]]
    assert names == ["lunar-cli", "lunar-lua"]


def test_skills_show_lunar_cli_contains_functions_create(cli: Lunar) -> None:
    assert "functions create" in cli("skills", "show", "lunar-cli").out


def test_skills_show_lunar_lua_mentions_handler_and_llms_txt(cli: Lunar) -> None:
    out = cli("skills", "show", "lunar-lua").out
    assert "handler" in out and "llms.txt" in out


def test_skills_show_unknown_is_an_error(lunar: Lunar) -> None:
    result = lunar("skills", "show", "no-such-skill")
    assert result.code == 2
    assert "no skill named 'no-such-skill'" in result.err
    assert result.out == ""
