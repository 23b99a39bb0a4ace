"""The control-plane state: SQLite (WAL) holding functions, versions, env, KV and tokens."""

from lunard.state.db import StateStore, connect

__all__ = ["StateStore", "connect"]
