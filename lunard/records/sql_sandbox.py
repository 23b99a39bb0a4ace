"""One analytics query in a process of its own: `python -m lunard.records.sql_sandbox`.

`lunard.records.sql_runner.run_query` starts this process for every `POST /api/analytics/query`
(and `lunard analytics query`), and says why a process: some DuckDB functions allocate
outside its buffer manager and cannot be interrupted mid-call, and a DuckDB instance always
lets SQL read its own database files. Here the kernel bounds memory (RLIMIT_DATA) and CPU
time, the parent kills the process at the deadline, and the database is in memory: there is
no file to read, and nothing the query does can reach the records.

One exchange over stdin/stdout, then the process exits:

1. parent → one JSON line: `{"sql", "limit", "time_limit", "memory_mb", "max_answer_bytes",
   "stream", "tables": {name: [[column, type], ...]}, "rows": {name: estimated rows}}`.
2. The sandbox creates empty tables of that shape and asks DuckDB's planner for the query's
   logical plan (`json_serialize_plan`). Every table function in it must be on an allow-list
   (`TABLE_FUNCTIONS`; a table scan reads one of those tables) and no scalar function may be
   on `REFUSED_FUNCTIONS`. → `{"need": {table: [column, ...]}, "stream": table | null}`:
   the columns the plan reads, in the order they will be sent, or `{"error", "kind"}`.
3. parent → one Arrow IPC stream per table of `need`, in that order. Each is loaded into
   its table before the query runs, except `stream` (the largest table the plan scans only
   once, when the request allows it): the query reads that one as it arrives, so its size
   does not count against memory and a `LIMIT` stops the copy early (the sandbox closes
   stdin when it has its answer; the parent takes the broken pipe as the end).
4. → `{"columns", "rows", "truncated"}` or `{"error", "kind"}`.

`kind` is `refused` (a construct analytics does not allow), `memory` (past the limit),
`too_big` (the answer is larger than `max_answer_bytes`), `rescan` (the query read the
streamed table twice, e.g. inside a recursive CTE, which DuckDB refuses: ask again with
`"stream": false`) or `failed` (DuckDB's error). Exit status `MEMORY_EXIT` means Python ran
out of memory where no answer could be sent.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import os
import resource
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import IO, Any

import duckdb

from lunard.records.instance import instance_config
from lunard.records.schema import TABLE_NAMES

MEMORY_EXIT = 3
# The process's data segment beyond DuckDB's own limit: the interpreter with duckdb and
# pyarrow loaded (measured: ~125 MiB VmData) and the answer's Python objects.
OVERHEAD_MB = 160
QUERYABLE = TABLE_NAMES
# Table functions a query may use. Everything else (read_*, glob, checkpoint, query,
# duckdb_settings, duckdb_databases, pragma_*, json_execute_serialized_sql, ...) is refused:
# a new DuckDB release's new table functions are refused until someone adds them here.
TABLE_FUNCTIONS = frozenset(
    {
        "seq_scan",  # the records tables, and only those (checked by name)
        "range",
        "generate_series",
        "unnest",
        "repeat",
        "repeat_row",
        "json_each",
        "json_tree",
        "pragma_show",  # SHOW <table>: its columns
    }
)
# Scalar functions that would tell the settings of the instance or write outside the query
# (a scalar allow-list would be hundreds of names long and break on every DuckDB release;
# the sandbox's settings hold no host path anyway).
REFUSED_FUNCTIONS = frozenset({"current_setting", "write_log"})
ROW_ID = 2**64 - 1  # the column index DuckDB gives a scan that reads no column
FIXED_WIDTH = ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "DOUBLE", "TIMESTAMP")
# Plan errors that mean "DuckDB cannot describe this plan", not "this SQL is wrong".
UNCHECKABLE = ("does not support serialization", "Cannot plan statement")
# DuckDB's error for a second scan of a streamed table (it never returns wrong rows).
RESCANNED = "has already been consumed"


class QueryError(Exception):
    """The query is not answered; `kind` says why (see the module docstring)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


