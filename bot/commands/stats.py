"""`balansebot stats`: anonymous counts per day of the answers shown (counts under 5 hidden)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import describe_settings_error
from bot.staff_words import marked, say
from bot.stats.counter import stats_day
from bot.stats.report import read_report, report_as_json
from bot.stats.settings import StatsSettings
from bot.stats.table import render_legend, render_table

DEFAULT_DAYS = 14
MAX_DAYS = 3660
NO_STATISTICS = marked(
    "No statistics yet: `balansebot serve` counts the answers it shows, "
    "and stores them within a few seconds (and when it stops)."
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser("stats", help=say("anonymous daily counts of the answers shown (under 5 hidden)"))
    parser.add_argument(
        "--days",
        type=_days,
        default=DEFAULT_DAYS,
        help=say("how many days up to today (default {days})", days=DEFAULT_DAYS),
    )
    parser.add_argument("--database-url", help=say("the database (default: DATABASE_URL, as for serve)"))
    parser.add_argument("--json", action="store_true", help=say("print JSON (one object per day) instead"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON); a bad or unreachable database is a one-line error."""
    try:
        overrides = {} if args.database_url is None else {"database_url": args.database_url}
        settings = StatsSettings(**overrides)
    except ValidationError as error:
        problem = describe_settings_error(error)
        if args.database_url is not None:
            problem = problem.replace("DATABASE_URL", "--database-url", 1)
        print(f"balansebot: {problem}", file=sys.stderr)
        return 2
    today = stats_day(dt.datetime.now(dt.UTC))
    try:
        report = asyncio.run(read_report(settings.database_url, args.days, today))
    except (SQLAlchemyError, OSError) as error:
        print(say("balansebot: cannot read the statistics: {reason}", reason=_reason(error)), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report_as_json(report), ensure_ascii=False, indent=2))
    elif not report:
        print(say(NO_STATISTICS))
    else:
        print(render_legend(report))
        print()
        print(render_table(report))
    return 0


def _days(text: str) -> int:
    """A whole number of days from 1 to MAX_DAYS."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(say("{text!r} is not a whole number of days", text=text)) from None
    if not 1 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(say("must be from 1 to {most}", most=MAX_DAYS))
    return days


def _reason(error: Exception) -> str:
    """The driver's own first line (never the URL, which may hold a password)."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
