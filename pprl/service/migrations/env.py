"""alembic's environment for the service: migrations run on the connection the server
hands over (``config.attributes["connection"]``), never from an alembic.ini."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
