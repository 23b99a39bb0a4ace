"""The SQL of `lunard.state.functions`, each statement in both dialects.

The SQLite and PostgreSQL texts differ in their placeholders (`?` / `%s`), in the
tie-break order (`rowid` / the `seq` identity column) and in upserts (`INSERT OR REPLACE`
/ `ON CONFLICT ... DO UPDATE`); nothing is rewritten at run time.
"""

from __future__ import annotations

from lunard.state.dialect import Sql

FUNCTION = Sql(
    "SELECT * FROM functions WHERE id = ?",
    "SELECT * FROM functions WHERE id = %s",
)
ACTIVE_VERSION = Sql(
    "SELECT * FROM function_versions WHERE function_id = ? AND is_active = 1 ORDER BY "
    "version DESC LIMIT 1",
    "SELECT * FROM function_versions WHERE function_id = %s AND is_active = 1 ORDER "
    "BY version DESC LIMIT 1",
)
ENV_VARS = Sql(
    "SELECT key, value FROM env_vars WHERE function_id = ? ORDER BY key",
    "SELECT key, value FROM env_vars WHERE function_id = %s ORDER BY key",
)
KV_ENTRIES = Sql(
    "SELECT key, value FROM kv_store WHERE function_id = ? ORDER BY key",
    "SELECT key, value FROM kv_store WHERE function_id = %s ORDER BY key",
)
INSERT_FUNCTION = Sql(
    "INSERT INTO functions (id, name, description, created_at, updated_at, "
    "max_concurrency) VALUES (?, ?, ?, ?, ?, ?)",
    "INSERT INTO functions (id, name, description, created_at, updated_at, "
    "max_concurrency) VALUES (%s, %s, %s, %s, %s, %s)",
)
DELETE_FUNCTION = Sql(
    "DELETE FROM functions WHERE id = ?",
    "DELETE FROM functions WHERE id = %s",
)
DELETE_ENV = Sql(
    "DELETE FROM env_vars WHERE function_id = ?",
    "DELETE FROM env_vars WHERE function_id = %s",
)
INSERT_ENV = Sql(
    "INSERT INTO env_vars (function_id, key, value) VALUES (?, ?, ?)",
    "INSERT INTO env_vars (function_id, key, value) VALUES (%s, %s, %s)",
)
DELETE_KV = Sql(
    "DELETE FROM kv_store WHERE function_id = ?",
    "DELETE FROM kv_store WHERE function_id = %s",
)
MAX_VERSION = Sql(
    "SELECT COALESCE(MAX(version), 0) FROM function_versions WHERE function_id = ?",
    "SELECT COALESCE(MAX(version), 0) FROM function_versions WHERE function_id = %s",
)
DEACTIVATE = Sql(
    "UPDATE function_versions SET is_active = 0 WHERE function_id = ?",
    "UPDATE function_versions SET is_active = 0 WHERE function_id = %s",
)
ACTIVATE = Sql(
    "UPDATE function_versions SET is_active = 1 WHERE id = ?",
    "UPDATE function_versions SET is_active = 1 WHERE id = %s",
)
INSERT_VERSION = Sql(
    "INSERT INTO function_versions (id, function_id, version, code, created_at, "
    "is_active) VALUES (?, ?, ?, ?, ?, 1)",
    "INSERT INTO function_versions (id, function_id, version, code, created_at, "
    "is_active) VALUES (%s, %s, %s, %s, %s, 1)",
)
COUNT_VERSIONS = Sql(
    "SELECT COUNT(*) FROM function_versions WHERE function_id = ?",
    "SELECT COUNT(*) FROM function_versions WHERE function_id = %s",
)
VERSION_PAGE = Sql(
    "SELECT * FROM function_versions WHERE function_id = ? ORDER BY version DESC LIMIT ? OFFSET ?",
    "SELECT * FROM function_versions WHERE function_id = %s ORDER BY version DESC "
    "LIMIT %s OFFSET %s",
)
VERSION_BY_NUMBER = Sql(
    "SELECT * FROM function_versions WHERE function_id = ? AND version = ?",
    "SELECT * FROM function_versions WHERE function_id = %s AND version = %s",
)
VERSION_OF = Sql(
    "SELECT * FROM function_versions WHERE id = ? AND function_id = ?",
    "SELECT * FROM function_versions WHERE id = %s AND function_id = %s",
)
DELETE_VERSION = Sql(
    "DELETE FROM function_versions WHERE id = ?",
    "DELETE FROM function_versions WHERE id = %s",
)
FUNCTION_PAGE = Sql(
    "SELECT * FROM functions ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
    "SELECT * FROM functions ORDER BY created_at DESC, seq DESC LIMIT %s OFFSET %s",
)
UPSERT_KV = Sql(
    "INSERT OR REPLACE INTO kv_store (function_id, key, value) VALUES (?, ?, ?)",
    "INSERT INTO kv_store (function_id, key, value) VALUES (%s, %s, %s) "
    "ON CONFLICT (function_id, key) DO UPDATE SET value = excluded.value",
)
UPSERT_ENV = Sql(
    "INSERT OR REPLACE INTO env_vars (function_id, key, value) VALUES (?, ?, ?)",
    "INSERT INTO env_vars (function_id, key, value) VALUES (%s, %s, %s) "
    "ON CONFLICT (function_id, key) DO UPDATE SET value = excluded.value",
)
