"""The shared Lua↔Python mechanism: coercion, error positions, numbers (lua-runtime §5, §11.2)."""

from __future__ import annotations

import math

import pytest

from lunard import gojson
from lunard.worker.modules import MODULES
from lunard.worker.modules.bridge import number_to_string
from tests.worker.modules.conftest import Execution, World

UPSTREAM_ORDER = ["log", "kv", "env", "http", "json", "base64", "crypto", "time", "url",
                  "strings", "random", "router", "ai", "email"]  # fmt: skip


def test_modules_registered_in_upstream_order() -> None:
    assert [spec.name for spec in MODULES] == UPSTREAM_ORDER
    counts = {spec.name: len(spec.functions) for spec in MODULES}
    assert counts == {
        "log": 4, "kv": 10, "env": 3, "http": 4, "json": 2, "base64": 2, "crypto": 8,
        "time": 4, "url": 3, "strings": 12, "random": 6, "router": 4, "ai": 1, "email": 1,
    }  # fmt: skip
    assert sum(counts.values()) == 64  # lua-runtime §6: 57 functions + 7 [NEWER] kv ones


def test_globals_are_tables_users_may_replace(lua: Execution) -> None:
    assert lua.run(
        "local names = {" + ",".join(f'"{n}"' for n in UPSTREAM_ORDER) + "} "
        "for _, n in ipairs(names) do assert(type(_G[n]) == 'table', n) end "
        "kv = nil return type(kv), type(log.info)"
    ) == ("nil", "function")


def test_each_execution_gets_its_own_modules(world: World) -> None:
    first = world.execution("fn-1")
    second = world.execution("fn-2")
    first.run('log.info("one") kv.set("k", "1")')
    second.run('log.info("two")')
    assert [e.message for e in first.host.logs] == ["one"]
    assert [e.message for e in second.host.logs] == ["two"]
    assert second.run('return kv.get("k")') is None


def test_bad_argument_position_is_the_callers_line(lua: Execution) -> None:
    ok, message = lua.run('local ok, e = pcall(function()\n\n  kv.set("k")\nend) return ok, e')
    assert ok is False
    assert message == "<string>:3: bad argument #2 to 'set' (string expected, got nil)"


def test_bad_argument_uncaught_error_text(lua: Execution) -> None:
    with pytest.raises(Exception, match=r"<string>:2: bad argument #1 to 'md5'"):
        lua.run("local x = 1\ncrypto.md5({})")


def test_string_coercion_uses_go_number_text(lua: Execution) -> None:
    assert lua.run(
        "return crypto.md5(1) == crypto.md5('1'), strings.trim(2^53), strings.trim(1e20), "
        "strings.trim(1234567.5), strings.trim(0.1), strings.trim(-0.00001), strings.trim(0/0)"
    ) == (True, "9007199254740992", "1e+20", "1.2345675e+06", "0.1", "-1e-05", "NaN")


def test_number_and_int_coercion(lua: Execution) -> None:
    assert lua.run('return time.format("0", "2006")') == "1970"
    assert lua.run("return strings.replace('aaaa', 'a', 'b', -1.9)") == "bbbb"
    assert lua.run("return random.int(-1.9, -1.1)") == -1
    assert "bad argument #2 to 'replace' (string expected, got boolean)" in lua.error_of(
        "strings.replace('a', true, 'b')"
    )
    assert "bad argument #4 to 'replace' (number expected, got string)" in lua.error_of(
        "strings.replace('a', 'a', 'b', '1')"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (30, "30"),
        (0.1, "0.1"),
        (3.5, "3.5"),
        (123456789012.0, "123456789012"),
        (2.0**53, "9007199254740992"),
        (1e15, "1000000000000000"),
        (1 / 3, "0.3333333333333333"),
        (1234567.5, "1.2345675e+06"),
        (0.00001, "1e-05"),
        (1e20, "1e+20"),
        (-0.0, "0"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (1e-300, "1e-300"),
    ],
)
def test_number_to_string_gopherlua_rule(value: float, text: str) -> None:
    assert number_to_string(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (123.0, "123"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (1.5e21, "1.5e+21"),
        (0.000001, "0.000001"),
        (-0.0, "-0"),
        (3.14, "3.14"),
    ],
)
def test_gojson_number_format(value: float, text: str) -> None:
    assert gojson.format_number(value) == text
