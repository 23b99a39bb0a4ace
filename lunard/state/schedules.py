"""Which functions the scheduler runs: the cron columns of the functions table."""

from __future__ import annotations

from lunard.state.dialect import Conn, Sql

_SCHEDULED = (
    "cron_status = 'active' AND cron_schedule IS NOT NULL AND cron_schedule != '' AND disabled = 0"
)
_SCHEDULE_OF = Sql(
    f"SELECT cron_schedule FROM functions WHERE id = ? AND {_SCHEDULED}",
    f"SELECT cron_schedule FROM functions WHERE id = %s AND {_SCHEDULED}",
)


def load_schedules(conn: Conn) -> list[tuple[str, str]]:
    """(function id, cron expression) of every function that should be scheduled now:
    `cron_status = 'active'`, a non-empty schedule, and not disabled (DECISIONS 13)."""
    rows = conn.execute(f"SELECT id, cron_schedule FROM functions WHERE {_SCHEDULED}")
    return [(row["id"], row["cron_schedule"]) for row in rows]


def load_schedule(conn: Conn, function_id: str) -> str | None:
    """The function's cron expression if it should be scheduled now, else None."""
    row = conn.execute(_SCHEDULE_OF.of(conn), (function_id,)).fetchone()
    return None if row is None else str(row["cron_schedule"])
