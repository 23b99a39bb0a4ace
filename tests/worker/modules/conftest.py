"""Run real Lua code against the host modules, with a HostContext on a real SQLite file.

`make_runtime` gives the Lua state a test execution runs in. Until `lunard.worker.sandbox`
exists it is a bare LuaJIT runtime configured like the worker's (Lua strings cross as bytes);
once the sandbox offers `new_runtime()`, tests run inside it unchanged.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lupa.luajit21 as lupa
import pytest

from lunard.messages import JobLimits
from lunard.state.db import StateStore, connect
from lunard.worker.host import HostContext
from lunard.worker.modules import install_modules

DEFAULT_LIMITS = JobLimits(
    max_memory_bytes=64 << 20,
    max_log_entries=1000,
    max_log_bytes=1 << 20,
    http_max_response_bytes=1 << 20,
)


def make_runtime() -> lupa.LuaRuntime:
    """A fresh Lua state (the sandbox's when it exists)."""
    try:
        sandbox = importlib.import_module("lunard.worker.sandbox")
    except ImportError:
        sandbox = None
    factory = getattr(sandbox, "new_runtime", None)
    if factory is not None:
        return factory()
    return lupa.LuaRuntime(encoding=None)


def py(value: Any) -> Any:
    """A Lua result in plain Python: strings → str, tables → dict (or list when a sequence)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, tuple):
        return tuple(py(item) for item in value)
    if lupa.lua_type(value) == "table":
        items = {py(k): py(v) for k, v in value.items()}
        if items and list(items) == list(range(1, len(items) + 1)):
            return [items[i] for i in range(1, len(items) + 1)]
        return items
    return value


class Execution:
    """One execution: a fresh Lua state with the modules installed for `host`."""

    def __init__(self, host: HostContext) -> None:
        self.host = host
        self.lua = make_runtime()
        # Captured before anything else can run: the chunk loader for "user code".
        self._load = self.lua.eval(
            "function(code, name) local f, e = loadstring(code, name) "
            "if f == nil then error(e, 0) end return f end"
        )
        install_modules(self.lua, host)

    def run(self, code: str) -> Any:
        """Run `code` as the chunk `<string>` and return its results as plain Python."""
        return py(self._load(code.encode(), b"=<string>")())

    def error_of(self, code: str) -> str:
        """The message `code` raises (it must raise)."""
        ok, message = self.run(f"return pcall(function()\n{code}\nend)")
        assert ok is False, f"expected an error from {code!r}"
        return str(message)


class World:
    """The shared state file plus a factory of executions against it."""

    def __init__(self, data_dir: Path) -> None:
        self.store = StateStore.open(data_dir)
        self.conn = connect(self.store.path)

    def execution(
        self,
        function_id: str = "test-function",
        *,
        env: dict[str, str] | None = None,
        base_url: str = "http://localhost:8080",
        timeout: float = 5.0,
        limits: JobLimits = DEFAULT_LIMITS,
    ) -> Execution:
        host = HostContext(
            function_id=function_id,
            execution_id="exec-123",
            function_name="test",
            version="1",
            base_url=base_url,
            env=dict(env or {}),
            state=self.conn,
            deadline=time.monotonic() + timeout,
            limits=limits,
        )
        return Execution(host)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.store.call_sync(lambda c: c.execute(sql, params).fetchall())]

    def close(self) -> None:
        self.conn.close()
        self.store.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


@pytest.fixture
def lua(world: World) -> Execution:
    """An execution of function `test-function` (base URL http://localhost:8080)."""
    return world.execution()

