"""Settings of the records database's DuckDB instance (the sink opens the file with them).

Analytics runs users' SQL on cursors of this instance (`lunard.analytics_sql`), and DuckDB
settings are per instance: no file or network access from SQL, no extension loading, no
SET/PRAGMA, bounded memory and threads. The sink needs none of what is switched off.
"""

from __future__ import annotations

from typing import Any

SAFE_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "python_enable_replacements": False,
    "allow_unsigned_extensions": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}


def instance_config(*, memory_mb: int, threads: int) -> dict[str, Any]:
    """The instance settings for the records database: `SAFE_CONFIG` plus resource bounds."""
    return {**SAFE_CONFIG, "memory_limit": f"{memory_mb}MB", "threads": threads}
