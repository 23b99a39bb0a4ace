"""Settings of the DuckDB instances lunard opens: the records database and analytics' sandbox.

DuckDB settings are per instance, and these are enforced by the engine, not by filters:
no file or network access from SQL, no extension installs or loads (signed, unsigned or
community), no replacement scans of Python objects, and the configuration locked (`SET` and
`PRAGMA` fail). The sink needs none of what is switched off.

Resource bounds (`instance_config`):
- `memory_limit` is what DuckDB's buffer manager may hold (MiB, as the setting
  `records_memory_mb` says). Allocations outside it (a function's result vectors, e.g.
  `repeat('x', 1e9)`) are not bounded by it; that is why users' SQL runs in a process of
  its own (`lunard.records.sql_sandbox`) whose data segment the kernel bounds.
- `threads`: the worker threads of one instance (`records_threads`).
- No spilling: `max_temp_directory_size` 0, so a large intermediate result fails with
  DuckDB's out-of-memory error (naming that setting) instead of filling the disk (the
  default allows 90% of the free space). Only lunard's own SQL runs on the records instance
  (batched writes, deletes, the canned reports, analytics' column copies), and none of it
  needs to spill (measured: the reports over 3,000,000 executions run within 256 MiB).

Left at DuckDB's defaults, measured for issue 13 (the daemon's RSS): `allocator_flush_threshold`
16 MiB, `allocator_background_threads`, `checkpoint_threshold` 2 MiB, and a `malloc_trim(0)`
after 240,000 executions written in sink-sized batches each changed the writer's RSS by
1 MiB or less (about 120 MiB, of which ~63 MiB are file pages, mostly DuckDB's own code;
DuckDB's `duckdb_memory()` then holds under 9 MiB). The sink's batches are small; nothing
it runs peaks near the flush threshold.

Not settable here:
- `temp_directory` (it stays `<records>.duckdb.tmp`; DuckDB creates it, empty, when a spill
  is attempted). DuckDB refuses to change it once external access is off, and it does not
  apply the settings in the order given: measured, `{"temp_directory": "", **SAFE_CONFIG}`
  fails with "Modifying the temp_directory has been disabled by configuration" and other
  key sets succeed or fail alike. `max_temp_directory_size` has no such check.
- `allowed_directories` and `allowed_paths` (DuckDB refuses them before the database is
  started: "Cannot change/set allowed_directories before the database is started"). They
  are empty by default and the locked configuration keeps them so, except that DuckDB
  itself adds a database's own files (`records.duckdb`, its `.wal`) to `allowed_paths`:
  SQL on the records instance can always read those files. Users' SQL therefore never
  runs on it.
"""

from __future__ import annotations

from typing import Any

import duckdb

SAFE_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "python_enable_replacements": False,
    "allow_unsigned_extensions": False,
    "allow_community_extensions": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}


def instance_config(*, memory_mb: int, threads: int) -> dict[str, Any]:
    """`SAFE_CONFIG` plus resource bounds: `memory_mb` MiB, `threads`, no spilling."""
    return {
        **SAFE_CONFIG,
        "memory_limit": f"{memory_mb}MiB",
        "threads": threads,
        "max_temp_directory_size": "0B",
    }


def lake_config(*, memory_mb: int, threads: int) -> dict[str, Any]:
    """`instance_config` for a DuckDB that reads or writes the lake (`lunard.records.lake`),
    without the two settings `wall_in` must set after the database has started (DuckDB
    refuses `allowed_directories` in `connect(config=…)`, and once external access is off
    or the configuration locked it can no longer be set)."""
    config = instance_config(memory_mb=memory_mb, threads=threads)
    del config["enable_external_access"], config["lock_configuration"]
    # No temp directory: DuckDB would add `<cwd>/.tmp/` to the allowed directories
    # (measured), making files there readable beside the lake. Nothing spills anyway.
    config["temp_directory"] = ""
    return config


def wall_in(conn: duckdb.DuckDBPyConnection, directory: str) -> None:
    """Allow file access under `directory` only, in the one order DuckDB accepts (scale-out
    design §4.2): `allowed_directories`, then external access off, then the configuration
    locked. Afterwards `read_csv('/etc/passwd')`, a Parquet file elsewhere, `COPY … TO`
    elsewhere and any `SET` fail; reading (and writing) under `directory` works."""
    conn.execute("SET allowed_directories = ?", [[directory.rstrip("/") + "/"]])
    conn.execute("SET enable_external_access = false")
    conn.execute("SET lock_configuration = true")
