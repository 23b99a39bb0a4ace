"""Go's small text rules that lunard must reproduce byte for byte, in one place.

- `quote`: `strconv.Quote` (and `%q` of a string), used by Go's `strconv.Atoi` errors
  (robfig's cron messages) and `net/url` errors.
- `time_quote`: the `time` package's own, simpler quoting (its parse errors). It is a
  different rule from `strconv.Quote` (every non-ASCII byte as `\\xHH`, DEL kept), so it
  stays a separate function.
- `atoi`: `strconv.Atoi` on a 64-bit platform.
- `canonical_header`: `textproto.CanonicalMIMEHeaderKey`, for `str` and `bytes` names.

Trio-free and dependency-free: the worker process imports it.
"""

from __future__ import annotations

import re
from typing import AnyStr

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1

_DIGITS = re.compile(r"[0-9]+")
# RFC 7230 tchar: what textproto.validHeaderFieldByte accepts.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN_BYTES = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_C_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


class AtoiError(ValueError):
    """What `strconv.Atoi` returns as a `*NumError`; `str()` is Go's text.

    `reason` is `invalid syntax` or `value out of range`.
    """

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"strconv.Atoi: parsing {quote(text)}: {reason}")
        self.text = text
        self.reason = reason


def atoi(text: str) -> int:
    """Go's `strconv.Atoi`: an optional sign and ASCII digits (no spaces, no `_`), in int64.

    Raise AtoiError like Go: `invalid syntax`, or `value out of range` when the value does
    not fit in int64 — also when the digits before a bad byte already overflow uint64, as
    Go's ParseUint stops there with a range error before it sees the bad byte.
    """
    body = text[1:] if text[:1] in ("+", "-") else text
    digits = _DIGITS.match(body)
    if digits is None or digits.end() < len(body):
        if digits is not None and int(digits.group()) > UINT64_MAX:
            raise AtoiError(text, "value out of range")
        raise AtoiError(text, "invalid syntax")
    value = -int(body) if text[0] == "-" else int(body)
    if not INT64_MIN <= value <= INT64_MAX:
        raise AtoiError(text, "value out of range")
    return value


def _byte_escape(code: int) -> str:
    return f"\\x{code:02x}"


def quote(text: str | bytes) -> str:
    """Go's `strconv.Quote`: `"` and `\\` escaped, printable runes kept, `\\a\\b\\f\\n\\r\\t\\v`
    by name, other control characters `\\xHH`, other unprintable runes `\\uHHHH` or
    `\\UHHHHHHHH`, and each byte of invalid UTF-8 `\\xHH`.

    `bytes` are Go strings (any bytes); in `str`, U+DC80..U+DCFF stand for undecodable bytes
    (Python's `surrogateescape`), other lone surrogates are invalid runes (U+FFFD).
    Python's `str.isprintable` is Go's `unicode.IsPrint` (categories L, M, N, P, S and the
    ASCII space), up to the Unicode version each ships.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    out = ['"']
    for char in text:
        named = _C_ESCAPES.get(char)
        if named is not None:
            out.append(named)
            continue
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(_byte_escape(code - 0xDC00))
        elif char.isprintable():
            out.append(char)
        elif code < 0x20 or code == 0x7F:
            out.append(_byte_escape(code))
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def time_quote(text: str) -> str:
    """The `time` package's `quote`: ASCII from space to DEL kept (`"` and `\\` escaped),
    every byte of anything else (controls, non-ASCII, invalid UTF-8) as `\\xHH`.

    U+DC80..U+DCFF stand for undecodable bytes, as in `quote`.
    """
    out = ['"']
    for char in text:
        if " " <= char < "\x80":
            out.append("\\" + char if char in '"\\' else char)
            continue
        raw = char.encode("utf-8", "surrogateescape")
        out.extend(_byte_escape(byte) for byte in raw)
    out.append('"')
    return "".join(out)


def _canonical(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def canonical_header(name: AnyStr) -> AnyStr:
    """Go's `textproto.CanonicalMIMEHeaderKey`: `x-api-key` -> `X-Api-Key`.

    The first letter and every letter after a `-` upper case, the others lower case. A name
    that is empty or holds a byte outside the RFC 7230 token set (a space, `:`, non-ASCII...)
    is returned unchanged, as Go does.
    """
    if isinstance(name, bytes):
        if not _TOKEN_BYTES.fullmatch(name):
            return name
        return _canonical(name.decode("ascii")).encode("ascii")
    if not _TOKEN.fullmatch(name):
        return name
    return _canonical(name)