Tables = dict[str, list[list[str]]]


# --------------------------------------------------------------------------- limits


def limit_process(memory_mb: int, time_limit: float) -> None:
    """Kernel bounds, so a runaway query ends even if the parent cannot stop it: the data
    segment (malloc and private mappings, inside DuckDB's buffer manager or not), CPU
    seconds (SIGXCPU, then SIGKILL) and no core file."""
    data = (memory_mb + OVERHEAD_MB) << 20
    cpu = math.ceil(time_limit) + 1
    _lower(resource.RLIMIT_DATA, data, data)
    _lower(resource.RLIMIT_CPU, cpu, cpu + 1)
    _lower(resource.RLIMIT_CORE, 0, 0)


def _lower(which: int, soft: int, hard: int) -> None:
    # An unprivileged process cannot raise a hard limit: keep one that is already lower.
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


def sandbox_config(memory_mb: int) -> dict[str, Any]:
    """The records instance's settings with one thread, and no host path in any setting
    (`home_directory` would otherwise name the user's home, `secret_directory` under it)."""
    return {
        "home_directory": "/nonexistent",
        "extension_directory": "/nonexistent",
        "secret_directory": "/nonexistent",
        "allow_persistent_secrets": False,
        **instance_config(memory_mb=memory_mb, threads=1),
    }


# --------------------------------------------------------------------------- the plan


def create_tables(conn: duckdb.DuckDBPyConnection, tables: Tables) -> None:
    """Empty tables of the records' shape, without constraints (only some columns arrive)."""
    for table, columns in tables.items():
        body = ", ".join(f"{quote(name)} {kind}" for name, kind in columns)
        conn.execute(f"CREATE TABLE {quote(table)} ({body})")


def quote(identifier: str) -> str:
    """An SQL identifier, double-quoted."""
    return '"' + identifier.replace('"', '""') + '"'


