"""Export claims: which node writes a slice of the records to the lake (scale-out §4.2).

Every node runs the lake exporter (`lunard.records.lake_export`). A slice is a table and a
half-open time range `[slice_start, slice_end)` of its rows' `created_at` (Unix seconds,
aligned to `lake_export_interval`, the same on every node). Before a node exports a slice it
claims it in `export_claims` (state migration 4), primary key `(table_name, slice_start)`:
`INSERT … ON CONFLICT DO NOTHING` lets exactly one node have each slice.

A node that dies after claiming leaves its claim unfinished. Once the claim's lease has
expired another node takes it over with one conditional `UPDATE … WHERE finished_at IS NULL
AND lease_until <= now`: on PostgreSQL the row lock makes a second taker re-check the
condition after the first commits, so one node wins. Taking over is safe even if the first
node was only slow: a slice's file name is fixed (`lake.slice_path`), so both write the same
rows under the same name and the rename of the last one wins.

Times are Unix seconds from the caller's clock. Every statement is one autocommit statement
(no transaction spans them). Trio-free.
"""

from __future__ import annotations

from collections.abc import Iterable

from lunard.state.dialect import Conn, Sql

# How long claims are kept: the slices' files stay, only the bookkeeping goes.
KEEP_DAYS = 7
SECONDS_PER_DAY = 86_400

_CLAIM = Sql(
    sqlite="""
        INSERT INTO export_claims
            (table_name, slice_start, slice_end, node_id, claimed_at, lease_until)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (table_name, slice_start) DO NOTHING
        RETURNING node_id
    """,
    postgres="""
        INSERT INTO export_claims
            (table_name, slice_start, slice_end, node_id, claimed_at, lease_until)
        VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (table_name, slice_start) DO NOTHING
        RETURNING node_id
    """,
)
_TAKE_OVER = Sql(
    sqlite="""
        UPDATE export_claims SET node_id = ?, claimed_at = ?, lease_until = ?
        WHERE table_name = ? AND finished_at IS NULL AND lease_until <= ?
        RETURNING slice_start, slice_end
    """,
    postgres="""
        UPDATE export_claims SET node_id = %s, claimed_at = %s, lease_until = %s
        WHERE table_name = %s AND finished_at IS NULL AND lease_until <= %s
        RETURNING slice_start, slice_end
    """,
)
_FINISH = Sql(
    sqlite="UPDATE export_claims SET finished_at = ?, row_count = ? "
    "WHERE table_name = ? AND slice_start = ? AND node_id = ? AND finished_at IS NULL",
    postgres="UPDATE export_claims SET finished_at = %s, row_count = %s "
    "WHERE table_name = %s AND slice_start = %s AND node_id = %s AND finished_at IS NULL",
)
_NEXT = Sql(
    sqlite="SELECT max(slice_end) AS next_start FROM export_claims WHERE table_name = ?",
    postgres="SELECT max(slice_end) AS next_start FROM export_claims WHERE table_name = %s",
)
_AS_OF = Sql(
    sqlite="""
        SELECT table_name, min(slice_start) FILTER (WHERE finished_at IS NULL) AS pending,
               max(slice_end) FILTER (WHERE finished_at IS NOT NULL) AS done
        FROM export_claims GROUP BY table_name
    """,
    postgres="""
        SELECT table_name, min(slice_start) FILTER (WHERE finished_at IS NULL) AS pending,
               max(slice_end) FILTER (WHERE finished_at IS NOT NULL) AS done
        FROM export_claims GROUP BY table_name
    """,
)
_SWEEP = Sql(
    sqlite="DELETE FROM export_claims WHERE slice_end < ? AND finished_at IS NOT NULL "
    "AND slice_end < (SELECT max(slice_end) FROM export_claims AS later "
    "WHERE later.table_name = export_claims.table_name)",
    postgres="DELETE FROM export_claims WHERE slice_end < %s AND finished_at IS NOT NULL "
    "AND slice_end < (SELECT max(slice_end) FROM export_claims AS later "
    "WHERE later.table_name = export_claims.table_name)",
)


def claim_slice(
    conn: Conn, table: str, start: int, end: int, node: str, now: float, lease_until: int
) -> bool:
    """Claim `[start, end)` of `table` for `node`; whether this call's claim went in."""
    row = conn.execute(_CLAIM.of(conn), (table, start, end, node, int(now), lease_until)).fetchone()
    return row is not None


def take_over_expired(
    conn: Conn, table: str, node: str, now: float, lease_until: int
) -> list[tuple[int, int]]:
    """Take every unfinished claim of `table` whose lease expired by `now` for `node`; the
    `(start, end)` of each slice taken, oldest first."""
    rows = conn.execute(
        _TAKE_OVER.of(conn), (node, int(now), lease_until, table, int(now))
    ).fetchall()
    return sorted((int(row["slice_start"]), int(row["slice_end"])) for row in rows)


def finish_slice(conn: Conn, table: str, start: int, node: str, now: float, row_count: int) -> bool:
    """Mark `node`'s claim of the slice exported with `row_count` rows; whether it was
    still this node's unfinished claim (False: another node took it over meanwhile)."""
    cursor = conn.execute(_FINISH.of(conn), (int(now), row_count, table, start, node))
    return cursor.rowcount > 0


def next_start(conn: Conn, table: str) -> int | None:
    """Where the next unclaimed slice of `table` starts (None: nothing claimed yet)."""
    row = conn.execute(_NEXT.of(conn), (table,)).fetchone()
    return None if row is None or row["next_start"] is None else int(row["next_start"])


def data_as_of(conn: Conn, tables: Iterable[str]) -> int | None:
    """The instant before which every slice of every table in `tables` is in the lake: per
    table the start of its oldest unfinished slice, else the end of its last exported one;
    the earliest of those. None while some table has no exported slice yet."""
    found = {str(row["table_name"]): row for row in conn.execute(_AS_OF.of(conn)).fetchall()}
    bounds = []
    for table in tables:
        row = found.get(table)
        if row is None or (row["pending"] is None and row["done"] is None):
            return None
        # An unfinished slice is never later than the last exported one's end.
        bounds.append(int(row["pending"] if row["pending"] is not None else row["done"]))
    return min(bounds) if bounds else None


def sweep_claims(conn: Conn, now: float, keep_days: int = KEEP_DAYS) -> int:
    """Delete finished claims of slices that ended more than `keep_days` before `now`,
    keeping each table's latest (it says where the next slice starts); how many went."""
    cursor = conn.execute(_SWEEP.of(conn), (int(now) - keep_days * SECONDS_PER_DAY,))
    return max(cursor.rowcount, 0)
