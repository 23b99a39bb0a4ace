"""JSON the way Go's `encoding/json` writes and reads it (lua-runtime §6.5, §9.1).

Upstream Lunar marshals through Go, so stored and returned JSON has Go's shape: object keys
sorted by bytes, compact output, `<`, `>`, `&`, U+2028 and U+2029 escaped, invalid UTF-8 as
`\\ufffd`, every number a float64 printed without a decimal point when integral. Both the Lua
`json` module and the masking of stored bodies use this one encoder so they agree.

Values handled by `dumps`: None, bool, int, float, str, bytes (treated as UTF-8 text), dict
with str/bytes keys, list/tuple. `loads` gives Go's `any` shapes: dict, list, str, float, bool,
None.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


class UnsupportedValue(ValueError):
    """A value Go's encoder refuses (NaN, infinities, cycles); the message is Go's text."""


def _escape_table() -> dict[int, str]:
    table: dict[int, str] = {c: f"\\u{c:04x}" for c in range(0x20)}
    table.update(
        {
            ord('"'): '\\"',
            ord("\\"): "\\\\",
            ord("\n"): "\\n",
            ord("\r"): "\\r",
            ord("\t"): "\\t",
            ord("<"): "\\u003c",
            ord(">"): "\\u003e",
            ord("&"): "\\u0026",
            0x2028: "\\u2028",
            0x2029: "\\u2029",
        }
    )
    # Bytes that were not valid UTF-8 arrive as surrogate escapes; Go writes U+FFFD for each.
    table.update({c: "\\ufffd" for c in range(0xDC80, 0xDD00)})
    return table


_ESCAPES = _escape_table()


_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\<>&\u2028\u2029\udc80-\udcff]')


def quote(text: str | bytes) -> str:
    """A JSON string literal with Go's escaping (bytes are read as UTF-8, bad bytes → U+FFFD)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    if _NEEDS_ESCAPE.search(text) is None:  # the common case: nothing to escape
        return '"' + text + '"'
    return '"' + text.translate(_ESCAPES) + '"'


def shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of `abs(value)` and the exponent of the first digit.

    `1234.5` → `("12345", 3)`, `0.001` → `("1", -3)`. `value` must be finite and non-zero.
    """
    _sign, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    text = "".join(map(str, digits))
    return text, len(text) - 1 + int(exponent)


def fixed_notation(digits: str, exp10: int) -> str:
    """Digits with the first one at 10**exp10, written without an exponent."""
    if exp10 >= len(digits) - 1:
        return digits + "0" * (exp10 - len(digits) + 1)
    if exp10 >= 0:
        return digits[: exp10 + 1] + "." + digits[exp10 + 1 :]
    return "0." + "0" * (-exp10 - 1) + digits


def exponent_notation(digits: str, exp10: int, min_exp_digits: int) -> str:
    """`d.ddde±X` with at least `min_exp_digits` exponent digits (Go: 1 for JSON, 2 for %v)."""
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if exp10 < 0 else "+"
    return f"{mantissa}e{sign}{abs(exp10):0{min_exp_digits}d}"


_EXACT_INT = 2**53


def format_number(value: float | int) -> str:
    """A float64 as Go's JSON encoder prints it; raise UnsupportedValue for NaN and ±Inf."""
    if type(value) is int and -_EXACT_INT < value < _EXACT_INT:
        return str(value)  # exactly representable: the shortest digits are the integer's
    number = float(value)
    if math.isnan(number):
        raise UnsupportedValue("json: unsupported value: NaN")
    if math.isinf(number):
        raise UnsupportedValue(f"json: unsupported value: {'+' if number > 0 else '-'}Inf")
    if number == 0:
        return "-0" if math.copysign(1.0, number) < 0 else "0"
    sign = "-" if number < 0 else ""
    digits, exp10 = shortest_digits(number)
    if abs(number) < 1e-6 or abs(number) >= 1e21:
        return sign + exponent_notation(digits, exp10, 1)
    return sign + fixed_notation(digits, exp10)


MAX_DEPTH = 200
"""Nesting past this is reported as a cycle; a Lua table cannot be identified from Python,
so depth is how a cyclic table is recognised (real documents are far shallower)."""


