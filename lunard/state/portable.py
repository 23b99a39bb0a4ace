"""A function as one portable document: reading it out of the state database and writing
it back in as a new function (issue 14 part 4).

`PortableFunction` is the validated document; `lunard.http.portable` parses JSON into it.
Everything here is plain SQL over a state `Conn` (per-dialect text), run by
`StateStore.call` in one transaction, so an import that fails leaves nothing behind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from lunard import __version__
from lunard.ids import new_id, version_id
from lunard.state.dialect import Conn, Sql, placeholder, stored
from lunard.state.function_sql import UPSERT_ENV, UPSERT_KV
from lunard.state.functions import env_vars, kv_entries, require_function
from lunard.state.runtime import announce

FORMAT_VERSION = 1
SETTINGS = (
    "disabled",
    "retention_days",
    "cron_schedule",
    "cron_status",
    "save_response",
    "max_concurrency",
)
_BOOL_SETTINGS = ("disabled", "save_response")
_VERSIONS = Sql(
    "SELECT * FROM function_versions WHERE function_id = ? ORDER BY version",
    "SELECT * FROM function_versions WHERE function_id = %s ORDER BY version",
)
_INSERT_VERSION = Sql(
    "INSERT INTO function_versions "
    "(id, function_id, version, code, created_at, created_by, is_active) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "INSERT INTO function_versions "
    "(id, function_id, version, code, created_at, created_by, is_active) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
)


@dataclass(frozen=True, slots=True)
class PortableVersion:
    """One version as exported: its number, code, origin and whether it is the active one."""

    version: int
    code: str
    created_at: int
    created_by: str | None
    is_active: bool


@dataclass(frozen=True, slots=True)
class PortableFunction:
    """A validated import document. `env_vars` is None when the document carries none."""

    name: str
    description: str | None
    settings: dict[str, Any]
    versions: tuple[PortableVersion, ...]
    kv: dict[str, str] = field(default_factory=dict)
    env_vars: dict[str, str] | None = None


def export_function(conn: Conn, function_id: str, *, include_env: bool) -> dict[str, Any]:
    """The function's export document (format 1); NotFound `Function not found` if unknown.

    Every setting is written, null ones too, so an import reproduces NULL columns exactly.
    Env vars are left out unless `include_env` (they often hold secrets).
    """
    row = require_function(conn, function_id)
    settings = {name: bool(row[name]) if name in _BOOL_SETTINGS else row[name] for name in SETTINGS}
    versions = [
        {
            "version": v["version"],
            "code": v["code"],
            "created_at": v["created_at"],
            "created_by": v["created_by"],
            "is_active": bool(v["is_active"]),
        }
        for v in conn.execute(_VERSIONS.of(conn), (function_id,))
    ]
    document: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "lunard_version": __version__,
        "exported_at": int(time.time()),
        "source_id": function_id,
        "name": row["name"],
        "description": row["description"],
        "settings": settings,
        "versions": versions,
        "kv": kv_entries(conn, function_id),
    }
    if include_env:
        document["env_vars"] = env_vars(conn, function_id)
    return document


def import_function(conn: Conn, doc: PortableFunction) -> str:
    """Create a new function from `doc` (new id; versions keep their numbers, code, dates
    and active mark; settings, KV and env vars as given); return the new id."""
    now = int(time.time())
    function_id = new_id(now)
    settings = {
        name: int(value) if isinstance(value, bool) else value
        for name, value in doc.settings.items()
    }
    columns = ", ".join(SETTINGS)
    mark = placeholder(conn)
    marks = ", ".join([mark] * (5 + len(SETTINGS)))
    conn.execute(
        f"INSERT INTO functions (id, name, description, created_at, updated_at, {columns}) "
        f"VALUES ({marks})",
        (
            function_id,
            doc.name,
            doc.description,
            now,
            now,
            *(settings[name] for name in SETTINGS),
        ),
    )
    conn.executemany(
        _INSERT_VERSION.of(conn),
        [
            (
                version_id(function_id, v.version),
                function_id,
                v.version,
                v.code,
                v.created_at,
                v.created_by,
                int(v.is_active),
            )
            for v in doc.versions
        ],
    )
    # env and KV rows outlive a deleted function (like upstream); a new id has none, but
    # replace rather than insert so an id reused by chance cannot fail the import.
    conn.executemany(
        UPSERT_KV.of(conn),
        [(function_id, stored(conn, k), stored(conn, v)) for k, v in doc.kv.items()],
    )
    conn.executemany(
        UPSERT_ENV.of(conn),
        [(function_id, stored(conn, k), stored(conn, v)) for k, v in (doc.env_vars or {}).items()],
    )
    # A new id is in no cache; other nodes' schedulers must learn of its schedule.
    announce(conn, "schedule", function_id)
    return function_id
