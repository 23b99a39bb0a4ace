"""The state schema's two parallel migration lists, one per backend, with the same version
numbers (a test checks it): `sqlite.MIGRATIONS` and `postgres.MIGRATIONS`.

`MIGRATIONS` here is the SQLite list, the embedded default (backup/restore read it).
"""

from __future__ import annotations

from lunard.state.migrations.sqlite import MIGRATIONS

__all__ = ["MIGRATIONS"]
