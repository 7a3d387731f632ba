"""`balansebot serve`: run the bot on Telegram (long polling, or a webhook with WEBHOOK_URL)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from pydantic import ValidationError

from bot.commands.common import engine_maker, live_or_exit
from bot.i18n import Catalogs
from bot.logs import configure_logging
from bot.settings import ServeSettings, describe_settings_error
from bot.storage.database import ConnectionBudgetError, restrict_sqlite_files
from bot.telegram.webapp import serve

SHUTDOWN_SECONDS = 8.0  # finish in-flight updates, within the 10 s a container stop allows


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser("serve", help="run the bot on Telegram (settings from the environment)")
    parser.set_defaults(run=run)


def run(_args: argparse.Namespace) -> int:
    """Validate settings and scripts, then serve until SIGTERM or Ctrl-C."""
    os.umask(0o077)  # the database, its WAL and anything else written: the owner's alone
    try:
        settings = ServeSettings()
    except ValidationError as error:
        print(f"balansebot: {describe_settings_error(error)}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, json_logs=settings.json_logs)
    os.environ.setdefault(
        "PTB_TIMEDELTA", "true"
    )  # PTB 22: timedelta retry_after, without a warning each time
    restrict_sqlite_files(settings.database_url)
    catalogs = Catalogs.load(settings.locales_dir)
    make_engine = engine_maker(catalogs, channels=settings.lead_channels)
    live = live_or_exit(settings.dialogues_dir, catalogs, settings.kept_scripts, make_engine)
    try:
        asyncio.run(serve(settings, live, catalogs, shutdown_seconds=SHUTDOWN_SECONDS))
    except ConnectionBudgetError as error:
        print(f"balansebot: {error}", file=sys.stderr)
        return 2
    return 0
