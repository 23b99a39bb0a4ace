"""How long each function's executions are kept: the retention column of functions."""

from __future__ import annotations

from lunard.state.dialect import Conn

DEFAULT_RETENTION_DAYS = 7
SECONDS_PER_DAY = 86_400


def retention_cutoffs(conn: Conn, now: float) -> dict[str, int]:
    """Function id -> Unix second before which its executions are expired.

    NULL (or a non-positive value written around the API's validation) means the default of
    7 days.
    """
    cutoffs: dict[str, int] = {}
    for row in conn.execute("SELECT id, retention_days FROM functions"):
        days = row["retention_days"]
        if days is None or days <= 0:
            days = DEFAULT_RETENTION_DAYS
        cutoffs[row["id"]] = int(now) - int(days) * SECONDS_PER_DAY
    return cutoffs
