"""Alembic environment: runs on the connection handed over by ``migrate.ensure_schema``."""

from __future__ import annotations

from alembic import context

from flywheel_ml.backends.sql.migrate import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
