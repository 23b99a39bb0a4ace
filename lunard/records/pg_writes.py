"""What the PostgreSQL sink does to the records database: `COPY` batches, delete, replay.

The twins of `lunard.records.writes` for a psycopg connection (non-autocommit; each
function commits its own transaction), run on the sink's threads
(`lunard.records.pg_sink`). The rows come from the same column lists (`schema.Table.values`),
converted for `COPY` by `lunard.records.pg_schema`.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import psycopg

from lunard.messages import RecordBatch
from lunard.records import journal, pg_schema, schema

log = logging.getLogger(__name__)

_CHILD_TABLES = tuple(t.name for t in schema.TABLES if t is not schema.EXECUTIONS)


def prepare(batches: list[RecordBatch]) -> dict[str, list[list[Any]]]:
    """The batches' rows per table, columns ready for `COPY` (no database work)."""
    return {
        table.name: pg_schema.copy_columns(table, table.values(batches)) for table in schema.TABLES
    }


def days_needed(columns: dict[str, list[list[Any]]]) -> set[dt.date]:
    """Every UTC day a row of `columns` falls on."""
    days: set[dt.date] = set()
    for table in schema.TABLES:
        days |= pg_schema.days_of(table, columns[table.name])
    return days


def copy_rows(conn: psycopg.Connection[Any], columns: dict[str, list[list[Any]]]) -> int:
    """`COPY` every table's rows in one transaction; return the rows written. The day
    partitions must exist (`pg_schema.ensure_partitions`)."""
    written = 0
    with conn.transaction(), conn.cursor() as cursor:
        for table in schema.TABLES:
            values = columns[table.name]
            if not values or not values[0]:
                continue
            names = ", ".join(c.quoted for c in table.columns)
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in zip(*values, strict=True):
                    copy.write_row(row)
            written += len(values[0])
    return written


def stored_execution_ids(conn: psycopg.Connection[Any], ids: list[str]) -> set[str]:
    """Which of `ids` are stored already (one transaction)."""
    if not ids:
        return set()
    with conn.transaction():
        rows = conn.execute("SELECT id FROM executions WHERE id = ANY(%s)", (ids,)).fetchall()
    return {row[0] for row in rows}


def replay_segments(conn: psycopg.Connection[Any], directory: Path) -> list[RecordBatch]:
    """The journal's batches not yet in PostgreSQL (a journal in front of this sink, async
    consistency), deduplicated by execution id, oldest first. The caller writes them and then
    calls `journal_done` to delete the segments."""
    fresh: dict[str, RecordBatch] = {}
    for path in journal.segments(directory):
        for batch in journal.read_segment(path):
            fresh.setdefault(batch.execution.id, batch)
    stored = stored_execution_ids(conn, list(fresh))
    return [b for eid, b in fresh.items() if eid not in stored]


def journal_done(directory: Path, replayed: int) -> None:
    """Delete the journal's segments once their batches are committed."""
    files = journal.segments(directory)
    for path in files:
        path.unlink()
    if files:
        log.info("journal: replayed %d executions from %d segments", replayed, len(files))


def _doomed(function_id: str | None, version_id: str | None) -> tuple[str, tuple[Any, ...]]:
    if function_id is not None:
        return "DELETE FROM executions WHERE function_id = %s RETURNING id", (function_id,)
    return "DELETE FROM executions WHERE function_version_id = %s RETURNING id", (version_id,)


def delete_executions(
    conn: psycopg.Connection[Any],
    function_id: str | None = None,
    version_id: str | None = None,
    older_than: dict[str, int] | None = None,
) -> int:
    """Delete the selected executions and their logs, AI and email rows in one statement
    (one transaction); the selectors as in `lunard.records.writes.delete_executions`.
    Returns the number of executions deleted."""
    if sum(s is not None for s in (function_id, version_id, older_than)) != 1:
        raise ValueError("exactly one of function_id, version_id, older_than is required")
    if older_than == {}:
        return 0
    if older_than is not None:
        doomed = (
            "DELETE FROM executions e USING unnest(%s::text[], %s::timestamp[]) AS c(fid, cutoff) "
            "WHERE e.function_id = c.fid AND e.created_at < c.cutoff RETURNING e.id"
        )
        params: tuple[Any, ...] = (
            list(older_than),
            [pg_schema.timestamp(v, "s") for v in older_than.values()],
        )
    else:
        doomed, params = _doomed(function_id, version_id)
    children = ", ".join(
        f"d_{t} AS (DELETE FROM {t} WHERE execution_id IN (SELECT id FROM doomed))"
        for t in _CHILD_TABLES
    )
    with conn.transaction():
        row = conn.execute(
            f"WITH doomed AS ({doomed}), {children} SELECT count(*) FROM doomed", params
        ).fetchone()
    return int(row[0]) if row else 0


# Child rows (logs, AI, email) are stamped while their execution runs, so they may fall on
# the day before their execution's; partitions are dropped one day later than the cutoff
# alone would allow, and the per-function DELETE takes what lies in between.
_PARTITION_MARGIN = dt.timedelta(days=1)


def retention(conn: psycopg.Connection[Any], older_than: dict[str, int]) -> int:
    """Retention on PostgreSQL: drop the whole day partitions that lie before every
    function's cutoff (the longest retention), then delete per function what is left
    before its own cutoff. Returns the executions removed."""
    if not older_than:
        return 0
    oldest_cutoff = pg_schema.timestamp(min(older_than.values()), "s")
    dropped = pg_schema.drop_partitions_before(conn, (oldest_cutoff - _PARTITION_MARGIN).date())
    return dropped + delete_executions(conn, older_than=older_than)
