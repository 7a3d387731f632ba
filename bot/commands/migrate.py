"""`balansebot migrate`: bring the database to the newest schema, show where it is, or step back."""

from __future__ import annotations

import argparse
import sys

from alembic import command
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import DatabaseSettings, describe_settings_error
from bot.staff_words import say
from bot.storage.database import database_unreachable
from bot.storage.migrate import alembic_config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        "migrate", help=say("upgrade the database schema (serve does it at start), or step back")
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=("upgrade", "current", "downgrade"),
        default="upgrade",
        help=say("upgrade to the newest schema (default), show the current revision, or go back one step"),
    )
    parser.add_argument(
        "revision",
        nargs="?",
        help=say("upgrade: the revision to reach (default head); downgrade: default -1"),
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run one Alembic command on DATABASE_URL."""
    try:
        settings = DatabaseSettings()
    except ValidationError as error:
        print(f"balansebot migrate: {describe_settings_error(error)}", file=sys.stderr)
        return 2
    config = alembic_config(settings.database_url)
    try:
        if args.action == "upgrade":
            command.upgrade(config, args.revision or "head")
        elif args.action == "downgrade":
            command.downgrade(config, args.revision or "-1")
        command.current(config)  # where the database is now: "0006 (head)"
    except (OSError, SQLAlchemyError) as error:
        print(f"balansebot migrate: {database_unreachable(error)}", file=sys.stderr)
        return 1
    return 0
