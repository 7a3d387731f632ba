"""Alembic environment: migrations run synchronously at start (or via `balansebot migrate`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import bot.storage.tables  # noqa: F401 - registers the tables on SQLModel.metadata

# Replicas starting together must not migrate at the same time; PostgreSQL serialises them here.
MIGRATION_LOCK_ID = 0x6261_6C61  # "bala"


def run_migrations_online() -> None:
    """Upgrade the database named in the Alembic config."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None  # noqa: S101 - set by bot.storage.migrate
    engine = create_engine(url)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=SQLModel.metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                connection.commit()
    engine.dispose()


run_migrations_online()
