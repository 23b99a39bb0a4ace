"""The records side: every execution, log line and AI/email request, in DuckDB.

`journal` (durability before the answer) → `sink` (the one actor holding the records
connection; `on_cursor` hands out read cursors) → `writes` (batches in, the journal
replayed, deletes, on the sink's thread); `schema` (one column list per table: the DDL and
migrations, the Arrow batches, the read columns), `store` (the API's reads); `reports`
(canned analytics), `sql_runner` + `sql_sandbox` (ad-hoc SQL in a killable process),
`instance` (DuckDB settings), `cli` (offline `lunard analytics --data-dir`).

With `records_url` (a cluster) the records live in PostgreSQL instead: `pg_sink` (the sink
actor there: the same messages, `COPY` group commits, a call released once its record is
committed) → `pg_writes` (COPY, deletes, retention, journal replay), `pg_schema` (the same
column lists as PostgreSQL DDL: day partitions, keys, migrations under an advisory lock),
`pg_store` (the API's reads, the same JSON as `store`). Only a cluster node imports them.
"""