def plan(conn: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    """The query's logical plan as DuckDB serializes it (bound, not optimized, not run)."""
    rows = conn.execute(
        "SELECT json_serialize_plan(?, skip_null := true, skip_empty := true)", [sql]
    ).fetchall()
    tree: dict[str, Any] = json.loads(rows[0][0]) if rows else {"error": True}
    if tree.get("error"):
        raise plan_error(str(tree.get("error_type") or ""), str(tree.get("error_message") or ""))
    return tree


def plan_error(kind: str, message: str) -> QueryError:
    """Why DuckDB could not plan the query, worded like its own errors."""
    if any(marker in message for marker in UNCHECKABLE):
        allowed = ", ".join(sorted(TABLE_FUNCTIONS - {"seq_scan"}))
        return QueryError(
            "refused",
            f"refused: this query uses something analytics cannot check "
            f"({first_line(message)}); table functions allowed: {allowed}",
        )
    label = f"{kind[:1].upper()}{kind[1:]} Error: " if kind else ""
    if kind == "permission":
        return QueryError(
            "refused",
            f"refused: {label}{first_line(message)} (queries may read only {', '.join(QUERYABLE)})",
        )
    return QueryError("failed", f"query failed: {label}{first_line(message)}")


def nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in the plan, operators and expressions, depth first."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def table_reads(tree: dict[str, Any], tables: Tables) -> list[tuple[str, list[str]]]:
    """One (table, columns) per scan of a records table in the plan; refuse what is not
    allowed on the way."""
    reads = []
    for node in nodes(tree):
        name = _function_name(node)
        if node.get("type") == "LOGICAL_GET":
            table, columns = _scan(node, name, tables)
            if table:
                reads.append((table, columns))
        elif name in REFUSED_FUNCTIONS and "expression_class" in node:
            raise QueryError(
                "refused",
                f"refused: {name}() is not allowed; analytics queries cannot read or change "
                "the database's settings or logs",
            )
    return reads


def needed_columns(reads: list[tuple[str, list[str]]], tables: Tables) -> dict[str, list[str]]:
    """The columns to copy per table, in the table's order (one narrow column for a scan
    that only counts rows)."""
    wanted: dict[str, set[str]] = {}
    for table, columns in reads:
        wanted.setdefault(table, set()).update(columns)
    return {
        table: [c for c, _ in tables[table] if c in columns] or [_row_carrier(tables[table])]
        for table, columns in wanted.items()
    }


def streamable(reads: list[tuple[str, list[str]]], rows: dict[str, int]) -> str | None:
    """The largest table the plan scans exactly once (None if there is none)."""
    scans = Counter(table for table, _ in reads)
    once = [table for table, count in scans.items() if count == 1]
    return max(once, key=lambda table: rows.get(table, 0), default=None)


def _function_name(node: dict[str, Any]) -> str:
    qname = node.get("qname")
    path = qname.get("path") if isinstance(qname, dict) else None
    return str(path[-1]) if path else ""


def _scan(node: dict[str, Any], name: str, tables: Tables) -> tuple[str, list[str]]:
    """The table a LOGICAL_GET reads and its columns ("" for an allowed table function)."""
    if name not in TABLE_FUNCTIONS:
        allowed = ", ".join(sorted(TABLE_FUNCTIONS - {"seq_scan"}))
        raise QueryError(
            "refused",
            f"refused: {name or 'this table function'}() is not allowed in analytics queries; "
            f"query the views {', '.join(QUERYABLE)} (table functions allowed: {allowed})",
        )
    if name != "seq_scan":
        return "", []
    table = str((node.get("function_data") or {}).get("table") or "")
    if table not in tables:
        raise QueryError("refused", f"refused: only {', '.join(QUERYABLE)} can be queried")
    names: list[str] = node.get("names") or []
    indexes = [c.get("index", 0) for c in node.get("column_indexes") or []]
    return table, [names[i] for i in indexes if i != ROW_ID and i < len(names)]


def _row_carrier(columns: list[list[str]]) -> str:
    """A narrow column to copy when a scan only counts rows (`count(*)`)."""
    for name, kind in columns:
        if kind in FIXED_WIDTH:
            return name
    return columns[0][0]


# --------------------------------------------------------------------------- data and answer


def load(
    conn: duckdb.DuckDBPyConnection, stream: IO[bytes], table: str, columns: list[str]
) -> None:
    """Insert one Arrow IPC stream from the parent into `table` (casting to its types)."""
    import pyarrow.ipc  # loaded by `main`; see there

    reader = pyarrow.ipc.open_stream(stream)
    names = ", ".join(quote(c) for c in columns)
    conn.register("_incoming", reader)
    try:
        conn.execute(f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM _incoming")
    finally:
        conn.unregister("_incoming")


def attach(
    conn: duckdb.DuckDBPyConnection,
    stream: IO[bytes],
    table: str,
    columns: list[str],
    shape: list[list[str]],
) -> None:
    """Replace the empty `table` by a view over the Arrow IPC stream still arriving, with
    the table's columns and types (NULL for the columns not sent)."""
    import pyarrow.ipc  # loaded by `main`; see there

    conn.register("_streamed", pyarrow.ipc.open_stream(stream))
    select = ", ".join(
        f"CAST({quote(name) if name in columns else 'NULL'} AS {kind}) AS {quote(name)}"
        for name, kind in shape
    )
    conn.execute(f"DROP TABLE {quote(table)}")
    conn.execute(f"CREATE VIEW {quote(table)} AS SELECT {select} FROM _streamed")


def answer(conn: duckdb.DuckDBPyConnection, sql: str, limit: int) -> dict[str, Any]:
    """Run the query; at most `limit` rows are fetched (the rest is never computed)."""
    result = conn.execute(sql)
    description = result.description or []
    raw = result.fetchmany(limit + 1)
    return {
        "columns": [{"name": str(d[0]), "type": str(d[1])} for d in description],
        "rows": [[json_value(v) for v in row] for row in raw[:limit]],
        "truncated": len(raw) > limit,
    }


def json_value(value: Any) -> Any:
    """A DuckDB value as JSON: timestamps ISO 8601, decimals as numbers, blobs base64."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return str(value)


def first_line(message: str) -> str:
    """The first line of an error message (DuckDB appends hints and context lines)."""
    text = message.strip()
    return text.splitlines()[0] if text else "unknown error"


def as_query_error(exc: BaseException) -> QueryError:
    """A DuckDB or Python failure as the sandbox reports it."""
    import pyarrow as pa  # loaded by `main`; see there

    if isinstance(exc, duckdb.OutOfMemoryException | MemoryError | pa.ArrowMemoryError):
        return QueryError("memory", first_line(str(exc)) or type(exc).__name__)
    if isinstance(exc, duckdb.InvalidInputException) and RESCANNED in str(exc):
        return QueryError("rescan", "the query reads the streamed table more than once")
    if isinstance(exc, duckdb.PermissionException):
        return QueryError(
            "refused",
            f"refused: {first_line(str(exc))} (queries may read only {', '.join(QUERYABLE)})",
        )
    return QueryError("failed", f"query failed: {first_line(str(exc))}")


# --------------------------------------------------------------------------- the process

Send = Callable[[str], None]


def error_line(error: QueryError) -> str:
    """The protocol line of an error."""
    return json.dumps({"error": str(error), "kind": error.kind}, ensure_ascii=False)


def serve(request: dict[str, Any], stdin: IO[bytes], send: Send) -> None:
    """Steps 2–4 of the exchange for one parsed request."""
    import pyarrow as pa  # loaded by `main`; see there

    conn = duckdb.connect(":memory:", config=sandbox_config(int(request["memory_mb"])))
    try:
        create_tables(conn, request["tables"])
        body = _plan_copy_run(conn, request, stdin, send)
    except QueryError as exc:
        send(error_line(exc))
        return
    except (duckdb.Error, MemoryError, pa.ArrowException) as exc:
        send(error_line(as_query_error(exc)))
        return
    finally:
        conn.close()
    encoded = json.dumps(body, ensure_ascii=False)
    if len(encoded) > int(request["max_answer_bytes"]):
        encoded = error_line(QueryError("too_big", "the answer is too big"))
    send(encoded)


def _plan_copy_run(
    conn: duckdb.DuckDBPyConnection, request: dict[str, Any], stdin: IO[bytes], send: Send
) -> dict[str, Any]:
    tables: Tables = request["tables"]
    reads = table_reads(plan(conn, request["sql"]), tables)
    need = needed_columns(reads, tables)
    streamed = streamable(reads, request.get("rows", {})) if request.get("stream") else None
    order = [t for t in need if t != streamed] + ([streamed] if streamed else [])
    send(json.dumps({"need": {table: need[table] for table in order}, "stream": streamed}))
    for table in order:
        if table == streamed:
            attach(conn, stdin, table, need[table], tables[table])
        else:
            load(conn, stdin, table, need[table])
    body = answer(conn, request["sql"], int(request["limit"]))
    stdin.close()  # the parent stops sending the rest of a streamed table
    return body


def main() -> int:
    """Read the request, bound the process, serve it; the exit status says how it went."""
    # pyarrow is imported here, before the limits (`OVERHEAD_MB` counts it), and not with
    # the module: the daemon imports this module (through `sql_runner`) for its names and
    # `json_value`, and must not load pyarrow for that (issue 13: ~55 MB).
    import pyarrow.ipc  # noqa: F401

    stdin = sys.stdin.buffer
    # The protocol keeps its own copy of stdout; fd 1 goes nowhere, so nothing DuckDB or a
    # library prints can corrupt an answer.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    line = stdin.readline()
    if not line:
        return 0  # the parent went away before asking
    request = json.loads(line)
    limit_process(int(request["memory_mb"]), float(request["time_limit"]))

    def send(text: str) -> None:
        out.write(text.encode() + b"\n")
        out.flush()

    try:
        serve(request, stdin, send)
    except MemoryError:
        return MEMORY_EXIT
    except BrokenPipeError:
        return 0  # the parent stopped listening (its deadline); nothing to tell
    return 0


if __name__ == "__main__":
    sys.exit(main())
