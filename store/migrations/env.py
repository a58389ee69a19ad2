"""Alembic environment: migrates the database named by the ``sqlalchemy.url`` the Store passes in."""

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

import store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata

connectable = config.attributes.get("connection")
if connectable is None:
    section = config.get_section(config.config_ini_section) or {}
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connectable, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
