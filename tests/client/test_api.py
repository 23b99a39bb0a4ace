"""`lunard.client.api.Api`: how answers become values or one-line errors (mocked transport)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from lunard.client.api import Api
from lunard.client.errors import ApiError, BadResponse, ConnectionFailed

Handler = Callable[[httpx.Request], httpx.Response]


def api(handler: Handler, token: str | None = "t") -> Api:
    return Api("http://srv", token, transport=httpx.MockTransport(handler))


def test_token_goes_to_the_api_but_never_to_a_function() -> None:
    seen: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.path] = request.headers.get("Authorization")
        return httpx.Response(200, json={"tokens": []})

    client = api(handler, token="secret")
    client.list_tokens()
    client.invoke("f", method="GET", path="/x", query=[], headers=[], body=None)
    assert seen == {"/api/tokens": "Bearer secret", "/fn/f/x": None}


def test_ids_are_one_path_segment() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(200, json={})

    api(handler).get_function("../tokens")
    assert paths == ["/api/functions/..%2Ftokens"]


@pytest.mark.parametrize(
    ("response", "token", "message"),
    [
        (httpx.Response(404, json={"error": "Function not found"}), "t", "404: Function not found"),
        (httpx.Response(401, json={"error": "x"}), None, "401: not logged in — run 'lunar login'"),
        (
            httpx.Response(401, json={"error": "Authentication required"}),
            "t",
            "401: Authentication required (the token was rejected) — run 'lunar login'",
        ),
        (httpx.Response(404, text="404 page not found\n"), "t", "404: 404 page not found"),
        (httpx.Response(502, text="<html>bad gateway</html>"), "t", "502: Bad Gateway"),
    ],
)
def test_error_statuses(response: httpx.Response, token: str | None, message: str) -> None:
    with pytest.raises(ApiError) as info:
        api(lambda request: response, token=token).list_functions(20, 0)
    assert info.value.message == message


def test_a_page_that_is_not_json_is_a_bad_response() -> None:
    with pytest.raises(BadResponse, match="without JSON"):
        api(lambda request: httpx.Response(200, text="<html>")).list_functions(20, 0)


def test_empty_success_is_none() -> None:
    assert api(lambda request: httpx.Response(204)).delete_function("f") is None


def test_transport_errors_are_connection_failures() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    with pytest.raises(ConnectionFailed) as refused:
        api(refuse).list_tokens()
    assert refused.value.message == "cannot reach http://srv: connection refused"
    with pytest.raises(ConnectionFailed) as timed_out:
        api(slow).list_tokens()
    assert timed_out.value.message == "cannot reach http://srv: timed out"


def test_pages_walks_every_page() -> None:
    items = [{"id": str(n)} for n in range(230)]

    def handler(request: httpx.Request) -> httpx.Response:
        limit, offset = int(request.url.params["limit"]), int(request.url.params["offset"])
        page = {"functions": items[offset : offset + limit], "pagination": {"total": len(items)}}
        return httpx.Response(200, json=page)

    assert [fn["id"] for fn in api(handler).all_functions()] == [str(n) for n in range(230)]
