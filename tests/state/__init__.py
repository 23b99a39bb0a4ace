"""The state backend contract: every test runs on SQLite and on PostgreSQL."""
