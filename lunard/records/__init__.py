"""The records side: every execution, log line and AI/email request, in DuckDB.

`journal` (durability before the answer) → `sink` (the one actor holding the records
connection) → `store` (schema, migrations, reads); `reports` (canned analytics),
`sql_runner` + `sql_sandbox` (ad-hoc SQL in a killable process), `instance` (DuckDB
settings), `cli` (offline `lunard analytics --data-dir`).
"""
