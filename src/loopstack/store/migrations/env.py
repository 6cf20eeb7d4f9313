"""Alembic environment: runs on the connection Loopstack hands it (see store/migrate.py)."""

from __future__ import annotations

from alembic import context

from loopstack.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through loopstack.store.migrate (loopstack db upgrade)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
# The caller owns the transaction; Alembic's own begin_transaction nests inside it.
with context.begin_transaction():
    context.run_migrations()
