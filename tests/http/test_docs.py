"""API reference, OpenAPI document and the Lua guide (http-api §5.27–5.30; statements 1–2)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import yaml
from quart_trio import QuartTrio

from lunard.config import Config
from lunard.http import runtime
from lunard.http.app import create_app
from lunard.http.deps import AppDeps, Readiness
from lunard.http.device_auth import DeviceAuthStore
from lunard.http.portable import IMPORT_405_ENDPOINT, IMPORT_OTHER_METHODS
from lunard.state import StateStore

BUNDLED = resources.files("lunard.http")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
LUA_MODULES = {
    "log": ["info", "debug", "warn", "error"],
    "kv": [
        "get",
        "set",
        "delete",
        "listKeys",
        "all",
        "getGlobal",
        "setGlobal",
        "deleteGlobal",
        "listGlobalKeys",
        "allGlobal",
    ],
    "env": ["get", "set", "delete"],
    "http": ["get", "post", "put", "delete"],
    "json": ["encode", "decode"],
    "base64": ["encode", "decode"],
    "crypto": [
        "md5",
        "sha1",
        "sha256",
        "sha512",
        "hmac_sha1",
        "hmac_sha256",
        "hmac_sha512",
        "uuid",
    ],
    "time": ["now", "format", "parse", "sleep"],
    "url": ["parse", "encode", "decode"],
    "strings": [
        "trim",
        "trimLeft",
        "trimRight",
        "split",
        "join",
        "hasPrefix",
        "hasSuffix",
        "replace",
        "toLower",
        "toUpper",
        "contains",
        "repeat",
    ],
    "random": ["int", "float", "string", "bytes", "hex", "id"],
    "router": ["match", "params", "path", "url"],
    "ai": ["chat"],
    "email": ["send"],
}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(BUNDLED.joinpath("openapi.yaml").read_bytes())
    return document


@pytest.fixture
def app_rules(tmp_path: Path) -> Iterator[list[tuple[str, set[str], str]]]:
    """(path template, methods, endpoint) of every route the app serves."""
    state = StateStore.open(tmp_path)
    app = create_app(
        AppDeps(
            config=Config(data_dir=tmp_path),
            state=state,
            api_key="k",
            readiness=Readiness(),
            device_auth=DeviceAuthStore(),
        )
    )
    rules = [(r.rule, set(r.methods or ()), r.endpoint) for r in app.url_map.iter_rules()]
    rules += [(rule, set(methods), "runtime") for rule, methods in runtime.ROUTES]
    state.close()
    yield rules


def _template(path: str) -> str:
    """A path with every parameter replaced by `{}` (werkzeug `<x>` or OpenAPI `{x}`)."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def test_s1_docs_page_is_public_html(anon: httpx.Client) -> None:
    response = anon.get("/docs")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert "/docs/openapi.yaml" in response.text
    assert response.text.lstrip().startswith("<!DOCTYPE html>")


