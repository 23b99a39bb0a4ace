"""`lunar invoke`: method, sub-path, query, headers and bodies reach the function's `event`;
the function's response is printed as received; platform errors and failed runs exit 1."""

from __future__ import annotations

import json
from pathlib import Path

from tests.client.helpers import Lunar

ECHO = """function handler(ctx, event)
  return {
    statusCode = 201,
    headers = { ["Content-Type"] = "application/json", ["X-Echo"] = "yes" },
    body = json.encode({
      method = event.method, path = event.relativePath, query = event.query,
      header = event.headers["X-Custom"], auth = event.headers["Authorization"] or "none",
      body = event.body, ctype = event.headers["Content-Type"] or "none",
    }),
  }
end
"""
FAILING = 'function handler(ctx, event) error("boom from lua") end'


def test_invoke_sends_method_path_query_headers_and_body(cli: Lunar) -> None:
    fid = cli.create(code=ECHO)["id"]
    result = cli("invoke", fid, "-X", "PUT", "--path", "/users/42", "-q", "a=1", "-q", "b=two",
                 "-H", "X-Custom: hello", "--body", "plain text")  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads(result.out) == {
        "method": "PUT",
        "path": "/users/42",
        "query": {"a": "1", "b": "two"},
        "header": "hello",
        "auth": "none",  # the CLI's token never reaches the function
        "body": "plain text",
        "ctype": "none",
    }


def test_invoke_body_from_file_and_stdin_defaults_to_post(cli: Lunar, tmp_path: Path) -> None:
    fid = cli.create(code=ECHO)["id"]
    payload = tmp_path / "payload.json"
    payload.write_text('{"from":"file"}')
    from_file = json.loads(cli("invoke", fid, "--body", f"@{payload}").out)
    assert (from_file["method"], from_file["body"]) == ("POST", '{"from":"file"}')
    assert from_file["ctype"] == "application/json"
    from_stdin = json.loads(cli("invoke", fid, "--body", "-", input="piped").out)
    assert (from_stdin["method"], from_stdin["body"]) == ("POST", "piped")


def test_invoke_include_prints_status_and_headers(lunar: Lunar, cli: Lunar) -> None:
    fid = cli.create(code=ECHO)["id"]
    result = lunar("invoke", fid, "-i")
    assert result.code == 0, result.err
    head, _, body = result.out.partition("\n\n")  # text mode reads CRLF as \n
    assert head.startswith("HTTP/1.1 201 Created")
    assert "x-echo: yes" in head.lower() and f"x-function-id: {fid}" in head.lower()
    assert json.loads(body)["method"] == "GET"


def test_invoke_json_output_wraps_status_headers_and_body(cli: Lunar) -> None:
    fid = cli.create(code=ECHO)["id"]
    data = cli.json("invoke", fid)
    assert data["status_code"] == 201
    assert data["headers"]["x-echo"] == "yes"
    assert json.loads(data["body"])["path"] == "/"


def test_invoke_unknown_function_is_an_error(lunar: Lunar) -> None:
    result = lunar("invoke", "no-such-function")
    assert result.code == 1
    assert result.err.strip() == "Error: 404: Function not found"
    assert result.out == ""


def test_invoke_failed_execution_exits_1_with_the_lua_error(lunar: Lunar, cli: Lunar) -> None:
    fid = cli.create(code=FAILING)["id"]
    result = lunar("invoke", fid)
    assert result.code == 1
    assert json.loads(result.out) == {"error": "Function execution failed"}
    assert "boom from lua" in result.err and "lunar executions get" in result.err
    assert "Traceback" not in result.err


def test_invoke_unreadable_body_file_is_a_usage_error(cli: Lunar, tmp_path: Path) -> None:
    result = cli("invoke", "whatever", "--body", f"@{tmp_path / 'missing.txt'}")
    assert result.code == 2
    assert "cannot read" in result.err
