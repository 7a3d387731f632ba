"""Alembic environment: migrations run synchronously at start (or via `balansebot migrate`)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import bot.storage.tables  # noqa: F401 - registers the tables on SQLModel.metadata

# Replicas starting together must not migrate at the same time; PostgreSQL serialises them here.
MIGRATION_LOCK_ID = 0x6261_6C61  # "bala"


def run_migrations_online() -> None:
    """Upgrade the database named in the Alembic config."""
    url = context.config.get_main_option("sqlalchemy.url") or _url_from_environment()
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


def _url_from_environment() -> str:
    """DATABASE_URL (or .env) when run from alembic.ini; `balansebot migrate` passes the URL itself."""
    from bot.settings import DatabaseSettings  # only here: the bot's own runs never need it
    from bot.storage.database import sync_url

    return sync_url(DatabaseSettings().database_url).render_as_string(hide_password=False)


if context.config.config_file_name is not None:  # alembic.ini: its logging, as Alembic's CLI does
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)
run_migrations_online()
