"""The read-only SQL runner behind `POST /api/analytics/query` and `lunard analytics query`.

A user's SQL runs only if every one of these holds; each refusal is an `AnalyticsRefused`
(400 over HTTP) with a message that says why:

1. DuckDB's own parser (`duckdb.extract_statements`) finds exactly one statement, and its
   type is SELECT (which covers `WITH`, `FROM x`, `VALUES`, `DESCRIBE`, `SUMMARIZE`,
   `SHOW`). `COPY`, `ATTACH`, `INSTALL`, `LOAD`, `SET`, `PRAGMA`, `CALL`, `EXPORT`, DDL and
   DML are other statement types and never reach an engine.
2. It runs in a sandbox process (`lunard.records.sql_sandbox`), never on the records
   instance: an in-memory DuckDB with the records instance's settings (no file or network
   access, no extensions, configuration locked, no spilling) and no host path in any
   setting, fed the records columns the query reads. DuckDB's planner
   (`json_serialize_plan`) lists every table function in the plan and only those on an
   allow-list run (`range`, `generate_series`, `unnest`, ...; not `read_blob`,
   `checkpoint`, `duckdb_settings()`, `duckdb_databases()`, `pragma_*`, `query()`);
   `current_setting()` is refused too.
3. Time: a timer kills the sandbox at the limit (and interrupts the copy on `conn`), so the
   answer comes within the limit plus the time to kill a process, whatever the query does;
   the limit covers starting the sandbox and copying. The sandbox also has a CPU-time
   rlimit, so it ends even if this process cannot stop it.
4. Memory: the sandbox's DuckDB may use `memory_mb` MiB (the tables it loads count) and the
   process `memory_mb` + 160 MiB in all (RLIMIT_DATA, enforced by the kernel), so an
   allocation outside DuckDB's buffer manager is bounded too. The largest table a query
   scans once is streamed instead of loaded, so it does not count. At most `limit` rows
   are fetched, and an answer over `MAX_ANSWER_BYTES` is refused.

Why a process. Measured on this machine (2 cores, DuckDB 2.0.1, `timeout` 3 s; figures of
one run of `bench/analytics_limits.py`, which prints them all), in the caller's process:
- as the daemon was (`SAFE_CONFIG` only): `string_agg` of 3,000 1 MB strings answered after
  10.7 s at a peak RSS of 4.1 GB; `repeat('x', 1000000000)` 4.4 s, 2.0 GB; `lpad('x',
  500000000, 'y')` over 4 rows 14.6 s, 2.0 GB;
- with the instance bounded (256 MiB, one thread, no spilling): `string_agg` stops at
  0.15 s (DuckDB's out-of-memory error), but `repeat` takes 5.6 s and 2.0 GB and `lpad`
  9.7 s and 2.0 GB: those allocate outside the buffer manager, and `interrupt()` waits for
  the call to return. `length(repeat([1,2,3], 300000000))` took 72 s and 15.8 GB,
  `length(range(0, 1000000000))` 48 s and 20 GB;
- `read_blob('<data dir>/records.duckdb')` and its `.wal` were readable: DuckDB adds a
  database's own files to `allowed_paths` whatever the configuration.
With the sandbox: `string_agg` 0.4–0.6 s, `repeat` 0.2 s, the list bombs 0.2–0.4 s, each a
400 with the memory message (the caller stays at 147 MB, the sandbox peaks at 125–367 MB);
`lpad` is a 400 at 3.03 s. Over HTTP the daemon's peak RSS went from 141 to 147 MiB across
all of them. Time-limit overshoot with a 2 s limit: +0.02 to +0.06 s for `count(*)` of
`range(1e12)`, cross joins (of `range` and of the records), an endless recursive CTE, one
`levenshtein` call on two 100,000-character strings, and `lpad`.

The price: starting a process (~0.15 s) and copying the columns a query reads. Over
1,000,000 executions, p99 by function takes 236 ms (18 ms on the cursor directly), the
latest 100 executions with every column 547 ms (7.5 ms). A query that must load more than
`memory_mb` of records gets the memory message; `rowid` is not the file's row id, and
DESCRIBE shows every column as nullable.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

import duckdb

from lunard.errors import BadRequest, InternalError
from lunard.records import sql_sandbox
from lunard.records.sink import on_cursor
from lunard.records.sql_sandbox import QUERYABLE, json_value

# Re-exported: the http side calls `sql_runner.on_cursor` (it lives with the sink, which
# hands out the cursor).
__all__ = ["QUERYABLE", "json_value", "on_cursor"]

DEFAULT_ROW_LIMIT = 1_000
MAX_ROW_LIMIT = 10_000
DEFAULT_TIME_LIMIT = 10.0
DEFAULT_MEMORY_MB = 256
# The setting named in the memory refusal (the daemon's; the CLI names its flag).
MEMORY_SETTING = "records_memory_mb"
MAX_SQL_CHARS = 100_000
MAX_ANSWER_BYTES = 32 << 20
EXPORT_BATCH_ROWS = 65_536
# Environment variables the sandbox keeps: it needs to find Python and lunard, nothing else
# (the daemon's environment holds the admin key and provider keys).
SANDBOX_ENV = ("PATH", "PYTHONPATH", "VIRTUAL_ENV", "LANG", "LC_ALL", "TZ")


class AnalyticsRefused(BadRequest):
    """The SQL was not run (or was stopped): not one SELECT, a refused feature, too slow."""


@dataclass(frozen=True)
class QueryResult:
    """A query's answer: column names and DuckDB types, JSON-ready rows, truncation."""

    columns: list[dict[str, str]]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float

    def to_json(self) -> dict[str, Any]:
        """The body of `POST /api/analytics/query`."""
        return {
            "columns": self.columns,
            "rows": self.rows,
            "row_count": len(self.rows),
            "truncated": self.truncated,
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


@dataclass(frozen=True)
class Limits:
    """What one query may take, and the setting to name when memory runs out."""

    rows: int = DEFAULT_ROW_LIMIT
    seconds: float = DEFAULT_TIME_LIMIT
    memory_mb: int = DEFAULT_MEMORY_MB
    memory_setting: str = MEMORY_SETTING

    def memory_refusal(self, detail: str = "") -> AnalyticsRefused:
        """The 400 for a query past the memory limit."""
        why = f" ({detail})" if detail else ""
        return AnalyticsRefused(
            f"query needs more memory than the analytics limit of {self.memory_mb} MiB "
            f"allows{why}; raise {self.memory_setting} or read fewer rows or columns"
        )


def check_sql(sql: str) -> str:
    """Return `sql` stripped if DuckDB parses it as exactly one SELECT; else refuse."""
    text = sql.strip()
    if not text:
        raise AnalyticsRefused("sql is empty")
    if len(text) > MAX_SQL_CHARS:
        raise AnalyticsRefused(f"sql is longer than {MAX_SQL_CHARS} characters")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise AnalyticsRefused(f"sql does not parse: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise AnalyticsRefused(
            f"sql must be exactly one statement, got {len(statements)}; remove the extra statements"
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise AnalyticsRefused(
            f"only read-only SELECT queries are allowed (this is a {kind.name} statement); "
            f"query the views {', '.join(QUERYABLE)}"
        )
    return text


def run_query(
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    limit: int = DEFAULT_ROW_LIMIT,
    time_limit: float = DEFAULT_TIME_LIMIT,
    memory_mb: int = DEFAULT_MEMORY_MB,
    memory_setting: str = MEMORY_SETTING,
) -> QueryResult:
    """Run one checked SELECT over the records behind `conn` (a cursor owned by the caller
    and not shared) in a sandbox process, within the row, time and memory limits.

    `conn` only reads: the records' shape, then the columns the sandbox asks for, in one
    read-only transaction (one snapshot for every table). The time limit covers everything,
    from starting the sandbox to its answer.
    """
    text = check_sql(sql)
    limits = Limits(limit, time_limit, memory_mb, memory_setting)
    started = time.perf_counter()
    deadline = started + limits.seconds
    conn.execute("BEGIN TRANSACTION READ ONLY")
    try:
        reply = _attempt(conn, text, limits, deadline, stream=True)
        if reply.get("kind") == "rescan":
            # The plan read the streamed table twice (DuckDB refused, no wrong rows): load
            # every table before the query runs instead.
            reply = _attempt(conn, text, limits, deadline, stream=False)
    finally:
        _rollback(conn)
    body = _answer(reply, limits)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return QueryResult(body["columns"], body["rows"], bool(body["truncated"]), elapsed_ms)


def _attempt(
    conn: duckdb.DuckDBPyConnection, sql: str, limits: Limits, deadline: float, *, stream: bool
) -> dict[str, Any]:
    """One sandbox process, one exchange: its answer or error message, or a refusal."""
    # The columns go to the sandbox as Arrow IPC. pyarrow is imported on the first query,
    # not with this module: the daemon imports this module at start (the HTTP routes) and
    # would otherwise carry ~55 MB of pyarrow that only SQL queries use (issue 13).
    import pyarrow as pa

    sandbox = _Sandbox.start(limits, conn, max(0.0, deadline - time.perf_counter()))
    try:
        return sandbox.exchange(conn, sql, stream=stream)
    except (OSError, EOFError, ValueError, duckdb.Error, pa.ArrowException) as exc:
        raise sandbox.failure(exc) from None
    finally:
        sandbox.stop()


def _answer(reply: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """The sandbox's answer, or the refusal its error stands for."""
    kind = reply.get("kind")
    if kind is None:
        return reply
    if kind == "memory":
        raise limits.memory_refusal(str(reply.get("error", "")))
    if kind == "too_big":
        raise AnalyticsRefused(_too_big())
    raise AnalyticsRefused(str(reply.get("error")))


def _too_big() -> str:
    return (
        f"the answer is larger than {MAX_ANSWER_BYTES >> 20} MiB; "
        "select fewer or narrower rows (limit)"
    )


def records_shape(conn: duckdb.DuckDBPyConnection) -> dict[str, list[list[str]]]:
    """The queryable tables' columns and DuckDB types, in table order."""
    rows = conn.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        f"AND table_name IN ({', '.join('?' * len(QUERYABLE))}) "
        "ORDER BY table_name, column_index",
        list(QUERYABLE),
    ).fetchall()
    shape: dict[str, list[list[str]]] = {}
    for table, column, kind in rows:
        shape.setdefault(table, []).append([column, kind])
    return shape


def records_rows(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """DuckDB's estimate of each queryable table's rows (it picks the table to stream); a
    view's exact count."""
    rows = conn.execute(
        "SELECT table_name, estimated_size FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()
    sizes = {str(table): int(size or 0) for table, size in rows if table in QUERYABLE}
    # Over the lake (`lunard.records.lake`) the tables are views of Parquet files, whose
    # footers hold the row counts: count(*) reads only those.
    views = conn.execute(
        "SELECT view_name FROM duckdb_views() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal"
    ).fetchall()
    for (view,) in views:
        if view in QUERYABLE and view not in sizes:
            counted = conn.execute(f"SELECT count(*) FROM {sql_sandbox.quote(view)}").fetchall()
            sizes[str(view)] = int(counted[0][0])
    return sizes


class _Sandbox:
    """One sandbox process and the deadline that kills it (see `lunard.records.sql_sandbox`)."""

    def __init__(
        self, process: subprocess.Popen[bytes], limits: Limits, seconds: float, workdir: str
    ) -> None:
        self.process = process
        self.workdir = workdir
        self.limits = limits
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._done = False
        self._timer: threading.Timer | None = None

    @classmethod
    def start(cls, limits: Limits, conn: duckdb.DuckDBPyConnection, seconds: float) -> _Sandbox:
        """Start the process and a timer that kills it after `seconds`.

        Its working directory is an empty one of its own: DuckDB creates `.tmp` there when
        a query tries to spill (which fails: no temp space), and relative paths lead nowhere.
        """
        workdir = tempfile.mkdtemp(prefix="lunard-analytics-")
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "lunard.records.sql_sandbox"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={k: v for k, v in os.environ.items() if k in SANDBOX_ENV},
                cwd=workdir,
            )
        except OSError as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            raise InternalError(f"cannot start the analytics sandbox: {exc}") from exc
        sandbox = cls(process, limits, seconds, workdir)
        sandbox._timer = threading.Timer(seconds, sandbox._expire, [conn])
        sandbox._timer.daemon = True
        sandbox._timer.start()
        return sandbox

    def _expire(self, conn: duckdb.DuckDBPyConnection) -> None:
        # Under the lock: once `stop` has run, nothing interrupts `conn` any more (the
        # caller's ROLLBACK and its next statements must not be hit).
        with self._lock:
            if self._done:
                return
            self.expired = True
            self.process.kill()
            conn.interrupt()  # the copy may be running on `conn`

    def exchange(
        self, conn: duckdb.DuckDBPyConnection, sql: str, *, stream: bool
    ) -> dict[str, Any]:
        """Ask, send the columns the sandbox needs, return its answer (or error) message."""
        assert self.process.stdin is not None and self.process.stdout is not None
        shape = records_shape(conn)
        request = {
            "sql": sql,
            "limit": self.limits.rows,
            "time_limit": self.seconds,
            "memory_mb": self.limits.memory_mb,
            "max_answer_bytes": MAX_ANSWER_BYTES,
            "stream": stream,
            "tables": shape,
            "rows": records_rows(conn),
        }
        _write_line(self.process.stdin, request)
        reply = _read_line(self.process.stdout, 1 << 20)
        if "need" not in reply:
            return reply
        streamed = reply.get("stream")
        for table, columns in _checked_need(reply["need"], shape).items():
            if table == streamed:
                _stream_table(conn, self.process.stdin, table, columns)
            else:
                _send_table(conn, self.process.stdin, table, columns)
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()
        return _read_line(self.process.stdout, MAX_ANSWER_BYTES + 4096)

    def failure(self, exc: BaseException) -> AnalyticsRefused | InternalError:
        """What went wrong when the exchange broke off: the deadline, memory, or a bug."""
        code = self._wait()
        if self.expired:
            return AnalyticsRefused(f"query exceeded the time limit of {self.limits.seconds:g}s")
        if isinstance(exc, _TooBig):
            return AnalyticsRefused(_too_big())
        if code is not None and (code < 0 or code == sql_sandbox.MEMORY_EXIT):
            # Killed by the kernel's limits or aborted by a failed allocation: the sandbox
            # answers every error it can catch, so dying is running out of memory.
            return self.limits.memory_refusal(f"the query process ended with status {code}")
        if isinstance(exc, duckdb.Error):
            return AnalyticsRefused(f"query failed: {_first_line(exc)}")
        return InternalError(f"the analytics sandbox failed (status {code}): {exc}")

    def _wait(self) -> int | None:
        try:
            return self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """Cancel the deadline, end the process if it is still there, reap it."""
        with self._lock:
            self._done = True
        if self._timer is not None:
            self._timer.cancel()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


class _TooBig(ValueError):
    """A line from the sandbox longer than it may be."""


def _write_line(stream: IO[bytes], message: dict[str, Any]) -> None:
    stream.write(json.dumps(message).encode() + b"\n")
    stream.flush()


def _read_line(stream: IO[bytes], max_bytes: int) -> dict[str, Any]:
    line = stream.readline(max_bytes + 1)
    if not line.endswith(b"\n"):
        if len(line) > max_bytes:
            raise _TooBig("the sandbox's answer is too big")
        raise EOFError("the sandbox ended without answering")
    message: dict[str, Any] = json.loads(line)
    return message


def _checked_need(
    need: dict[str, list[str]], shape: dict[str, list[list[str]]]
) -> dict[str, list[str]]:
    """The sandbox names only records tables and their columns (it builds SQL from them)."""
    for table, columns in need.items():
        known = {name for name, _ in shape.get(table, [])}
        if not columns or not set(columns) <= known:
            raise ValueError(f"the sandbox asked for unknown columns of {table!r}: {columns}")
    return need


def _send_table(
    conn: duckdb.DuckDBPyConnection, stream: IO[bytes], table: str, columns: list[str]
) -> None:
    """Stream `columns` of `table` as one Arrow IPC stream, batch by batch."""
    import pyarrow.ipc  # on the first query only; see `_attempt`

    names = ", ".join(sql_sandbox.quote(c) for c in columns)
    reader = conn.sql(f"SELECT {names} FROM main.{sql_sandbox.quote(table)}").to_arrow_reader(
        EXPORT_BATCH_ROWS
    )
    with pyarrow.ipc.new_stream(stream, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


def _stream_table(
    conn: duckdb.DuckDBPyConnection, stream: IO[bytes], table: str, columns: list[str]
) -> None:
    """`_send_table` for the table the query reads as it arrives: the sandbox closes the
    pipe once it has its answer (a `LIMIT` reached), which ends the copy."""
    with contextlib.suppress(BrokenPipeError):
        _send_table(conn, stream, table, columns)


def _rollback(conn: duckdb.DuckDBPyConnection) -> None:
    # An interrupted copy may already have ended the transaction.
    with contextlib.suppress(duckdb.Error):
        conn.execute("ROLLBACK")


def _first_line(exc: BaseException) -> str:
    return sql_sandbox.first_line(str(exc)) if str(exc).strip() else type(exc).__name__
