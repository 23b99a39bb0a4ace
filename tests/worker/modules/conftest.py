"""Run real Lua code against the host modules, with a HostContext on a real SQLite file.

Every test runs in each of RUNTIMES: the worker's sandboxed state (`new_runtime`, then
`install_modules`, then `seal`, exactly the worker's order), and a bare LuaJIT state whose
strings cross as bytes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lupa.luajit21 as lupa
import pytest

from lunard.messages import JobLimits
from lunard.state.db import StateStore, connect
from lunard.worker import sandbox as SANDBOX
from lunard.worker.host import HostContext
from lunard.worker.http_client import OutboundClient
from lunard.worker.modules import install_modules

DEFAULT_LIMITS = JobLimits(
    max_memory_bytes=64 << 20,
    max_log_entries=1000,
    max_log_bytes=1 << 20,
    http_max_response_bytes=1 << 20,
)


RUNTIMES = ["sandbox", "bare"]
"""`sandbox`: the worker's own state (new_runtime → install_modules → seal), Lua strings
crossing as text. `bare`: a plain LuaJIT state with Lua strings crossing as bytes, so both
ways lupa may hand strings over are exercised."""


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

    def __init__(self, host: HostContext, runtime: str) -> None:
        self.host = host
        if runtime == "sandbox":
            self.lua = SANDBOX.new_runtime(host.limits.max_memory_bytes)
            install_modules(self.lua, host)
            SANDBOX.seal(self.lua)
        else:
            self.lua = lupa.LuaRuntime(encoding=None)
            install_modules(self.lua, host)
        # The chunk loader for "user code" (the sandbox's text-only one when sealed).
        self._load = self.lua.eval(
            "function(code, name) local f, e = loadstring(code, name) "
            "if f == nil then error(e, 0) end return f end"
        )

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

    def __init__(self, data_dir: Path, runtime: str) -> None:
        self.runtime = runtime
        self.store = StateStore.open(data_dir)
        self.conn = connect(self.store.path)
        # One client for every execution of the test, as a worker process has.
        self.outbound = OutboundClient()

    def execution(
        self,
        function_id: str = "test-function",
        *,
        env: dict[str, str] | None = None,
        base_url: str = "http://localhost:8080",
        timeout: float = 5.0,
        limits: JobLimits = DEFAULT_LIMITS,
        outbound: OutboundClient | None = None,
    ) -> Execution:
        """A fresh execution; `timeout` may be negative (the deadline has already passed)."""
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
            outbound=self.outbound if outbound is None else outbound,
        )
        return Execution(host, self.runtime)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [
            tuple(row) for row in self.store.call_sync(lambda c: c.execute(sql, params).fetchall())
        ]

    def close(self) -> None:
        self.outbound.close()
        self.conn.close()
        self.store.close()


@pytest.fixture(params=RUNTIMES)
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    w = World(tmp_path, request.param)
    yield w
    w.close()


@pytest.fixture
def lua(world: World) -> Execution:
    """An execution of function `test-function` (base URL http://localhost:8080)."""
    return world.execution()
