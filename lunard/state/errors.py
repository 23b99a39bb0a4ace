"""The state backends' one error type, whatever the driver (sqlite3 or psycopg).

`StateStore.call`/`read` and the worker's KV/env SQL turn driver errors into `StateError`
(the driver's exception is its `__cause__`), so callers catch one type on both backends.
It is not a `LunardError`: an unexpected one stays a logged 500 "Internal server error".
"""

from __future__ import annotations


class StateError(Exception):
    """The state database failed (I/O, lock timeout, lost connection, constraint...)."""