def _encode(value: Any, out: list[str], depth: int, max_depth: int) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, (str, bytes)):
        out.append(quote(value))
    elif isinstance(value, (int, float)):
        out.append(format_number(value))
    elif depth >= max_depth:
        raise UnsupportedValue("json: unsupported value: encountered a cycle")
    elif isinstance(value, dict):
        _encode_object(value, out, depth + 1, max_depth)
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out, depth + 1, max_depth)
        out.append("]")
    else:
        out.append("null")


def _key_bytes(key: Any) -> bytes:
    """How Go orders an object's keys: by their UTF-8 bytes (surrogate escapes as the bytes
    they stand for)."""
    return key if isinstance(key, bytes) else str(key).encode("utf-8", "surrogateescape")


def _encode_object(value: dict[Any, Any], out: list[str], depth: int, max_depth: int) -> None:
    keyed = sorted((_key_bytes(k), v) for k, v in value.items())
    out.append("{")
    for index, (key, item) in enumerate(keyed):
        if index:
            out.append(",")
        out.append(quote(key))
        out.append(":")
        _encode(item, out, depth, max_depth)
    out.append("}")


def dumps(value: Any, max_depth: int = MAX_DEPTH) -> str:
    """Compact JSON text as Go's `json.Marshal` gives it; raise UnsupportedValue.

    Nesting deeper than `max_depth` counts as a cycle (see MAX_DEPTH).
    """
    out: list[str] = []
    _encode(value, out, 0, max_depth)
    return "".join(out)


def dumps_string_map(pairs: Mapping[str, str]) -> str:
    """`dumps` of a str -> str map (event headers and query) without the generic walk: the
    same text, for a fraction of the cost on the per-call path. Anything but str keys and
    values goes through `dumps`."""
    keyed = []
    for name, value in pairs.items():
        if type(name) is not str or type(value) is not str:
            return dumps(dict(pairs))
        keyed.append((_key_bytes(name), name, value))
    keyed.sort()
    return "{" + ",".join(quote(name) + ":" + quote(value) for _, name, value in keyed) + "}"


# --------------------------------------------------------------------------- decoding


class DecodeError(ValueError):
    """Input that is not one JSON value; the message follows Go's wording where it can."""


def _reject_constant(name: str) -> Any:
    raise DecodeError(f"invalid character '{name[0]}' looking for beginning of value")


def _parse_number(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise DecodeError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return number


_DECODER = json.JSONDecoder(
    parse_float=_parse_number, parse_int=_parse_number, parse_constant=_reject_constant
)


_LITERALS = {"t": "true", "f": "false", "n": "null"}


def _literal_message(doc: str, pos: int, literal: str) -> str:
    for offset, expected in enumerate(literal):
        if pos + offset >= len(doc):
            return "unexpected end of JSON input"
        if doc[pos + offset] != expected:
            got = doc[pos + offset]
            return f"invalid character '{got}' in literal {literal} (expecting '{expected}')"
    return f"invalid character '{doc[pos]}' looking for beginning of value"


def _go_message(exc: json.JSONDecodeError) -> str:
    doc, pos = exc.doc, exc.pos
    if pos >= len(doc.rstrip()) or exc.msg.startswith("Unterminated string"):
        return "unexpected end of JSON input"
    char = doc[pos]
    if exc.msg.startswith("Expecting value") and char in _LITERALS:
        return _literal_message(doc, pos, _LITERALS[char])
    if exc.msg.startswith("Extra data"):
        return f"invalid character '{char}' after top-level value"
    if exc.msg.startswith("Expecting value"):
        return f"invalid character '{char}' looking for beginning of value"
    if exc.msg.startswith("Expecting property name"):
        return f"invalid character '{char}' looking for beginning of object key string"
    if exc.msg.startswith("Expecting ':'"):
        return f"invalid character '{char}' after object key"
    if exc.msg.startswith("Expecting ','"):
        return f"invalid character '{char}' after object key:value pair"
    return f"invalid character '{char}' in string literal"


def loads(data: str | bytes) -> Any:
    """Parse one JSON value like Go's `json.Unmarshal` into `any`; raise DecodeError.

    Numbers come back as float; invalid UTF-8 in the input becomes U+FFFD.
    """
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if not text.strip(" \t\r\n"):
        raise DecodeError("unexpected end of JSON input")
    try:
        return _DECODER.decode(text.strip(" \t\r\n"))
    except json.JSONDecodeError as exc:
        raise DecodeError(_go_message(exc)) from None
    except RecursionError:
        raise DecodeError("exceeded max depth") from None
