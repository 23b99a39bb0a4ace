"""`lunard analytics`: the canned reports, ad-hoc SQL and Parquet export from a terminal.

It reads a stopped daemon's `records.duckdb` in `--data-dir DIR` (default `$DATA_DIR` or
`./data`), opened read-only. A running daemon holds the file's lock; the command then says
so. For a running daemon use the client: `lunar analytics overview|function ID|query SQL`
(`lunar --server URL ...`).

Output is aligned tables, or the API's JSON with `--json`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from lunard.errors import LunardError
from lunard.records import reports, sql_runner
from lunard.records.instance import SAFE_CONFIG
from lunard.records.sink import RECORDS_FILE
from lunard.state.connection import read_file
from lunard.state.db import STATE_FILE
from lunard.state.errors import StateError
from lunard.state.functions import function_names

EXPORT_TABLES = {
    "executions": "created_at, id",
    "logs": "created_at, execution_id, seq",
    "ai_requests": "created_at, execution_id, seq",
    "email_requests": "created_at, execution_id, seq",
}


class CliError(Exception):
    """A failure to report on stderr with exit code 1."""


# --------------------------------------------------------------------------- parser


def add_parser(commands: Any) -> None:
    """Add `analytics` and its subcommands to the `lunard` parser's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where the records are")
    # Moved to the client; kept hidden so old scripts get a pointer instead of a usage error.
    where.add_argument("--server", help=argparse.SUPPRESS)
    where.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data dir of a stopped daemon (default $DATA_DIR or ./data)",
    )
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")

    parser = commands.add_parser("analytics", help="reports, SQL and export over execution records")
    sub = parser.add_subparsers(dest="analytics_command", required=True)
    overview = sub.add_parser("overview", parents=[common], help="every function, with totals")
    overview.add_argument("--window", default="24h", choices=list(reports.WINDOWS))
    function = sub.add_parser("function", parents=[common], help="one function's report")
    function.add_argument("function_id")
    function.add_argument("--window", default="24h", choices=list(reports.WINDOWS))
    query = sub.add_parser("query", parents=[common], help="one read-only SELECT")
    query.add_argument("sql")
    query.add_argument("--limit", type=int, default=sql_runner.DEFAULT_ROW_LIMIT)
    query.add_argument("--timeout", type=float, default=sql_runner.DEFAULT_TIME_LIMIT)
    query.add_argument(
        "--memory-mb",
        type=int,
        default=sql_runner.DEFAULT_MEMORY_MB,
        help="memory the query may use, MiB (with --data-dir; a daemon uses its own setting)",
    )
    export = sub.add_parser(
        "export", parents=[common], help="write the records as Parquet files (stopped daemon)"
    )
    export.add_argument("--format", choices=["parquet"], default="parquet")
    export.add_argument("directory", type=Path)


