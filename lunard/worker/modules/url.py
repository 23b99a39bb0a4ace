"""`url` — parse, query-escape and unescape like Go's `net/url` (lua-runtime §6.9).

Python's `urllib.parse` is more lenient and escapes differently (`~`, `%20`), so the pieces
Lunar exposes are ported: `url.Parse` (lenient; errors like
`parse "://invalid": missing protocol scheme`), `QueryEscape`, `QueryUnescape` and
`ParseQuery` (malformed pairs dropped).
"""

from __future__ import annotations

from typing import Any

from lunard.golang import quote
from lunard.worker.modules.bridge import Bridge, LuaFunction, ModuleSpec, as_bytes

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


class URLError(ValueError):
    """Input Go's `net/url` rejects; the message is Go's."""


def query_escape(data: bytes) -> bytes:
    """Form escaping: space → `+`, unreserved bytes kept, every other byte → `%XX`."""
    out = bytearray()
    for byte in data:
        if byte in _UNRESERVED:
            out.append(byte)
        elif byte == 0x20:
            out.append(0x2B)
        else:
            out += b"%%%02X" % byte
    return bytes(out)


def _is_hex(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x46 or 0x61 <= byte <= 0x66


def unescape(data: bytes, plus_is_space: bool) -> bytes:
    """Decode `%XX` (and `+` in query mode); raise URLError `invalid URL escape "%ZZ"`."""
    if b"%" not in data and not (plus_is_space and b"+" in data):
        return data
    out = bytearray()
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x25:
            if i + 2 >= len(data) or not (_is_hex(data[i + 1]) and _is_hex(data[i + 2])):
                raise URLError(f"invalid URL escape {quote(data[i : i + 3])}")
            out.append(int(data[i + 1 : i + 3], 16))
            i += 3
            continue
        out.append(0x20 if byte == 0x2B and plus_is_space else byte)
        i += 1
    return bytes(out)


def parse_query(raw: bytes) -> list[tuple[bytes, bytes]]:
    """Go's `ParseQuery` pairs in order; pairs with `;` or a bad escape are dropped."""
    pairs: list[tuple[bytes, bytes]] = []
    for part in raw.split(b"&"):
        if not part or b";" in part:
            continue
        key, _, value = part.partition(b"=")
        try:
            pairs.append((unescape(key, True), unescape(value, True)))
        except URLError:
            continue
    return pairs


class ParsedURL:
    """The parts of a URL that `url.parse` returns."""

    __slots__ = ("fragment", "host", "password", "path", "raw_query", "scheme", "username")

    def __init__(self) -> None:
        self.scheme = b""
        self.host = b""
        self.path = b""
        self.raw_query = b""
        self.fragment = b""
        self.username = b""
        self.password = b""


def _split_scheme(raw: bytes) -> tuple[bytes, bytes]:
    for index, byte in enumerate(raw):
        if 0x61 <= byte <= 0x7A or 0x41 <= byte <= 0x5A:
            continue
        if 0x30 <= byte <= 0x39 or byte in b"+-.":
            if index == 0:
                return b"", raw
            continue
        if byte == 0x3A:
            if index == 0:
                raise URLError("missing protocol scheme")
            return raw[:index], raw[index + 1 :]
        return b"", raw
    return b"", raw


def _parse_authority(authority: bytes, result: ParsedURL) -> None:
    userinfo, at, host = authority.rpartition(b"@")
    if not at:
        host = authority
    else:
        user, colon, password = userinfo.partition(b":")
        result.username = unescape(user, False)
        if colon:
            result.password = unescape(password, False)
    _check_port(host)
    result.host = unescape(host, False)


def _check_port(host: bytes) -> None:
    if host.startswith(b"["):
        close = host.find(b"]")
        if close < 0:
            raise URLError("missing ']' in host")
        port = host[close + 1 :]
        if port and not port.startswith(b":"):
            raise URLError(f"invalid port {quote(port)} after host")
    else:
        colon = host.rfind(b":")
        port = host[colon:] if colon >= 0 else b""
    if port.startswith(b":") and not port[1:].isdigit() and port != b":":
        raise URLError(f"invalid port {quote(port)} after host")


def parse_url(raw: bytes) -> ParsedURL:
    """Go's `url.Parse`; raise URLError with Go's full message."""
    try:
        return _parse(raw)
    except URLError as exc:
        raise URLError(f"parse {quote(raw)}: {exc}") from None


def _parse(raw: bytes) -> ParsedURL:
    result = ParsedURL()
    rest, hash_mark, fragment = raw.partition(b"#")
    if any(byte < 0x20 or byte == 0x7F for byte in rest):
        raise URLError("net/url: invalid control character in URL")
    if hash_mark:
        result.fragment = unescape(fragment, False)
    if not rest:
        return result
    scheme, rest = _split_scheme(rest)
    result.scheme = scheme.lower()
    if rest.endswith(b"?") and rest.count(b"?") == 1:
        rest = rest[:-1]
    else:
        rest, _, result.raw_query = rest.partition(b"?")
    if not rest.startswith(b"/"):
        if result.scheme:
            return result  # opaque URL such as mailto:x; no host or path
        if b":" in rest.partition(b"/")[0]:
            raise URLError("first path segment in URL cannot contain colon")
    if (result.scheme or not rest.startswith(b"///")) and rest.startswith(b"//"):
        authority, slash, path = rest[2:].partition(b"/")
        _parse_authority(authority, result)
        rest = slash + path
    result.path = unescape(rest, False)
    return result


def parse(bridge: Bridge, value: str | bytes) -> Any:
    try:
        parsed = parse_url(as_bytes(value))
    except URLError as exc:
        return bridge.fail(str(exc).encode("utf-8", "surrogateescape"))
    grouped: dict[bytes, list[bytes]] = {}
    for key, item in parse_query(parsed.raw_query):
        grouped.setdefault(key, []).append(item)
    query = {key: items[0] if len(items) == 1 else items for key, items in grouped.items()}
    table: dict[bytes, Any] = {
        b"scheme": parsed.scheme,
        b"host": parsed.host,
        b"path": parsed.path,
        b"fragment": parsed.fragment,
        b"query": query,
    }
    if parsed.username:
        table[b"username"] = parsed.username
    if parsed.password:
        table[b"password"] = parsed.password
    return bridge.table(table)


def encode(bridge: Bridge, value: str | bytes) -> bytes:
    return query_escape(as_bytes(value))


def decode(bridge: Bridge, value: str | bytes) -> bytes | None:
    try:
        return unescape(as_bytes(value), True)
    except URLError as exc:
        return bridge.fail(str(exc).encode("utf-8", "surrogateescape"))


MODULE = ModuleSpec(
    name="url",
    functions=(
        LuaFunction("parse", parse, ("string",), returns="pair"),
        LuaFunction("encode", encode, ("string",)),
        LuaFunction("decode", decode, ("string",), returns="pair"),
    ),
)
