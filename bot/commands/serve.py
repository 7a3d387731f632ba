"""`balansebot serve`: run the bot on Telegram (long polling, or a webhook with WEBHOOK_URL)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from telegram.error import InvalidToken, NetworkError

from bot.commands.common import engine_maker, live_or_exit
from bot.i18n import Catalogs
from bot.logs import configure_logging
from bot.settings import ServeSettings, describe_settings_error, serve_settings
from bot.staff_words import say
from bot.storage.database import ConnectionBudgetError, database_unreachable, restrict_sqlite_files
from bot.telegram.webapp import serve

SHUTDOWN_SECONDS = 8.0  # finish in-flight updates, within the 10 s a container stop allows


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser("serve", help=say("run the bot on Telegram (settings from the environment)"))
    parser.set_defaults(run=run)


def run(_args: argparse.Namespace) -> int:
    """Validate settings and scripts, then serve until SIGTERM or Ctrl-C."""
    os.umask(0o077)  # the database, its WAL and anything else written: the owner's alone
    try:
        settings = serve_settings()
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
    except Exception as error:
        stopped = why_it_stopped(error, settings)
        if stopped is None:
            raise
        code, line = stopped
        print(f"balansebot: {line}", file=sys.stderr)
        return code
    return 0


def why_it_stopped(error: Exception, settings: ServeSettings) -> tuple[int, str] | None:
    """The exit code and one line for an operator, for a failure with a known cause (never a secret)."""
    if isinstance(error, ConnectionBudgetError):
        return 2, str(error)
    if isinstance(error, InvalidToken):
        return 2, say(
            "Telegram rejected BOT_TOKEN; copy the token again from @BotFather (/mybots → API Token) "
            "into BOT_TOKEN"
        )
    if isinstance(error, NetworkError):  # getMe, setWebhook or setMyCommands before the first update
        reason = str(error).replace(settings.bot_token.get_secret_value(), "<BOT_TOKEN>")
        host = urlsplit(settings.bot_api_url).netloc
        return 1, say(
            "the Bot API at {host} cannot be reached ({reason}); "
            "check the network, BOT_API_URL and HTTPS_PROXY",
            host=host,
            reason=reason,
        )
    if isinstance(error, SQLAlchemyError):
        return 1, database_unreachable(error)
    return None
