"""random module (lua-runtime §6.11, §12 statements 71-74)."""

from __future__ import annotations

import base64
import re

from tests.worker.modules.conftest import Execution


def test_s71_random_basics(lua: Execution) -> None:
    values = lua.run(
        "local t = {} for i = 1, 200 do t[i] = random.int(1, 100) end "
        "return t, random.float(), random.string(16), random.hex(8)"
    )
    ints, number, text, hexed = values
    assert all(1 <= v <= 100 and isinstance(v, int) for v in ints)
    assert len(set(ints)) > 10
    assert 0 <= number < 1
    assert re.fullmatch(r"[a-zA-Z0-9]{16}", text)
    assert re.fullmatch(r"[0-9a-f]{16}", hexed)
    body = lua.run('return "StrLen: " .. #random.string(16) .. ", HexLen: " .. #random.hex(8)')
    assert "StrLen: 16" in body and "HexLen: 16" in body


def test_s72_random_int_bounds(lua: Execution) -> None:
    assert lua.run("return random.int(5, 5)") == 5
    values = lua.run("local t = {} for i = 1, 100 do t[i] = random.int(-10, -1) end return t")
    assert all(-10 <= v <= -1 for v in values)
    assert lua.error_of("random.int(10, 1)") == (
        "<string>:2: bad argument #1 to 'int' (min (10) must be less than or equal to max (1))"
    )
    assert lua.run("return random.int(1.9, 1.2)") == 1
    assert "bad argument #1 to 'int' (number expected, got string)" in lua.error_of(
        'random.int("1", 2)'
    )


def test_s73_random_lengths(lua: Execution) -> None:
    assert lua.error_of("random.string(0)") == (
        "<string>:2: bad argument #1 to 'string' (length must be positive, got 0)"
    )
    assert lua.run("return random.bytes(0)") == (None, "length must be positive, got 0")
    assert lua.run("return random.hex(-2)") == (None, "length must be positive, got -2")
    encoded = lua.run("return random.bytes(16)")
    assert len(base64.b64decode(encoded, validate=True)) == 16
    assert lua.run('return select("#", random.hex(2))') == 1


def test_s74_random_id(lua: Execution) -> None:
    first, second = lua.run("return random.id(), random.id()")
    assert first != second
    assert re.fullmatch(r"[0-9a-v]{20}", first) and re.fullmatch(r"[0-9a-v]{20}", second)
    assert lua.run('return "Same: " .. tostring(random.id() == random.id())') == "Same: false"
