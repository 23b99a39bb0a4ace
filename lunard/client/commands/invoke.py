"""`lunar invoke`: call a function through its public URL and print what it answered.

Options follow curl/httpie: `-X/--method`, `-H 'Name: value'`, `-q key=value`, `-d/--body`
(text, `-` for stdin, `@file`), `-i` for the status line and headers. The body is written
as received (bytes); `--output json` prints `{"status_code", "headers", "body"}` instead.
No credentials are sent: `/fn` is public, and the function's code must not see the token.

Exit code 0 whatever status the function chose; 1 when the platform answered instead of
the function (unknown or disabled function, body too large, overloaded) or when the
execution failed (then the Lua error is shown when the token may read the execution).
"""

from __future__ import annotations

import base64
import json
import sys
from http import HTTPStatus
from typing import Any

import click
import httpx

from lunard.client.api import Api, error_text
from lunard.client.context import AppContext, pass_app
from lunard.client.errors import ApiError, ClientError
from lunard.client.inputs import BYTES_SOURCE, HEADER, KEY_VALUE

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD")
EXECUTION_FAILED = "Function execution failed"


def _looks_like_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def request_headers(
    headers: tuple[tuple[str, str], ...], body: bytes | None
) -> list[tuple[str, str]]:
    """The given headers, plus `Content-Type: application/json` for a JSON body without one."""
    result = list(headers)
    has_type = any(name.lower() == "content-type" for name, _ in result)
    if body and not has_type and _looks_like_json(body):
        result.append(("Content-Type", "application/json"))
    return result


def envelope(response: httpx.Response) -> dict[str, Any]:
    """The response as JSON: status, headers and the body (base64 when it is not UTF-8)."""
    data: dict[str, Any] = {
        "status_code": response.status_code,
        "headers": dict(response.headers.items()),
    }
    try:
        data["body"] = response.content.decode()
    except UnicodeDecodeError:
        data["body_base64"] = base64.b64encode(response.content).decode()
    return data


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def print_raw(response: httpx.Response, include: bool) -> None:
    """curl-like output: optional status line and headers, then the body bytes."""
    out = sys.stdout.buffer
    if include:
        reason = response.reason_phrase or _phrase(response.status_code)
        lines = [f"{response.http_version} {response.status_code} {reason}".rstrip()]
        lines += [f"{name}: {value}" for name, value in response.headers.items()]
        out.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace"))
    out.write(response.content)
    if sys.stdout.isatty() and response.content and not response.content.endswith(b"\n"):
        out.write(b"\n")
    out.flush()


def failure_detail(api: Api, execution_id: str) -> str:
    """The first line of the execution's error, when the token may read it."""
    if not api.token:
        return ""
    try:
        record = api.get_execution(execution_id)
    except ClientError:
        return ""
    message = str((record or {}).get("error_message") or "").strip()
    return f": {message.splitlines()[0]}" if message else ""


def is_failed_execution(response: httpx.Response) -> bool:
    """The platform's 500 for an execution that failed (the function did not answer)."""
    if response.status_code != 500 or "X-Execution-Id" not in response.headers:
        return False
    try:
        return bool(response.json() == {"error": EXECUTION_FAILED})
    except ValueError:
        return False


@click.command("invoke")
@click.argument("function_id")
@click.option(
    "-X",
    "--method",
    type=click.Choice(METHODS, case_sensitive=False),
    help="HTTP method [default: GET, or POST with a body]",
)
@click.option("--path", default="/", show_default=True, help="sub-path after /fn/<id>")
@click.option("-q", "--query", type=KEY_VALUE, multiple=True, help="query parameter, repeatable")
@click.option("-H", "--header", type=HEADER, multiple=True, help="'Name: value', repeatable")
@click.option("-d", "--body", type=BYTES_SOURCE, help="request body: text, '-' (stdin), @FILE")
@click.option("-i", "--include", is_flag=True, help="print the status line and headers")
@pass_app
def invoke(
    app: AppContext,
    function_id: str,
    method: str | None,
    path: str,
    query: tuple[tuple[str, str], ...],
    header: tuple[tuple[str, str], ...],
    body: bytes | None,
    include: bool,
) -> None:
    """Call a function and print its response (no credentials needed)."""
    verb = (method or ("POST" if body is not None else "GET")).upper()
    response = app.api.invoke(
        function_id,
        method=verb,
        path=path,
        query=query,
        headers=request_headers(header, body),
        body=body,
    )
    if response.status_code >= 400 and "X-Function-Id" not in response.headers:
        raise ApiError(response.status_code, error_text(response))
    if app.out.json:
        app.out.print_json(envelope(response))
    else:
        print_raw(response, include)
    if is_failed_execution(response):
        eid = response.headers["X-Execution-Id"]
        detail = failure_detail(app.api, eid)
        raise ClientError(f"execution {eid} failed{detail} (see 'lunar executions get {eid}')")
