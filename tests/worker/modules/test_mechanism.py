"""The wrapper mechanism itself, on a synthetic module (what later modules like http rely on)."""

from __future__ import annotations

from typing import Any

import lupa.luajit21 as lupa
import pytest

from lunard.worker.modules.bridge import (
    Bridge,
    LuaFunction,
    ModuleSpec,
    generate_source,
    implementations,
    lua_number_bytes,
)
from tests.worker.modules.conftest import World, py


def _fetch(bridge: Bridge, url: str | bytes, options: Any) -> Any:
    if url == b"bad" or url == "bad":
        return bridge.fail("failed to parse URL: bad")
    return bridge.table({b"url": url, b"has_options": options is not None})


def _boom(bridge: Bridge, value: int) -> Any:
    return bridge.fail(f"boom {value}") if value < 0 else value * 2


SPEC = ModuleSpec(
    name="demo",
    functions=(
        LuaFunction("fetch", _fetch, ("string", "opttable"), returns="pair"),
        LuaFunction("boom", _boom, ("int",), returns="value_or_raise"),
        LuaFunction("echo", lambda _, v: v, ("any",)),
    ),
)


@pytest.fixture
def demo(world: World) -> Any:
    lua = lupa.LuaRuntime(encoding=None)
    host = world.execution().host
    bridge = Bridge(lua, host, implementations([SPEC]))
    setup = lua.compile(generate_source([SPEC]).encode())
    setup(bridge.call, lua.globals(), lua_number_bytes, bridge.take_error)
    load = lua.eval("function(code) return assert(loadstring(code, '=<string>')) end")
    return lambda code: py(load(code.encode())())


def test_mechanism_pair_and_opttable(demo: Any) -> None:
    assert demo('return demo.fetch("u")') == ({"url": "u", "has_options": False}, None)
    assert demo('return demo.fetch("u", {})')[0]["has_options"] is True
    assert demo('return demo.fetch("bad")') == (None, "failed to parse URL: bad")
    ok, message = demo('return pcall(demo.fetch, "u", "raw body")')
    assert ok is False
    assert message == "bad argument #2 to 'fetch' (table expected, got string)"


def test_mechanism_raise_style_and_any(demo: Any) -> None:
    assert demo("return demo.boom(2.7)") == 4
    ok, message = demo("return pcall(function()\n demo.boom(-1)\nend)")
    assert (ok, message) == (False, "<string>:2: boom -1")
    assert demo("return demo.echo(nil)") is None
    ok, message = demo("return pcall(function()\n demo.echo()\nend)")
    assert (ok, message) == (False, "<string>:2: bad argument #1 to 'echo' (value expected)")
