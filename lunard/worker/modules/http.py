"""`http` — outbound HTTP client: get, post, put, delete (lua-runtime §6.4, DECISIONS 4).

`http.<method>(url, options?)` → `{statusCode, body, headers}, nil` or `nil, err`.
Options: `headers` (each *sets* a header, name canonicalised), `query` (each value *added*
to the URL's query, which is then re-encoded with sorted keys), `body` (post/put only; ""
is no body). Error statuses are responses, not errors. Errors, by stage:
`failed to parse URL: ...`, `failed to create request: ...`, `HTTP request failed: ...`
(transport, timeout, too many redirects), `failed to read response body: ...` (including
a body past `http_max_response_bytes`). Limits and client: `outbound`.
"""

from __future__ import annotations

from typing import Any

from lunard.golang import canonical_header
from lunard.worker.modules import outbound
from lunard.worker.modules.bridge import (
    Bridge,
    LuaFunction,
    ModuleSpec,
    as_bytes,
    field_string,
    is_table,
    table_items,
)
from lunard.worker.modules.options import field
from lunard.worker.modules.url import URLError, parse_query, parse_url, query_escape


def _string_pairs(table: Any) -> list[tuple[bytes, bytes]]:
    """(key, as-string value) of a Lua table with string or number keys, in walk order."""
    pairs: list[tuple[bytes, bytes]] = []
    for key, value in table_items(table):
        if isinstance(key, bool) or not isinstance(key, (str, bytes, int, float)):
            continue
        pairs.append((field_string(key), field_string(value)))
    return pairs


def _with_query(url: bytes, raw_query: bytes, extra: list[tuple[bytes, bytes]]) -> bytes:
    """The URL with Go's `q := u.Query(); q.Add(...); u.RawQuery = q.Encode()` applied."""
    values: dict[bytes, list[bytes]] = {}
    for key, value in [*parse_query(raw_query), *extra]:
        values.setdefault(key, []).append(value)
    encoded = b"&".join(
        query_escape(key) + b"=" + query_escape(value)
        for key in sorted(values)
        for value in values[key]
    )
    base = url.partition(b"#")[0].partition(b"?")[0]
    return base + b"?" + encoded if encoded else base


def _headers(options: Any) -> tuple[list[tuple[bytes, bytes]], bool]:
    """The request headers (Set semantics: last write of a name wins) and whether the
    caller asked for an encoding itself (then the body is handed over undecoded)."""
    table = field(options, "headers")
    if not is_table(table):
        return [], False
    chosen: dict[bytes, bytes] = {}
    for name, value in _string_pairs(table):
        chosen[canonical_header(name)] = value
    return list(chosen.items()), b"Accept-Encoding" in chosen


def _response_table(bridge: Bridge, response: outbound.Response) -> Any:
    headers: dict[bytes, bytes] = {}
    for name, value in response.headers:
        headers.setdefault(canonical_header(name), value)
    return bridge.table(
        {b"statusCode": response.status, b"body": response.body, b"headers": headers}
    )


def request(bridge: Bridge, method: str, url: str | bytes, options: Any) -> Any:
    """One `http.*` call: the response table, or `bridge.fail(<message>)`."""
    raw_url = as_bytes(url)
    try:
        parsed = parse_url(raw_url)
    except URLError as exc:
        return bridge.fail(f"failed to parse URL: {exc}")
    headers: list[tuple[bytes, bytes]] = []
    decode = True
    body: bytes | None = None
    if options is not None:
        query = field(options, "query")
        if is_table(query):
            raw_url = _with_query(raw_url, parsed.raw_query, _string_pairs(query))
        headers, caller_encoding = _headers(options)
        decode = not caller_encoding
        if method in ("POST", "PUT"):
            body = field_string(field(options, "body")) or None
    target = raw_url.decode("utf-8", "surrogateescape")
    try:
        response = outbound.fetch(
            bridge.host, method, target, headers=headers, body=body, decode=decode
        )
    except outbound.RequestError as exc:
        return bridge.fail(f"failed to create request: {exc}")
    except outbound.TransportError as exc:
        return bridge.fail(f"HTTP request failed: {exc}")
    except outbound.BodyError as exc:
        return bridge.fail(f"failed to read response body: {exc}")
    return _response_table(bridge, response)


def get(bridge: Bridge, url: str | bytes, options: Any = None) -> Any:
    return request(bridge, "GET", url, options)


def post(bridge: Bridge, url: str | bytes, options: Any = None) -> Any:
    return request(bridge, "POST", url, options)


def put(bridge: Bridge, url: str | bytes, options: Any = None) -> Any:
    return request(bridge, "PUT", url, options)


def delete(bridge: Bridge, url: str | bytes, options: Any = None) -> Any:
    return request(bridge, "DELETE", url, options)


MODULE = ModuleSpec(
    name="http",
    functions=(
        LuaFunction("get", get, ("string", "opttable"), returns="pair"),
        LuaFunction("post", post, ("string", "opttable"), returns="pair"),
        LuaFunction("put", put, ("string", "opttable"), returns="pair"),
        LuaFunction("delete", delete, ("string", "opttable"), returns="pair"),
    ),
)
