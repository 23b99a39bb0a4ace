"""Env vars and KV entries (http-api §5.14–5.15, acceptance statements 45–55)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.http.helpers import create, fetch

MISSING = "doesnotexist00000000"


def put_env(api: httpx.Client, function_id: str, env: Any) -> httpx.Response:
    return api.put(f"/api/functions/{function_id}/env", json={"env_vars": env})


def post_kv(
    api: httpx.Client, function_id: str, entries: Any, *, global_scope: bool = False
) -> httpx.Response:
    body = {"global": global_scope, "kvEntries": entries}
    return api.post(f"/api/functions/{function_id}/kv", json=body)


def pairs(**entries: str) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in entries.items()]


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["error"]
    return message


# --------------------------------------------------------------------------- env


def test_s45_put_env_vars(api: httpx.Client) -> None:
    created = create(api)
    function_id = created["id"]
    response = put_env(api, function_id, {"API_KEY": "secret-123", "DEBUG": "true"})
    assert response.status_code == 200
    assert response.json() == created["active_version"]  # the active version, not the function
    assert fetch(api, function_id)["env_vars"] == {"API_KEY": "secret-123", "DEBUG": "true"}
    listed = api.get("/api/functions?limit=100").json()["functions"]
    assert next(f for f in listed if f["id"] == function_id)["env_vars"] == {}


def test_s46_env_put_replaces(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    put_env(api, function_id, {"API_KEY": "secret-123", "DEBUG": "true"})
    assert put_env(api, function_id, {"DEBUG": "false"}).status_code == 200
    assert fetch(api, function_id)["env_vars"] == {"DEBUG": "false"}


def test_env_put_does_not_touch_versions_or_updated_at(api: httpx.Client) -> None:
    created = create(api)
    put_env(api, created["id"], {"A": "1"})
    after = fetch(api, created["id"])
    assert after["updated_at"] == created["updated_at"]
    assert after["active_version"]["version"] == 1


def test_s47_env_empty_map_clears_and_missing_map_is_rejected(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    put_env(api, function_id, {"A": "1"})
    assert put_env(api, function_id, {}).status_code == 200
    assert fetch(api, function_id)["env_vars"] == {}
    for body in ({}, {"env_vars": None}):
        response = api.put(f"/api/functions/{function_id}/env", json=body)
        assert error_of(response, 400) == "env_vars: env_vars cannot be nil"


@pytest.mark.parametrize(
    "key",
    ["API_KEY", "PORT", "DB_HOST_1", "_PRIVATE", "snake_case_key", "MixedCase123", "123", "_123"],
)
def test_s48_env_valid_keys(api: httpx.Client, key: str) -> None:
    function_id = create(api)["id"]
    assert put_env(api, function_id, {key: "v"}).status_code == 200
    assert fetch(api, function_id)["env_vars"] == {key: "v"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"": "v"}, "env_var_key: environment variable key cannot be empty"),
        ({"  ": "v"}, "env_var_key: environment variable key cannot be empty"),
        *[
            (
                {key: "v"},
                "env_var_key: environment variable key can only contain letters, numbers, "
                "and underscores",
            )
            for key in ("API-KEY", "API.KEY", "API KEY", "API@KEY", "CLÉ")
        ],
        (
            {"K" * 101: "v"},
            "env_var_key: environment variable key cannot be longer than 100 characters",
        ),
        ({"K": ""}, "env_var_value: environment variable value cannot be empty"),
        ({"K": " \t "}, "env_var_value: environment variable value cannot be empty"),
        ({"K": None}, "env_var_value: environment variable value cannot be empty"),
        (
            {"K": "v" * 10001},
            "env_var_value: environment variable value cannot be longer than 10000 characters",
        ),
        (
            {f"K{i}": "v" for i in range(101)},
            "env_vars: cannot have more than 100 environment variables",
        ),
    ],
)
def test_s48_env_invalid_entries(api: httpx.Client, env: dict[str, Any], message: str) -> None:
    function_id = create(api)["id"]
    put_env(api, function_id, {"KEEP": "me"})
    assert error_of(put_env(api, function_id, env), 400) == message
    assert fetch(api, function_id)["env_vars"] == {"KEEP": "me"}


def test_s48_env_limits_are_inclusive(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    env = {f"K{i}": "v" for i in range(99)} | {"K" * 100: "v" * 10000}
    assert put_env(api, function_id, env).status_code == 200
    assert fetch(api, function_id)["env_vars"] == env


def test_s49_env_unknown_function(api: httpx.Client) -> None:
    assert error_of(put_env(api, MISSING, {"A": "1"}), 404) == "Function not found"
    # validation comes before the existence check
    assert "env_vars" in error_of(api.put(f"/api/functions/{MISSING}/env", json={}), 400)


def test_s50_function_reads_env(api: httpx.Client) -> None:
    code = "function handler(ctx, event) return {statusCode = 200, body = env.get('GREETING')} end"
    function_id = create(api, code)["id"]
    assert put_env(api, function_id, {"GREETING": "hola"}).status_code == 200
    response = api.post(f"/fn/{function_id}")
    assert (response.status_code, response.text) == (200, "hola")
    put_env(api, function_id, {"GREETING": "adios"})
    assert api.post(f"/fn/{function_id}").text == "adios"


@pytest.mark.parametrize(
    "body", [b"nope", b'{"env_vars": ["A"]}', b'{"env_vars": {"A": 1}}', b'{"env_vars": "A=1"}']
)
def test_env_malformed_body(api: httpx.Client, body: bytes) -> None:
    function_id = create(api)["id"]
    response = api.put(f"/api/functions/{function_id}/env", content=body)
    assert error_of(response, 400) == "Invalid request body"


# --------------------------------------------------------------------------- KV


def test_s51_kv_function_scope(api: httpx.Client) -> None:
    created = create(api)
    function_id = created["id"]
    response = post_kv(api, function_id, pairs(status="ready"))
    assert response.status_code == 200
    assert response.json() == created["active_version"]
    assert fetch(api, function_id)["scoped_data"] == {"status": "ready"}


def test_s52_kv_global_scope(api: httpx.Client) -> None:
    first, other = create(api)["id"], create(api)["id"]
    post_kv(api, first, pairs(mine="yes"))
    assert post_kv(api, first, pairs(token="shared-secret"), global_scope=True).status_code == 200
    for function_id in (first, other):
        assert fetch(api, function_id)["global_data"]["token"] == "shared-secret"
    assert fetch(api, first)["scoped_data"] == {"mine": "yes"}
    assert fetch(api, other)["scoped_data"] == {}


def test_s53_kv_replace_semantics(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    post_kv(api, function_id, pairs(a="1"))
    assert post_kv(api, function_id, pairs(b="2")).status_code == 200
    assert fetch(api, function_id)["scoped_data"] == {"b": "2"}
    assert post_kv(api, function_id, []).status_code == 200
    assert fetch(api, function_id)["scoped_data"] == {}


def test_s55_function_reads_kv(api: httpx.Client) -> None:
    code = "function handler(ctx, event) return {statusCode = 200, body = kv.get('color')} end"
    function_id = create(api, code)["id"]
    assert post_kv(api, function_id, pairs(color="blue")).status_code == 200
    response = api.post(f"/fn/{function_id}")
    assert (response.status_code, response.text) == (200, "blue")


def test_kv_duplicate_keys_last_wins(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    entries = [{"key": "k", "value": "first"}, {"key": "k", "value": "last"}]
    assert post_kv(api, function_id, entries).status_code == 200
    assert fetch(api, function_id)["scoped_data"] == {"k": "last"}


def test_kv_global_replace_leaves_function_scope(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    post_kv(api, function_id, pairs(local="1"))
    assert post_kv(api, function_id, pairs(g_only="1"), global_scope=True).status_code == 200
    assert fetch(api, function_id)["global_data"] == {"g_only": "1"}
    assert fetch(api, function_id)["scoped_data"] == {"local": "1"}


def test_s54_kv_validation(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    post_kv(api, function_id, pairs(keep="me"))
    cases = [
        ({"global": False}, "kvEntries: kvEntries cannot be nil"),
        ({"kvEntries": None}, "kvEntries: kvEntries cannot be nil"),
        (
            {"kvEntries": pairs(**{"bad-key": "v"})},
            "key: key can only contain letters, numbers, and underscores",
        ),
        ({"kvEntries": pairs(k=" ")}, "value: value cannot be empty"),
        ({"kvEntries": [{"value": "v"}]}, "key: key cannot be empty"),
        ({"kvEntries": [None]}, "key: key cannot be empty"),
        ({"kvEntries": pairs(**{"k" * 101: "v"})}, "key: key cannot be longer than 100 characters"),
        (
            {"kvEntries": pairs(k="v" * 10001)},
            "value: value cannot be longer than 10000 characters",
        ),
        ({"kvEntries": pairs(ok="1", **{"no way": "2"})}, "key: key can only contain"),
    ]
    for body, message in cases:
        response = api.post(f"/api/functions/{function_id}/kv", json=body)
        assert error_of(response, 400).startswith(message)
    assert fetch(api, function_id)["scoped_data"] == {"keep": "me"}
    assert error_of(post_kv(api, MISSING, pairs(a="1")), 404) == "Function not found"
    assert error_of(post_kv(api, MISSING, pairs(a="1"), global_scope=True), 404) == (
        "Function not found"
    )
    assert "kvEntries" in error_of(api.post(f"/api/functions/{MISSING}/kv", json={}), 400)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"kvEntries": {"a": "1"}}',
        b'{"kvEntries": ["a"]}',
        b'{"kvEntries": [{"key": 1, "value": "v"}]}',
        b'{"global": "yes", "kvEntries": []}',
    ],
)
def test_kv_malformed_body(api: httpx.Client, body: bytes) -> None:
    function_id = create(api)["id"]
    response = api.post(f"/api/functions/{function_id}/kv", content=body)
    assert error_of(response, 400) == "Invalid request body"


def test_env_and_kv_require_auth(anon: httpx.Client, api: httpx.Client) -> None:
    function_id = create(api)["id"]
    assert put_env(anon, function_id, {"A": "1"}).status_code == 401
    assert post_kv(anon, function_id, pairs(a="1")).status_code == 401
    assert fetch(api, function_id)["env_vars"] == {}
    assert fetch(api, function_id)["scoped_data"] == {}
