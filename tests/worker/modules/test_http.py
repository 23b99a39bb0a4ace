"""http module against real loopback servers (lua-runtime §6.4, statements 33-38, DECISIONS 4)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import pytest

from lunard.messages import JobLimits
from tests.fakes import FakeServer, Recorded, Reply, closed_port_url
from tests.worker.modules.conftest import DEFAULT_LIMITS, Execution, World

CAP = 1000
SMALL_CAP = JobLimits(
    max_memory_bytes=DEFAULT_LIMITS.max_memory_bytes,
    max_log_entries=DEFAULT_LIMITS.max_log_entries,
    max_log_bytes=DEFAULT_LIMITS.max_log_bytes,
    http_max_response_bytes=CAP,
)


def _echo(request: Recorded) -> Reply:
    return Reply(200, {"method": request.method, "query": request.query})


def _redirect(request: Recorded) -> Reply:
    left = int(request.path.rsplit("/", 1)[1])
    if left == 0:
        return Reply(200, "arrived")
    return Reply(302, headers={"Location": f"/redirect/{left - 1}"})


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer(
        {
            "/status": Reply(200, '{"status": "ok"}', {"Content-Type": "application/json"}),
            "/missing": Reply(404, "not here"),
            "/boom": Reply(500, "broken"),
            "/echo": _echo,
            "/slow": Reply(200, "late", delay=60),
            "/stall": Reply(200, "late body", stall=60),
            "/cookie": Reply(200, "set", {"Set-Cookie": "session=abc; Path=/"}),
        }
    )
    for hops in range(12):
        fake.route(f"/redirect/{hops}", _redirect)
    yield fake
    fake.close()


def test_s33_get_returns_status_body_and_headers(lua: Execution, server: FakeServer) -> None:
    result = lua.run(
        f'local resp, err = http.get("{server.url}/status")\n'
        'return err, resp.statusCode, resp.body, resp.headers["Content-Type"]'
    )
    assert result == (None, 200, '{"status": "ok"}', "application/json")
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/status")]


def test_s34_error_statuses_are_responses(lua: Execution, server: FakeServer) -> None:
    code = 'local r, e = http.get("{}") return e, r.statusCode, r.body'
    assert lua.run(code.format(server.url + "/missing")) == (None, 404, "not here")
    assert lua.run(code.format(server.url + "/boom")) == (None, 500, "broken")


def test_s35_connection_refused_is_nil_err(lua: Execution) -> None:
    resp, err = lua.run(f'return http.get("{closed_port_url()}/x")')
    assert resp is None
    assert err.startswith("HTTP request failed: ")
    assert "/x" in err


def test_s36_query_and_headers_are_sent(lua: Execution, server: FakeServer) -> None:
    status = lua.run(
        f'local r = http.get("{server.url}/echo", {{query = {{page = "1", limit = "10"}},'
        ' headers = {Authorization = "Bearer x", ["x-custom-thing"] = 42}}) return r.statusCode'
    )
    assert status == 200
    request = server.requests[-1]
    assert request.query == "limit=10&page=1"
    assert request.headers["authorization"] == "Bearer x"
    # Names are canonicalised like Go's Header.Set; numbers go as their string form.
    assert ("X-Custom-Thing", "42") in request.raw_headers


def test_query_option_is_added_to_the_url_query_and_sorted(
    lua: Execution, server: FakeServer
) -> None:
    lua.run(
        f'http.get("{server.url}/echo?z=last&b=x%20y&b=2#frag", {{query = {{b = "3", a = 1}}}})'
    )
    assert server.requests[-1].query == "a=1&b=x+y&b=2&b=3&z=last"
    lua.run(f'http.get("{server.url}/echo?keep=as%20is")')
    assert server.requests[-1].query == "keep=as%20is"


def test_s37_post_sends_body_get_ignores_it(lua: Execution, server: FakeServer) -> None:
    lua.run(f"""http.post("{server.url}/echo", {{body = '{{"name":"test"}}'}})""")
    lua.run(f'http.get("{server.url}/echo", {{body = "ignored"}})')
    lua.run(f'http.put("{server.url}/echo", {{body = 12.5}})')
    lua.run(f'http.delete("{server.url}/echo", {{body = "ignored"}})')
    sent = [(r.method, r.body) for r in server.requests]
    assert sent == [
        ("POST", b'{"name":"test"}'),
        ("GET", b""),
        ("PUT", b"12.5"),
        ("DELETE", b""),
    ]
    # No automatic Content-Type for bodies.
    assert "content-type" not in server.requests[0].headers


def test_s38_second_argument_must_be_a_table(lua: Execution, server: FakeServer) -> None:
    message = lua.error_of(f'http.post("{server.url}/echo", "raw body")')
    assert "bad argument #2 to 'post' (table expected, got string)" in message
    assert "bad argument #1 to 'get'" in lua.error_of("http.get(nil)")
    assert server.requests == []


def test_methods_return_the_response_table(lua: Execution, server: FakeServer) -> None:
    for method in ("get", "post", "put", "delete"):
        body = lua.run(f'return http.{method}("{server.url}/echo").body')
        assert json.loads(body)["method"] == method.upper()


def test_unparsable_url_is_nil_err(lua: Execution) -> None:
    resp, err = lua.run('return http.get("http://[::1/x")')
    assert resp is None
    assert err == """failed to parse URL: parse "http://[::1/x": missing ']' in host"""


def test_unsupported_scheme_is_a_transport_error(lua: Execution) -> None:
    for url in ("ftp://127.0.0.1/file", "not a url"):
        resp, err = lua.run(f'return http.get("{url}")')
        assert resp is None
        assert err.startswith("HTTP request failed: ")


def test_timeout_never_outlives_the_deadline(world: World, server: FakeServer) -> None:
    execution = world.execution(timeout=0.5)
    resp, err = execution.run(f'return http.get("{server.url}/slow")')
    assert resp is None
    assert err.startswith("HTTP request failed: ")
    assert "execution deadline exceeded" in err


def test_body_stalling_past_the_deadline_is_nil_err(world: World, server: FakeServer) -> None:
    execution = world.execution(timeout=0.5)
    resp, err = execution.run(f'return http.get("{server.url}/stall")')
    assert resp is None
    assert err.startswith("failed to read response body: ")
    assert "execution deadline exceeded" in err


def test_no_time_left_fails_without_a_request(world: World, server: FakeServer) -> None:
    execution = world.execution(timeout=0)
    resp, err = execution.run(f'return http.get("{server.url}/status")')
    assert resp is None
    assert err == f'HTTP request failed: Get "{server.url}/status": execution deadline exceeded'
    assert server.requests == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_past_the_cap_is_refused(world: World, server: FakeServer, chunked: bool) -> None:
    server.route("/big", Reply(200, b"x" * (CAP + 1), chunked=chunked))
    server.route("/fits", Reply(200, b"y" * CAP, chunked=chunked))
    execution = world.execution(limits=SMALL_CAP)
    resp, err = execution.run(f'return http.get("{server.url}/big")')
    assert resp is None
    assert err == (
        "failed to read response body: response body exceeds the limit of 1000 bytes"
        " (http_max_response_bytes)"
    )
    assert execution.run(f'return #http.get("{server.url}/fits").body') == CAP


def test_decompressed_size_counts_against_the_cap(world: World, server: FakeServer) -> None:
    server.route("/bomb", Reply(200, b"0" * (CAP * 50), gzip=True))
    execution = world.execution(limits=SMALL_CAP)
    resp, err = execution.run(f'return http.get("{server.url}/bomb")')
    assert resp is None
    assert "exceeds the limit of 1000 bytes" in err


def test_gzip_is_decoded_transparently(lua: Execution, server: FakeServer) -> None:
    server.route("/gz", Reply(200, "hello gzip", {"Content-Type": "text/plain"}, gzip=True))
    result = lua.run(
        f'local r = http.get("{server.url}/gz")\n'
        'return r.body, r.headers["Content-Encoding"], r.headers["Content-Length"]'
    )
    assert result == ("hello gzip", None, None)
    assert server.requests[-1].headers["accept-encoding"] == "gzip"


def test_caller_accept_encoding_gets_the_raw_body(lua: Execution, server: FakeServer) -> None:
    server.route("/gz", Reply(200, "hello gzip", gzip=True))
    result = lua.run(
        f'local r = http.get("{server.url}/gz", {{headers = {{["Accept-Encoding"] = "gzip"}}}})\n'
        'return r.body, r.headers["Content-Encoding"]'
    )
    body, encoding = result
    assert encoding == "gzip"
    assert gzip.decompress(body.encode("utf-8", "surrogateescape")) == b"hello gzip"


def test_redirects_followed_up_to_ten(lua: Execution, server: FakeServer) -> None:
    assert lua.run(f'local r, e = http.get("{server.url}/redirect/10") return r.body, e') == (
        "arrived",
        None,
    )
    resp, err = lua.run(f'return http.get("{server.url}/redirect/11")')
    assert resp is None
    assert err == (
        f'HTTP request failed: Get "{server.url}/redirect/0": stopped after 10 redirects'
    )


def test_post_redirected_by_302_becomes_get(lua: Execution, server: FakeServer) -> None:
    server.route("/moved", Reply(302, headers={"Location": "/echo"}))
    body = lua.run(f'return http.post("{server.url}/moved", {{body = "data"}}).body')
    assert json.loads(body)["method"] == "GET"


def test_cookies_are_never_kept(world: World, server: FakeServer) -> None:
    world.execution().run(f'http.get("{server.url}/cookie")')
    world.execution().run(f'http.get("{server.url}/echo")')
    assert "cookie" not in server.requests[-1].headers


def test_response_headers_keep_the_first_value_canonical_name(
    lua: Execution, server: FakeServer
) -> None:
    server.route("/multi", Reply(200, "", [("x-multi", "a"), ("X-Multi", "b")]))
    assert lua.run(f'return http.get("{server.url}/multi").headers["X-Multi"]') == "a"


def test_binary_bodies_survive(lua: Execution, server: FakeServer) -> None:
    server.route("/bin", Reply(200, b"\xff\x00\x01"))
    result = lua.run(
        f'local b = http.get("{server.url}/bin").body return #b, b:byte(1), b:byte(2), b:byte(3)'
    )
    assert result == (3, 255, 0, 1)


def test_invalid_header_value_is_nil_err(lua: Execution, server: FakeServer) -> None:
    resp, err = lua.run(
        f'return http.get("{server.url}/echo", {{headers = {{["X-Bad"] = "a\\r\\nInjected: 1"}}}})'
    )
    assert resp is None
    assert err.startswith(("HTTP request failed: ", "failed to create request: "))
    assert all("injected" not in r.headers for r in server.requests)
