"""Response and request-body helpers shared by every blueprint (http-api §1)."""

from __future__ import annotations

import json
import re
from typing import Any

from quart import Response, request

from lunard.errors import BadRequest

INVALID_BODY = "Invalid request body"
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with `Content-Type: application/json` exactly (no charset)."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    response = Response(body, status=status, content_type="application/json")
    response.headers["Content-Type"] = "application/json"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def empty_response(status: int = 200) -> Response:
    """A status-only response: no body, no Content-Type (upstream's bare WriteHeader)."""
    response = Response(b"", status=status)
    del response.headers["Content-Type"]
    return response


async def read_json_object() -> dict[str, Any]:
    """The request body as a JSON object; anything else is 400 `Invalid request body`."""
    raw = await request.get_data(cache=False)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(INVALID_BODY) from None
    if not isinstance(data, dict):
        raise BadRequest(INVALID_BODY)
    return data


def optional_field(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """`data[name]` if present and not null, checked against `kind` (bool is not an int).

    A type mismatch is 400 `Invalid request body`, like upstream's lenient decoder.
    """
    value = data.get(name)
    if value is None:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise BadRequest(INVALID_BODY)
    if int in kinds and isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, kinds):
        raise BadRequest(INVALID_BODY)
    return value


_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = 2**63


def _int_arg(name: str, default: int) -> int:
    """An integer query parameter as Go's strconv.Atoi reads it (ASCII digits, fits in
    int64); anything else is `default`."""
    raw = request.args.get(name, "")
    if not _GO_INT.fullmatch(raw):
        return default
    value = int(raw)
    return value if -_INT64 <= value < _INT64 else default


def page_params() -> tuple[int, int]:
    """`(limit, offset)` normalised per http-api §1.3; never an error."""
    limit = _int_arg("limit", DEFAULT_PAGE_SIZE)
    if limit <= 0:
        limit = DEFAULT_PAGE_SIZE
    limit = min(limit, MAX_PAGE_SIZE)
    offset = max(_int_arg("offset", 0), 0)
    return limit, offset


def pagination(total: int, limit: int, offset: int) -> dict[str, int]:
    """The `pagination` object of every paginated response."""
    return {"total": total, "limit": limit, "offset": offset}
