"""pynng for the worker, which only makes blocking calls: without asyncio in memory.

`pynng.nng` imports its async helper `pynng._aio` at import time, and that imports asyncio:
about 10 MiB of RSS in every worker process for code the worker never runs (it uses
`recv`/`send`, never `arecv`/`asend`). Here `pynng._aio` is a stand-in module that loads
the real one (asyncio with it) the first time one of its names is used, so nothing is lost
if something ever does. (The standard library's `LazyLoader` does not do here: the import
system reads the module's `__spec__` while `pynng.nng` imports it, which already loads it.)
Import `pynng` from here, before anything else imports it.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any


class _LoadOnUse(types.ModuleType):
    """`pynng._aio` until one of its names is read; then the real module."""

    def __init__(self, path: Path) -> None:
        super().__init__("pynng._aio")
        self._path = path

    def __getattr__(self, name: str) -> Any:  # only called for names not set here
        spec = importlib.util.spec_from_file_location("pynng._aio", self._path)
        assert spec is not None and spec.loader is not None
        real = importlib.util.module_from_spec(spec)
        sys.modules["pynng._aio"] = real
        spec.loader.exec_module(real)
        sys.modules["pynng"]._aio = real  # type: ignore[attr-defined]
        return getattr(real, name)


def _stand_in_for_aio() -> None:
    if "pynng" in sys.modules:
        return  # already imported (as in tests running in one process): nothing to save
    package = importlib.util.find_spec("pynng")  # finds it without importing it
    if package is None or not package.submodule_search_locations:
        return
    path = Path(next(iter(package.submodule_search_locations))) / "_aio.py"
    stand_in = _LoadOnUse(path)
    stand_in.__spec__ = importlib.util.spec_from_file_location("pynng._aio", path)
    sys.modules["pynng._aio"] = stand_in


_stand_in_for_aio()

import pynng  # noqa: E402  (after the stand-in is in place)

__all__ = ["pynng"]