def main(args: argparse.Namespace) -> int:
    """Run one `lunard analytics` command; 0 on success, 1 with a message on stderr."""
    try:
        if args.server:
            raise CliError(
                f"moved: run 'lunar --server {args.server} analytics {args.analytics_command} ...'"
            )
        data = _local(args)
    except (CliError, LunardError) as exc:
        print(f"lunard analytics: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(_render(args.analytics_command, data))
    return 0


# --------------------------------------------------------------------------- on a data dir


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return Path(args.data_dir)
    return Path(os.environ.get("DATA_DIR") or "./data")


def open_records(data_dir: Path, *, safe: bool = True) -> duckdb.DuckDBPyConnection:
    """`records.duckdb` of a stopped daemon, read-only (with `SAFE_CONFIG` unless exporting)."""
    path = data_dir / RECORDS_FILE
    if not path.is_file():
        raise CliError(f"no records database at {path} (is --data-dir the daemon's data dir?)")
    try:
        return duckdb.connect(str(path), read_only=True, config=SAFE_CONFIG if safe else {})
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            pid = re.search(r"PID (\d+)", str(exc))
            holder = f" (PID {pid.group(1)})" if pid else ""
            raise CliError(
                f"{path} is in use by a running lunard{holder}; query it with "
                "'lunar analytics ...' (lunar --server URL), or stop the daemon first"
            ) from None
        raise CliError(f"cannot open {path}: {exc}") from None
    except duckdb.Error as exc:
        raise CliError(f"cannot open {path}: {exc}") from None


def _function_names(data_dir: Path) -> dict[str, str]:
    path = data_dir / STATE_FILE
    if not path.is_file():
        return {}
    try:
        return read_file(path, function_names)
    except StateError:
        return {}  # names are a nicety; the records alone answer the question


def _local(args: argparse.Namespace) -> Any:
    data_dir = _data_dir(args)
    command = args.analytics_command
    if command == "export":
        return export(data_dir, args.directory)
    conn = open_records(data_dir)
    try:
        now = time.time()
        if command == "overview":
            report = reports.overview(conn, args.window, now)
            names = _function_names(data_dir)
            for row in report["functions"]:
                row["name"] = names.get(row["function_id"])
            return report
        if command == "function":
            return reports.function_report(conn, args.function_id, args.window, now)
        result = sql_runner.run_query(
            conn,
            args.sql,
            limit=args.limit,
            time_limit=args.timeout,
            memory_mb=args.memory_mb,
            memory_setting="--memory-mb",
        )
        return result.to_json()
    finally:
        conn.close()


def export(data_dir: Path, directory: Path) -> dict[str, Any]:
    """Write every records table to `<directory>/<table>.parquet`; return rows per file."""
    directory.mkdir(parents=True, exist_ok=True)
    conn = open_records(data_dir, safe=False)  # COPY writes files: not for users' SQL
    files = []
    try:
        for table, order in EXPORT_TABLES.items():
            target = directory / f"{table}.parquet"
            conn.execute(
                f"COPY (SELECT * FROM {table} ORDER BY {order}) TO '{_sql_string(target)}' "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            files.append({"table": table, "rows": int(row[0]) if row else 0, "file": str(target)})
    finally:
        conn.close()
    return {"files": files}


def _sql_string(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")


# --------------------------------------------------------------------------- tables


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as aligned columns: numbers right-aligned, None as `-`."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float) or r[i] is None for r in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


_FIGURE_HEADERS = (
    "calls",
    "errors",
    "err %",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "http",
    "cron",
)


def _figure_cells(row: dict[str, Any]) -> list[Any]:
    d = row["duration_ms"]
    return [
        row["invocations"],
        row["errors"],
        round(row["error_rate"] * 100, 2),
        d["p50"],
        d["p95"],
        d["p99"],
        d["max"],
        row["triggers"]["http"],
        row["triggers"]["cron"],
    ]


def _errors_table(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "no errors"
    rows = [[e["count"], e["latest_execution_id"], e["message"][:80]] for e in errors]
    return table(["count", "latest execution", "error"], rows)


def _render(command: str, data: dict[str, Any]) -> str:
    if command == "overview":
        rows = [[f["function_id"], f.get("name"), *_figure_cells(f)] for f in data["functions"]]
        rows.append(
            ["TOTAL", f"{data['totals']['functions']} functions", *_figure_cells(data["totals"])]
        )
        return "\n\n".join(
            [
                f"window {data['window']} (last {data['window']} before {_iso(data['to'])})",
                table(["function", "name", *_FIGURE_HEADERS], rows),
                "top errors\n" + _errors_table(data["totals"]["top_errors"]),
            ]
        )
    if command == "function":
        t = data["throughput"]
        summary = table(
            ["function", *_FIGURE_HEADERS], [[data["function_id"], *_figure_cells(data)]]
        )
        rates = table(
            ["avg/min", "avg/hour", "peak/min"],
            [[t["avg_per_minute"], t["avg_per_hour"], t["peak_per_minute"]]],
        )
        busy = [b for b in t["per_hour"] if b["invocations"]]
        hours = table(
            ["hour (UTC)", "calls", "errors"],
            [[_iso(b["start"]), b["invocations"], b["errors"]] for b in busy],
        )
        return "\n\n".join(
            [
                f"window {data['window']} before {_iso(data['to'])}",
                summary,
                rates,
                "busy hours\n" + (hours if busy else "none"),
                "top errors\n" + _errors_table(data["top_errors"]),
            ]
        )
    if command == "export":
        return table(
            ["table", "rows", "file"], [[f["table"], f["rows"], f["file"]] for f in data["files"]]
        )
    names = [c["name"] for c in data["columns"]]
    count = data["row_count"]
    footer = f"({count} row{'' if count == 1 else 's'}{', truncated' if data['truncated'] else ''})"
    return table(names, data["rows"]) + "\n" + footer


def _iso(unix: int | None) -> str:
    if unix is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(unix))
