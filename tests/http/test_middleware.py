"""Middleware conventions of http-api §1 (statements 3, 4 and the auth gate)."""

from __future__ import annotations

import httpx

from tests.http.helpers import create

# A handler that tries to set CORS headers of its own: the edge's win (upstream's order).
CORS_SETTING = """
function handler(ctx, event)
  return {statusCode = 201, body = "ok", headers = {
    ["access-control-allow-origin"] = "https://evil.example", ["X-Own"] = "kept"}}
end
"""


def test_s3_options_is_204_with_cors_before_auth(anon: httpx.Client) -> None:
    response = anon.options("/api/functions")
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.content == b""


def test_cors_headers_on_every_response(anon: httpx.Client) -> None:
    for path in ("/healthz", "/api/functions", "/no/such/path"):
        response = anon.get(path)
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, PUT, DELETE, OPTIONS"
        assert response.headers["Access-Control-Allow-Headers"] == "Content-Type, Authorization"
        assert "X-Execution-Id" in response.headers["Access-Control-Expose-Headers"]


def test_fn_answers_carry_the_edge_cors_headers(api: httpx.Client, anon: httpx.Client) -> None:
    # /fn is served before the edge layers (lunard.http.runtime), so it adds them itself.
    function_id = create(api, CORS_SETTING)["id"]
    for path, status in ((f"/fn/{function_id}", 201), ("/fn/no-such-function", 404)):
        response = anon.get(path)
        assert response.status_code == status
        assert response.headers.get_list("Access-Control-Allow-Origin") == ["*"]
        assert response.headers["Access-Control-Allow-Headers"] == "Content-Type, Authorization"
        assert "X-Execution-Id" in response.headers["Access-Control-Expose-Headers"]
    assert anon.get(f"/fn/{function_id}").headers["X-Own"] == "kept"
    preflight = anon.options(f"/fn/{function_id}")
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"


def test_unknown_path_is_plain_404(anon: httpx.Client) -> None:
    response = anon.get("/api/no/such/path")
    assert response.status_code == 404
    assert response.text.startswith("404 page not found")


def test_healthz_and_readyz_are_public(anon: httpx.Client) -> None:
    assert anon.get("/healthz").json() == {"status": "ok"}
    ready = anon.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


def test_one_access_log_line_per_request(daemon, anon: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    anon.get("/healthz?probe=access-log")
    daemon.log_line("lunard.access", "GET /healthz 200")


def test_fn_calls_have_their_access_log_line(daemon, anon: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    anon.get("/fn/no-such-function-for-the-access-log")
    daemon.log_line("lunard.access", "GET /fn/no-such-function-for-the-access-log 404")


def test_oversized_management_body_is_413_json(anon: httpx.Client) -> None:
    response = anon.post("/api/auth/login", content=b"x" * (16 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json() == {"error": "Request body too large"}


def test_pagination_reads_integers_like_go(api: httpx.Client) -> None:
    for query, expected in (
        ("limit=99999999999999999999&offset=99999999999999999999", (20, 0)),
        ("limit=1_0&offset=٣", (20, 0)),
        ("limit=%2B5&offset=%2B2", (5, 2)),
        ("limit=7&offset=9223372036854775807", (7, 9223372036854775807)),
    ):
        response = api.get(f"/api/functions?{query}")
        assert response.status_code == 200, query
        page = response.json()["pagination"]
        assert (page["limit"], page["offset"]) == expected, query


def test_405_names_the_allowed_methods(anon: httpx.Client) -> None:
    # RFC 9110 §15.5.6: a 405 carries Allow (Go's mux sends it too).
    response = anon.request("DELETE", "/healthz")
    assert response.status_code == 405
    assert response.text == "405 method not allowed\n"
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"

    on_fn = anon.request("TRACE", "/fn/doesnotexist00000000")
    assert on_fn.status_code == 405
    assert on_fn.headers["Allow"] == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
