"""`router` — path matching and URL building for `/fn/<id>/...` (lua-runtime §6.12).

Matching strips one trailing `/`, splits on `/` dropping empty segments, supports `:name`
captures (raw, not percent-decoded) and a final `*` that needs at least one more segment.
Building substitutes `:key` for every string key of the params table (longest keys first, so
`:idx` is not eaten by `:id`) and prefixes `/fn/<function id>` (and the base URL).
"""

from __future__ import annotations

from typing import Any

from lunard.worker.modules.bridge import (
    Bridge,
    LuaFunction,
    ModuleSpec,
    as_bytes,
    field_string,
    is_table,
)


def _segments(path: bytes) -> list[bytes]:
    if path.endswith(b"/"):
        path = path[:-1]
    return [segment for segment in (path or b"/").split(b"/") if segment]


def match(path: bytes, pattern: bytes) -> dict[bytes, bytes] | None:
    """The captured params when `path` matches `pattern`, else None."""
    path_parts = _segments(path)
    pattern_parts = _segments(pattern)
    if pattern_parts and pattern_parts[-1] == b"*":
        pattern_parts.pop()
        if len(path_parts) <= len(pattern_parts):
            return None
    elif len(path_parts) != len(pattern_parts):
        return None
    params: dict[bytes, bytes] = {}
    for expected, actual in zip(pattern_parts, path_parts, strict=False):
        if expected.startswith(b":"):
            params[expected[1:]] = actual
        elif expected != actual:
            return None
    return params


def build_path(function_id: str, pattern: bytes, params: Any) -> bytes:
    """`/fn/<function_id>` + `pattern` with `:key` replaced by the params' values."""
    if is_table(params):
        pairs = [
            (as_bytes(key), field_string(value))
            for key, value in params.items()
            if isinstance(key, (bytes, str))
        ]
        for key, value in sorted(pairs, key=lambda pair: len(pair[0]), reverse=True):
            pattern = pattern.replace(b":" + key, value)
    return b"/fn/" + function_id.encode() + pattern


def _match(bridge: Bridge, path: str | bytes, pattern: str | bytes) -> bool:
    return match(as_bytes(path), as_bytes(pattern)) is not None


def _params(bridge: Bridge, path: str | bytes, pattern: str | bytes) -> Any:
    return bridge.table(match(as_bytes(path), as_bytes(pattern)) or {})


def _path(bridge: Bridge, pattern: str | bytes, values: Any = None) -> bytes:
    return build_path(bridge.host.function_id, as_bytes(pattern), values)


def _url(bridge: Bridge, pattern: str | bytes, values: Any = None) -> bytes:
    path = _path(bridge, pattern, values)
    base = bridge.host.base_url.encode()
    return base.removesuffix(b"/") + path if base else path


MODULE = ModuleSpec(
    name="router",
    functions=(
        LuaFunction("match", _match, ("string", "string")),
        LuaFunction("params", _params, ("string", "string")),
        LuaFunction("path", _path, ("string", "raw")),
        LuaFunction("url", _url, ("string", "raw")),
    ),
)
