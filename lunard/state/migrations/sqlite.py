"""The SQLite state schema's migrations. Append only: a released migration never changes.

Every version has its twin in `postgres.py` (same number, same meaning)."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE functions (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            retention_days INTEGER,
            cron_schedule TEXT,
            cron_status TEXT DEFAULT 'paused',
            save_response INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX idx_functions_disabled ON functions(disabled);
        CREATE INDEX idx_functions_created_at ON functions(created_at);

        CREATE TABLE function_versions (
            id TEXT PRIMARY KEY,
            function_id TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            code TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            created_by TEXT,
            is_active INTEGER NOT NULL DEFAULT 0,
            UNIQUE (function_id, version)
        );
        CREATE INDEX idx_function_versions_function_id ON function_versions(function_id);
        CREATE INDEX idx_function_versions_active ON function_versions(function_id, is_active);

        -- env and KV have no foreign key, like upstream: they survive a function's deletion.
        CREATE TABLE env_vars (
            function_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (function_id, key)
        );

        -- The global KV namespace is function_id = ''.
        CREATE TABLE kv_store (
            function_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (function_id, key)
        );

        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            last_used INTEGER,
            revoked INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX idx_api_tokens_token_hash ON api_tokens(token_hash);

        -- Dashboard sessions (DECISIONS 7): the cookie holds an opaque token, we keep its hash.
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        );
        """,
    ),
    (
        2,
        """
        -- DECISIONS 17: a function's own cap on the workers its calls hold at once
        -- (NULL: none, 0: its runs are refused).
        ALTER TABLE functions ADD COLUMN max_concurrency INTEGER;
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
            scheduled_at INTEGER NOT NULL,
            node_id TEXT NOT NULL,
            execution_id TEXT,
            claimed_at INTEGER NOT NULL,
            lease_until INTEGER NOT NULL,
            finished_at INTEGER,
            PRIMARY KEY (function_id, scheduled_at)
        );
        CREATE TABLE device_requests (
            device_code_hash TEXT PRIMARY KEY,
            user_code TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL DEFAULT 'pending',
            claimed INTEGER NOT NULL DEFAULT 0,
            collected INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
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
            slice_start INTEGER NOT NULL,
            slice_end INTEGER NOT NULL,
            node_id TEXT NOT NULL,
            claimed_at INTEGER NOT NULL,
            lease_until INTEGER NOT NULL,
            finished_at INTEGER,
            row_count INTEGER,
            PRIMARY KEY (table_name, slice_start)
        );
        CREATE INDEX idx_export_claims_unfinished ON export_claims(table_name, finished_at);
        """,
    ),
]
