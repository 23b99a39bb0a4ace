"""What the sink does to the records database: write batches, replay the journal, delete.

Plain functions of a DuckDB connection, run on the sink's thread (`lunard.records.sink`);
the shape of every row comes from `lunard.records.schema`. Rows go in as lists of Python
values bound to one statement per table (`unnest` of each list), not as Arrow tables:
pyarrow would add ~55 MB to the daemon's RSS (issue 13) for ~7 us per row saved.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from lunard.messages import RecordBatch
from lunard.records import journal, schema
from lunard.transactions import transaction

log = logging.getLogger(__name__)

# The tables that hang off an execution, deleted with it.
_CHILD_TABLES = tuple(t.name for t in schema.TABLES if t is not schema.EXECUTIONS)


def write_batches(conn: duckdb.DuckDBPyConnection, batches: list[RecordBatch]) -> int:
    """Insert the batches, one statement per table, in one transaction; return the rows
    written."""
    written = 0
    with transaction(conn):
        for table in schema.TABLES:
            values = table.values(batches)
            if not values[0]:
                continue
            conn.execute(table.insert_statement(), values)
            written += len(values[0])
    return written


def replay_journal(conn: duckdb.DuckDBPyConnection, directory: Path) -> int:
    """Write the journal's frames that are not in DuckDB yet; return the executions added.

    Idempotent: a batch whose execution is already stored (its whole batch was committed in
    one transaction) is skipped, so a journal replayed twice adds nothing the second time.
    A segment is deleted once its batches are committed; one that cannot be written is
    renamed `*.failed` and kept for the operator, and start-up goes on.
    """
    added = skipped = 0
    files = journal.segments(directory)
    for path in files:
        unique = {b.execution.id: b for b in journal.read_segment(path)}
        stored = _stored_execution_ids(conn, list(unique))
        fresh = [b for eid, b in unique.items() if eid not in stored]
        try:
            if fresh:
                write_batches(conn, fresh)
        except duckdb.Error:
            failed = path.with_name(path.name + ".failed")
            log.exception("journal: replaying %s failed; kept as %s", path, failed)
            path.rename(failed)
            continue
        added += len(fresh)
        skipped += len(unique) - len(fresh)
        path.unlink()
    if files:
        log.info(
            "journal: replayed %d executions from %d segments (%d were already stored)",
            added,
            len(files),
            skipped,
        )
    return added


def _stored_execution_ids(conn: duckdb.DuckDBPyConnection, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = conn.execute(
        "SELECT id FROM executions WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]
    ).fetchall()
    return {row[0] for row in rows}


def delete_executions(
    conn: duckdb.DuckDBPyConnection,
    function_id: str | None = None,
    version_id: str | None = None,
    older_than: dict[str, int] | None = None,
) -> int:
    """Delete the selected executions and their logs, AI and email rows in one transaction.

    Exactly one selector: a function, a version, or per-function cutoffs
    (function id -> Unix seconds; executions created strictly before the cutoff go).
    Returns the number of executions deleted.
    """
    if sum(s is not None for s in (function_id, version_id, older_than)) != 1:
        raise ValueError("exactly one of function_id, version_id, older_than is required")
    if older_than == {}:
        return 0
    with transaction(conn):
        if function_id is not None:
            conn.execute(
                "CREATE TEMP TABLE _doomed AS SELECT id FROM executions WHERE function_id = ?",
                [function_id],
            )
        elif version_id is not None:
            conn.execute(
                "CREATE TEMP TABLE _doomed AS "
                "SELECT id FROM executions WHERE function_version_id = ?",
                [version_id],
            )
        else:
            assert older_than is not None
            _select_older(conn, older_than)
        for table in _CHILD_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE execution_id IN (SELECT id FROM _doomed)")
        row = conn.execute("DELETE FROM executions WHERE id IN (SELECT id FROM _doomed)").fetchone()
        conn.execute("DROP TABLE _doomed")
    return int(row[0]) if row else 0


def _select_older(conn: duckdb.DuckDBPyConnection, older_than: dict[str, int]) -> None:
    """`_doomed`: the executions created before their function's cutoff."""
    conn.execute(
        "CREATE TEMP TABLE _doomed AS SELECT e.id FROM executions e "
        "JOIN (SELECT unnest(?::VARCHAR[]) AS function_id, "
        "make_timestamp(unnest(?::BIGINT[]) * 1000000) AS cutoff) c "
        "ON e.function_id = c.function_id WHERE e.created_at < c.cutoff",
        [list(older_than), list(older_than.values())],
    )