def test_s2_openapi_yaml_is_the_bundled_file(anon: httpx.Client) -> None:
    response = anon.get("/docs/openapi.yaml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/yaml"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.content == BUNDLED.joinpath("openapi.yaml").read_bytes()


@pytest.mark.parametrize("path", ["/docs", "/docs/openapi.yaml"])
def test_head_has_headers_and_no_body(anon: httpx.Client, path: str) -> None:
    get = anon.get(path)
    head = anon.head(path)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers["Cache-Control"] == "no-store"
    assert head.headers["Content-Length"] == str(len(get.content))


def test_llms_txt_is_public_plain_text(anon: httpx.Client) -> None:
    response = anon.get("/llms.txt")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.content == BUNDLED.joinpath("llms.txt").read_bytes()


def test_llms_txt_covers_the_contract_and_every_module() -> None:
    guide = BUNDLED.joinpath("llms.txt").read_text()
    for phrase in (
        "function handler(ctx, event)",
        "statusCode",
        "isBase64Encoded",
        "event.relativePath",
        "ctx.executionId",
        "Sandbox",
        "EXECUTION_TIMEOUT",
    ):
        assert phrase in guide, phrase
    for module, functions in LUA_MODULES.items():
        assert f"### {module}" in guide, module
        for name in functions:
            assert f"{module}.{name}" in guide, f"{module}.{name}"


def test_openapi_is_3_1_with_unique_operation_ids(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"] == "3.1.0"
    templates = [_template(path) for path in openapi["paths"]]
    assert len(templates) == len(set(templates)), "paths that differ only in parameter names"
    ids = [
        op["operationId"]
        for item in openapi["paths"].values()
        for method, op in item.items()
        if method in HTTP_METHODS and "operationId" in op
    ]
    assert len(ids) == len(set(ids))


def test_openapi_refs_resolve(openapi: dict[str, Any]) -> None:
    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = list(refs(openapi))
    assert found
    for ref in found:
        assert ref.startswith("#/"), ref
        node: Any = openapi
        for part in ref[2:].split("/"):
            assert part in node, ref
            node = node[part]


def test_every_served_route_is_documented(
    openapi: dict[str, Any], app_rules: list[tuple[str, set[str], str]]
) -> None:
    documented: dict[str, set[str]] = {}
    for path, item in openapi["paths"].items():
        documented.setdefault(_template(path), set()).update(
            m.upper() for m in item if m in HTTP_METHODS
        )
    missing = []
    for rule, methods, endpoint in app_rules:
        if endpoint == "static":  # Quart's built-in route; lunard has no static folder
            continue
        if endpoint == IMPORT_405_ENDPOINT:  # answers only 405: not an operation
            continue
        # OPTIONS is answered by the middleware; HEAD is implied by GET unless documented.
        wanted = methods - {"OPTIONS", "HEAD"}
        have = documented.get(_template(rule), set())
        missing += [f"{m} {rule}" for m in sorted(wanted - have)]
    assert not missing, f"routes missing from openapi.yaml: {missing}"


def test_every_documented_route_is_served(
    openapi: dict[str, Any], app_rules: list[tuple[str, set[str], str]]
) -> None:
    served: dict[str, set[str]] = {}
    for rule, methods, _ in app_rules:
        served.setdefault(_template(rule), set()).update(methods)
    extra = []
    for path, item in openapi["paths"].items():
        have = served.get(_template(path), set())
        methods = {m.upper() for m in item if m in HTTP_METHODS}
        extra += [f"{m} {path}" for m in sorted(methods - have)]
    assert not extra, f"openapi.yaml documents routes the app does not serve: {extra}"


def test_public_operations_are_marked_public(openapi: dict[str, Any]) -> None:
    public = {
        ("post", "/api/auth/login"),
        ("post", "/api/auth/logout"),
        ("post", "/api/auth/device-request"),
        ("get", "/api/auth/device-token"),
    }
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            is_public = op.get("security") == []
            # /metrics is outside /api/ but needs credentials: its labels name every function.
            outside_api = not path.startswith("/api/") and path != "/metrics"
            expected = (method, path) in public or outside_api
            assert is_public == expected, f"{method} {path}"
            if not is_public:
                assert "401" in op["responses"], f"{method} {path}"


def test_openapi_fixes_upstream_shapes(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert schemas["UpdateKvRequest"]["properties"]["kvEntries"]["type"] == "array"
    assert set(schemas["NextRun"]["required"]) == {"has_schedule"}
    revoke = openapi["paths"]["/api/tokens/{token_id}/revoke"]["post"]["responses"]["200"]
    assert revoke["content"]["application/json"]["schema"]["$ref"].endswith("/Success")
    approve = openapi["paths"]["/api/auth/device-approve"]["post"]["responses"]["200"]
    assert approve["content"]["application/json"]["schema"]["$ref"].endswith("/Success")
    assert schemas["UserCode"]["pattern"] == "^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$"
    assert "410" in openapi["paths"]["/api/auth/device-token"]["get"]["responses"]


def test_import_405s_are_not_operations(
    openapi: dict[str, Any], app_rules: list[tuple[str, set[str], str]]
) -> None:
    """`/api/functions/import` is one resource that allows only POST (RFC 9110 §15.5.6): the
    route that answers its other methods with 405 (instead of letting them reach
    `/api/functions/{function_id}`) documents no operation, and the document says so."""
    item = openapi["paths"]["/api/functions/import"]
    assert {m for m in item if m in HTTP_METHODS} == {"post"}
    assert "405" in item["description"] and "Allow: POST, OPTIONS" in item["description"]
    (only_405,) = [(rule, methods) for rule, methods, e in app_rules if e == IMPORT_405_ENDPOINT]
    assert only_405[0] == "/api/functions/import"
    assert set(IMPORT_OTHER_METHODS) <= only_405[1] and "POST" not in only_405[1]


@pytest.fixture
def readiness_app(tmp_path: Path) -> Iterator[tuple[QuartTrio, Readiness]]:
    state = StateStore.open(tmp_path)
    readiness = Readiness(expected={"pool", "http"}, started={"pool", "http"})
    deps = AppDeps(
        config=Config(data_dir=tmp_path),
        state=state,
        api_key="k",
        readiness=readiness,
        device_auth=DeviceAuthStore(),
    )
    yield create_app(deps), readiness
    state.close()


def _readyz_schema(openapi: dict[str, Any], status: str) -> Any:
    response = openapi["paths"]["/readyz"]["get"]["responses"][status]
    return jsonschema_rs.validator_for(response["content"]["application/json"]["schema"])


async def test_readyz_answers_match_the_document(
    openapi: dict[str, Any], readiness_app: tuple[QuartTrio, Readiness]
) -> None:
    """Each of /readyz's four answers, from the real route, against the document's schemas;
    and the 503 schema tells the bodies apart (a body of one state with another's status or
    fields does not pass)."""
    app, readiness = readiness_app
    client = app.test_client()
    ok, not_ready = _readyz_schema(openapi, "200"), _readyz_schema(openapi, "503")
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ok.is_valid(await ready.get_json())

    readiness.started.discard("http")  # still starting, a problem and a drain: drain wins
    readiness.problem("pool", "worker 0 failed to start 3 times: exited with 1")
    readiness.draining = True
    draining = await client.get("/readyz")
    readiness.draining = False
    unavailable = await client.get("/readyz")
    readiness.resolved("pool")
    starting = await client.get("/readyz")
    expected = [
        (draining, {"status": "draining"}),
        (
            unavailable,
            {
                "status": "unavailable",
                "problems": {"pool": "worker 0 failed to start 3 times: exited with 1"},
            },
        ),
        (starting, {"status": "starting", "waiting_for": ["http"]}),
    ]
    for response, body in expected:
        assert response.status_code == 503
        assert await response.get_json() == body
        assert not_ready.is_valid(body), body
    for wrong in (
        {"status": "ready"},
        {"status": "unavailable"},
        {"status": "starting", "problems": {"pool": "x"}},
        {"status": "draining", "waiting_for": []},
    ):
        assert not not_ready.is_valid(wrong), wrong
