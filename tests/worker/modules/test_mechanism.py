"""The wrapper mechanism itself, on a synthetic module (what later modules like http rely on)."""

from __future__ import annotations

import logging
from typing import Any

import lupa.luajit21 as lupa
import pytest

from lunard.worker.modules.bridge import Bridge, LuaFunction, ModuleSpec, registry
from lunard.worker.modules.errors import ArgumentError, HostError
from lunard.worker.modules.wrappers import generate_source
from tests.worker.modules.conftest import World, py


def _fetch(bridge: Bridge, url: str | bytes, options: Any) -> Any:
    if url == b"bad" or url == "bad":
        return bridge.fail("failed to parse URL: bad")
    return bridge.table({b"url": url, b"has_options": options is not None})


def _boom(bridge: Bridge, value: int) -> Any:
    return bridge.fail(f"boom {value}") if value < 0 else value * 2


_EXCEPTIONS: dict[bytes, Exception] = {
    b"argument": ArgumentError(2, "no good"),
    b"host": HostError("strings: negative Repeat count"),
    b"memory": MemoryError(),
    b"lua memory": lupa.LuaMemoryError(""),
    b"bug": KeyError("missing"),
    b"recursion": RecursionError("maximum recursion depth exceeded"),
}


def _fault(bridge: Bridge, kind: str | bytes, _: Any) -> Any:
    raise _EXCEPTIONS[kind if isinstance(kind, bytes) else kind.encode()]


def _leak(bridge: Bridge, kind: str | bytes) -> Any:
    """Results Lua must never see: a Python object, an int lupa cannot push."""
    return object() if kind in (b"object", "object") else 2**70


SPEC = ModuleSpec(
    name="demo",
    functions=(
        LuaFunction("fetch", _fetch, ("string", "opttable"), returns="pair"),
        LuaFunction("boom", _boom, ("int",), returns="value_or_raise"),
        LuaFunction("echo", lambda _, v: v, ("any",)),
        LuaFunction("fault", _fault, ("string", "raw"), returns="pair"),
        LuaFunction("quiet", _fault, ("string", "raw"), returns="none"),
        LuaFunction("leak", _leak, ("string",)),
    ),
)


def _install(world: World, bridge_class: type[Bridge] = Bridge) -> Any:
    lua = lupa.LuaRuntime(encoding=None)
    host = world.execution().host
    bridge = bridge_class(lua, host, registry([SPEC]))
    bridge.install(lua.compile(generate_source([SPEC]).encode()), lua.globals())
    load = lua.eval("function(code) return assert(loadstring(code, '=<string>')) end")
    return lambda code: py(load(code.encode())())


@pytest.fixture
def demo(world: World) -> Any:
    return _install(world)


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


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("argument", "bad argument #2 to 'fault' (no good)"),
        ("host", "strings: negative Repeat count"),
        ("memory", "not enough memory"),
        ("lua memory", "not enough memory"),
        ("recursion", "stack overflow"),
        ("bug", "demo.fault: internal error"),
    ],
)
@pytest.mark.parametrize("function", ["fault", "quiet"])
def test_mechanism_exceptions_become_lua_strings(
    demo: Any, kind: str, message: str, function: str
) -> None:
    message = message.replace("'fault'", f"'{function}'").replace("demo.fault", f"demo.{function}")
    code = f'return pcall(function()\n demo.{function}("{kind}", nil)\nend)'
    assert demo(code) == (False, f"<string>:2: {message}")
    # Called by pcall directly there is no Lua caller, so no position either.
    assert demo(f'return pcall(demo.{function}, "{kind}")') == (False, message)


def test_mechanism_a_bug_is_logged_with_its_traceback(
    demo: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="lunard.worker.modules.bridge"):
        assert demo('return pcall(demo.fault, "bug")') == (False, "demo.fault: internal error")
    [record] = caplog.records
    assert record.getMessage() == "host function demo.fault failed"
    assert record.exc_info is not None and record.exc_info[0] is KeyError


@pytest.mark.parametrize("kind", ["object", "bigint"])
def test_mechanism_results_lua_cannot_take_are_refused(
    demo: Any, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="lunard.worker.modules.bridge"):
        result = demo(f'local ok, e = pcall(demo.leak, "{kind}") return ok, type(e), e')
    assert result == (False, "string", "demo.leak: internal error")
    assert "not a Lua value" in caplog.text


def test_mechanism_the_pending_failure_does_not_outlive_its_call(demo: Any) -> None:
    assert demo('pcall(demo.fault, "host") return demo.fetch("u")')[1] is None
    assert demo('pcall(demo.fault, "host") return demo.boom(1)') == 2


class _CrossingFails(Bridge):
    """A bridge whose `call` fails the way lupa's own argument conversion can."""

    __slots__ = ()

    def call(self, index: int, *args: Any) -> Any:
        if args and args[0] in (b"memory", "memory"):
            raise MemoryError
        raise RuntimeError("lupa could not convert an argument")


def test_mechanism_a_failed_crossing_is_a_lua_string(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    demo = _install(world, _CrossingFails)
    code = 'local ok, e = pcall(function()\n demo.fetch("{}")\nend) return ok, type(e), e'
    assert demo(code.format("memory")) == (False, "string", "<string>:2: not enough memory")
    with caplog.at_level(logging.ERROR, logger="lunard.worker.modules.bridge"):
        outcome = demo(code.format("other"))
    assert outcome == (False, "string", "<string>:2: demo.fetch: internal error")
    assert "calling demo.fetch failed in lupa" in caplog.text
