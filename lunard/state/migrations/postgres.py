"""The PostgreSQL state schema's migrations: the twins of `sqlite.py`, version for version.

Append only, like the SQLite list. The deliberate differences (scale-out design §2.2):
- `seq BIGINT GENERATED ALWAYS AS IDENTITY` on `functions` and `api_tokens`, the tie-break
  order SQLite gets from `rowid`;
- env and KV keys and values are `BYTEA`: Lua strings may hold NUL and invalid UTF-8, which
  PostgreSQL `text` refuses (the API layer decodes them like SQLite's TEXT/BLOB mix);
- Unix times are `BIGINT`; booleans stay `INTEGER` 0/1, so the row-to-JSON code is shared.

`migrate` applies the pending ones in one transaction under `pg_advisory_xact_lock`, so N
nodes starting at once never race (the lock is transaction-scoped: fine behind PgBouncer).
No statement here may contain a `;` other than as a separator (they are split on it).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from lunard import transactions

# pg_advisory_xact_lock key of the state migrations ("lunard" in ASCII, as an integer).
MIGRATION_LOCK = 0x6C756E617264

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE functions (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            retention_days INTEGER,
            cron_schedule TEXT,
            cron_status TEXT DEFAULT 'paused',
            save_response INTEGER NOT NULL DEFAULT 0,
            seq BIGINT GENERATED ALWAYS AS IDENTITY
        );
        CREATE INDEX idx_functions_disabled ON functions(disabled);
        CREATE INDEX idx_functions_created_at ON functions(created_at);

        CREATE TABLE function_versions (
            id TEXT PRIMARY KEY,
            function_id TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            code TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            created_by TEXT,
            is_active INTEGER NOT NULL DEFAULT 0,
            UNIQUE (function_id, version)
        );
        CREATE INDEX idx_function_versions_function_id ON function_versions(function_id);
        CREATE INDEX idx_function_versions_active ON function_versions(function_id, is_active);

        -- env and KV have no foreign key, like upstream: they survive a function's deletion.
        CREATE TABLE env_vars (
            function_id TEXT NOT NULL,
            key BYTEA NOT NULL,
            value BYTEA NOT NULL,
            PRIMARY KEY (function_id, key)
        );

        -- The global KV namespace is function_id = ''.
        CREATE TABLE kv_store (
            function_id TEXT NOT NULL,
            key BYTEA NOT NULL,
            value BYTEA NOT NULL,
            PRIMARY KEY (function_id, key)
        );

        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            last_used BIGINT,
            revoked INTEGER NOT NULL DEFAULT 0,
            seq BIGINT GENERATED ALWAYS AS IDENTITY
        );

        -- Dashboard sessions (DECISIONS 7): the cookie holds an opaque token, we keep its hash.
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
        )
        """,
    ),
    (
        2,
        """
        -- DECISIONS 17: a function's own cap on the workers its calls hold at once
        -- (NULL: none, 0: its runs are refused).
        ALTER TABLE functions ADD COLUMN max_concurrency INTEGER
        """,
    ),
    (
        3,
        """
        -- Scale-out (docs/scale-out.md): a cron slot is run by the one node whose claim
        -- row went in (unique per function and slot), and device-flow requests are shared by
        -- every node (no raw token stored: it is created when the CLI collects it).
        CREATE TABLE cron_runs (
            function_id TEXT NOT NULL,
            scheduled_at BIGINT NOT NULL,
            node_id TEXT NOT NULL,
            execution_id TEXT,
            claimed_at BIGINT NOT NULL,
            lease_until BIGINT NOT NULL,
            finished_at BIGINT,
            PRIMARY KEY (function_id, scheduled_at)
        );
        CREATE TABLE device_requests (
            device_code_hash TEXT PRIMARY KEY,
            user_code TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL DEFAULT 'pending',
            claimed INTEGER NOT NULL DEFAULT 0,
            collected INTEGER NOT NULL DEFAULT 0,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
        )
        """,
    ),
    (
        4,
        """
        -- Scale-out (docs/scale-out.md): each closed slice [slice_start, slice_end) of each
        -- records table is exported to the lake (lake_url) by the one node whose claim went
        -- in. A claim whose node died is taken over once its lease has expired.
        CREATE TABLE export_claims (
            table_name TEXT NOT NULL,
            slice_start BIGINT NOT NULL,
            slice_end BIGINT NOT NULL,
            node_id TEXT NOT NULL,
            claimed_at BIGINT NOT NULL,
            lease_until BIGINT NOT NULL,
            finished_at BIGINT,
            row_count BIGINT,
            PRIMARY KEY (table_name, slice_start)
        );
        CREATE INDEX idx_export_claims_unfinished ON export_claims(table_name, finished_at)
        """,
    ),
]


def schema_version(conn: Any) -> int:
    """The applied version (0 for an empty database); `conn` is a raw psycopg connection."""
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0])


def migrate(conn: Any) -> int:
    """Apply the pending migrations on a raw (non-autocommit) psycopg connection, in one
    transaction under the advisory lock, so nodes starting together apply each version once;
    return the version. Raises `SchemaTooNew`."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        return transactions.migrate(
            conn,
            MIGRATIONS,
            what="state database",
            applied_at_type="BIGINT",
            record=lambda version: (
                "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                (version, int(time.time())),
            ),
            step=contextlib.nullcontext,
        )
