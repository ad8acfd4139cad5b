"""Storage backends: SQL stores (SQLite, PostgreSQL), the content-addressed object store."""
