"""The HTTP API of a lunard/Lunar server, one method per endpoint (http-api §5).

Every method returns the decoded JSON body (None for the status-only answers), or raises
one of `lunard.client.errors`: `ConnectionFailed` when the server cannot be reached,
`ApiError` for an error status (with the server's `{"error"}` text), `BadResponse` when the
body is not the API's JSON. The token is sent as `Authorization: Bearer` to `/api/...`
only, never to a function (`invoke`), whose code could read it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from lunard.client.errors import ApiError, BadResponse, ConnectionFailed

API_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# A function may run for minutes (EXECUTION_TIMEOUT, default 300 s); wait for it.
INVOKE_TIMEOUT = httpx.Timeout(None, connect=10.0)
PAGE_SIZE = 100  # the server's maximum page size
_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")

JSON = Any


def _segment(value: str) -> str:
    """A path parameter, percent-encoded so an id can never change the route."""
    return quote(value, safe="")


def network_reason(exc: httpx.HTTPError) -> str:
    """A short, lower-case cause for a transport error: `connection refused`, `timed out`."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc) or type(exc).__name__
    text = _ERRNO.sub("", text.splitlines()[-1] if text.strip() else text)
    return text[:1].lower() + text[1:]


def error_text(response: httpx.Response) -> str:
    """The server's `{"error"}` message, else the first line of a text body, else the reason."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    text = response.text.strip().splitlines()
    if text and len(text[0]) <= 200 and "<" not in text[0]:
        return text[0]
    return response.reason_phrase or "error"


class Api:
    """One server, one optional token, one pooled httpx client (close it, or use `with`)."""

    def __init__(self, server: str, token: str | None, *, transport: Any = None) -> None:
        self.server = server
        self.token = token
        # A plain-HTTP server needs no TLS: skip loading the CA bundle (~0.1 s a command).
        # Redirects are not followed, so no request can move to https on this client.
        verify = server.lower().startswith("https://")
        self._http = httpx.Client(
            base_url=server, timeout=API_TIMEOUT, transport=transport, verify=verify
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    # ----------------------------------------------------------------------- plumbing

    def send(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        timeout: httpx.Timeout | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request; only transport errors are mapped here (to `ConnectionFailed`)."""
        headers = httpx.Headers(kwargs.pop("headers", None))
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            return self._http.request(
                method, path, headers=headers, timeout=timeout or API_TIMEOUT, **kwargs
            )
        except httpx.InvalidURL as exc:
            raise ConnectionFailed(self.server, f"invalid URL ({exc})") from None
        except httpx.HTTPError as exc:
            raise ConnectionFailed(self.server, network_reason(exc)) from None

    def call(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> JSON:
        """A request whose answer is JSON (or empty): the body, or an exception."""
        response = self.send(method, path, auth=auth, **kwargs)
        if response.status_code >= 400:
            raise ApiError(response.status_code, error_text(response), had_token=bool(self.token))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise BadResponse(
                f"{self.server}{path} answered {response.status_code} without JSON "
                "(is --server the URL of a lunard server?)"
            ) from None

    def pages(self, path: str, key: str, *, limit: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, page after page, in the server's order."""
        offset = 0
        while True:
            body = self.call("GET", path, params={"limit": limit, "offset": offset})
            items = body.get(key) or []
            yield from items
            offset += len(items)
            if not items or offset >= body["pagination"]["total"]:
                return

    # ----------------------------------------------------------------------- auth

    def device_request(self) -> JSON:
        """Start a device login: `device_code`, `user_code`, `approval_url`, ..."""
        return self.call("POST", "/api/auth/device-request", auth=False)

    def device_token(self, device_code: str) -> JSON:
        """Poll a device login: `{"status": ...}` (and `token` once approved)."""
        return self.call("GET", "/api/auth/device-token", auth=False, params={"code": device_code})

    def list_tokens(self) -> JSON:
        """`{"tokens": [...]}`, newest first, revoked ones included."""
        return self.call("GET", "/api/tokens")

    def revoke_token(self, token_id: str) -> JSON:
        """Revoke an API token (idempotent)."""
        return self.call("POST", f"/api/tokens/{_segment(token_id)}/revoke")

    # ----------------------------------------------------------------------- functions

    def list_functions(self, limit: int, offset: int) -> JSON:
        """`{"functions": [...], "pagination": {...}}`, newest first."""
        return self.call("GET", "/api/functions", params={"limit": limit, "offset": offset})

    def all_functions(self) -> Iterator[dict[str, Any]]:
        """Every function, newest first."""
        return self.pages("/api/functions", "functions")

    def create_function(self, body: Mapping[str, Any]) -> JSON:
        """Create a function (version 1 active); the function."""
        return self.call("POST", "/api/functions", json=dict(body))

    def get_function(self, function_id: str) -> JSON:
        """One function with env vars and KV data."""
        return self.call("GET", f"/api/functions/{_segment(function_id)}")

    def update_function(self, function_id: str, body: Mapping[str, Any]) -> JSON:
        """Partial update (`code` adds a version); no body."""
        return self.call("PUT", f"/api/functions/{_segment(function_id)}", json=dict(body))

    def delete_function(self, function_id: str) -> JSON:
        """Delete a function with its versions and executions; no body."""
        return self.call("DELETE", f"/api/functions/{_segment(function_id)}")

    def export_function(self, function_id: str, *, include_env: bool = False) -> JSON:
        """The function as a portable document (env vars only with `include_env`)."""
        params = {"include_env": "true"} if include_env else {}
        return self.call("GET", f"/api/functions/{_segment(function_id)}/export", params=params)

    def import_function(self, document: Mapping[str, Any]) -> JSON:
        """Create a function from an export document; the new function."""
        return self.call("POST", "/api/functions/import", json=dict(document))

    def replace_env(self, function_id: str, env: Mapping[str, str]) -> JSON:
        """Replace the env vars; the active version."""
        return self.call(
            "PUT", f"/api/functions/{_segment(function_id)}/env", json={"env_vars": dict(env)}
        )

    def replace_kv(
        self, function_id: str, entries: Sequence[tuple[str, str]], *, global_scope: bool
    ) -> JSON:
        """Replace the function's (or the global) KV entries; the active version."""
        body = {
            "global": global_scope,
            "kvEntries": [{"key": key, "value": value} for key, value in entries],
        }
        return self.call("POST", f"/api/functions/{_segment(function_id)}/kv", json=body)

    def next_run(self, function_id: str) -> JSON:
        """The schedule and its next fire time."""
        return self.call("GET", f"/api/functions/{_segment(function_id)}/next-run")

    # ----------------------------------------------------------------------- versions

    def list_versions(self, function_id: str, limit: int, offset: int) -> JSON:
        """`{"versions": [...], "pagination": {...}}`, highest number first."""
        return self.call(
            "GET",
            f"/api/functions/{_segment(function_id)}/versions",
            params={"limit": limit, "offset": offset},
        )

    def get_version(self, function_id: str, number: str) -> JSON:
        """One version by its number."""
        return self.call(
            "GET", f"/api/functions/{_segment(function_id)}/versions/{_segment(number)}"
        )

    def activate_version(self, function_id: str, version_id: str) -> JSON:
        """Make a version (by id) the active one; no body."""
        path = f"/api/functions/{_segment(function_id)}/versions/{_segment(version_id)}/activate"
        return self.call("POST", path)

    def delete_version(self, function_id: str, version_id: str) -> JSON:
        """Delete an inactive version (by id); no body."""
        path = f"/api/functions/{_segment(function_id)}/versions/{_segment(version_id)}"
        return self.call("DELETE", path)

    def diff(self, function_id: str, v1: str, v2: str) -> JSON:
        """Line diff from version v1 to v2 (numbers)."""
        path = f"/api/functions/{_segment(function_id)}/diff/{_segment(v1)}/{_segment(v2)}"
        return self.call("GET", path)

    # ----------------------------------------------------------------------- executions

    def list_executions(self, function_id: str, limit: int, offset: int) -> JSON:
        """`{"executions": [...], "pagination": {...}}`, newest first."""
        return self.call(
            "GET",
            f"/api/functions/{_segment(function_id)}/executions",
            params={"limit": limit, "offset": offset},
        )

    def get_execution(self, execution_id: str) -> JSON:
        """One execution."""
        return self.call("GET", f"/api/executions/{_segment(execution_id)}")

    def execution_logs(self, execution_id: str, limit: int, offset: int) -> JSON:
        """The execution's fields plus one page of its `logs`, oldest first."""
        return self.call(
            "GET",
            f"/api/executions/{_segment(execution_id)}/logs",
            params={"limit": limit, "offset": offset},
        )

    def tracked_requests(self, execution_id: str, kind: str, limit: int, offset: int) -> JSON:
        """`ai-requests` or `email-requests` of an execution, oldest first."""
        return self.call(
            "GET",
            f"/api/executions/{_segment(execution_id)}/{kind}",
            params={"limit": limit, "offset": offset},
        )

    # ----------------------------------------------------------------------- analytics

    def analytics_overview(self, window: str) -> JSON:
        """Every function's figures and the totals over a window."""
        return self.call("GET", "/api/analytics/overview", params={"window": window})

    def function_analytics(self, function_id: str, window: str) -> JSON:
        """One function's report over a window."""
        return self.call(
            "GET", f"/api/functions/{_segment(function_id)}/analytics", params={"window": window}
        )

    def analytics_query(self, sql: str, limit: int | None, timeout: float | None) -> JSON:
        """One read-only SELECT over the execution records."""
        body: dict[str, Any] = {"sql": sql}
        if limit is not None:
            body["limit"] = limit
        if timeout is not None:
            body["timeout"] = timeout
        return self.call("POST", "/api/analytics/query", json=body)

    # ----------------------------------------------------------------------- public

    def invoke(
        self,
        function_id: str,
        *,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
    ) -> httpx.Response:
        """Call `/fn/<id><path>` without credentials; the raw response, any status."""
        url = f"/fn/{_segment(function_id)}" + ("" if path in ("", "/") else "/" + path.lstrip("/"))
        return self.send(
            method,
            url,
            auth=False,
            timeout=INVOKE_TIMEOUT,
            params=list(query),
            headers=list(headers),
            content=body,
        )

    def llms_txt(self) -> str:
        """The server's `/llms.txt` (the Lua authoring guide)."""
        response = self.send("GET", "/llms.txt", auth=False)
        if response.status_code >= 400:
            raise ApiError(response.status_code, error_text(response), had_token=True)
        return response.text
