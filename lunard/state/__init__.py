"""The control-plane state: SQLite (WAL) holding functions, versions, env, KV and tokens.

`StateStore` and `connect` are loaded on first use (PEP 562), so a worker process that
imports `lunard.state.connection` does not pull in trio through `lunard.state.db`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lunard.state.connection import connect
    from lunard.state.db import StateStore

__all__ = ["StateStore", "connect"]


def __getattr__(name: str) -> Any:
    if name == "StateStore":
        from lunard.state.db import StateStore

        return StateStore
    if name == "connect":
        from lunard.state.connection import connect

        return connect
    raise AttributeError(f"module 'lunard.state' has no attribute {name!r}")
