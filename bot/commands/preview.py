"""`balansebot preview`: chat with the bot in a local web page, beside the flow chart, live on save."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from bot.commands.common import engine_maker, live_or_exit
from bot.i18n import Catalogs
from bot.settings import describe_settings_error
from bot.staff.preview.app import create_app
from bot.staff.preview.settings import PreviewSettings
from bot.staff.preview.status import StatusBoard
from bot.staff_words import say

STOP_SECONDS = 2.0  # open pages hold event streams; they are ended on shutdown, so this is plenty


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        "preview", help=say("chat with the bot in a local web page, with the flow chart and live reload")
    )
    parser.add_argument("--port", type=int, default=8000, help=say("the port to listen on (default: 8000)"))
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help=say("the address to listen on (default: 127.0.0.1, this machine only)"),
    )
    parser.add_argument("--dialogues", type=Path, help=say("the dialogues folder (default: ./dialogues)"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve the preview until Ctrl-C."""
    given: dict[str, Any] = {"host": args.host, "port": args.port}
    if args.dialogues is not None:
        given["dialogues_dir"] = args.dialogues
    try:
        settings = PreviewSettings(**given)
    except ValidationError as error:
        print(f"balansebot preview: {describe_settings_error(error)}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    catalogs = Catalogs.load(settings.locales_dir)
    # The form is shown so staff can try it; the preview never delivers what is typed into it.
    make_engine = engine_maker(catalogs, lead_form=True)
    live = live_or_exit(settings.dialogues_dir, catalogs, settings.kept_scripts, make_engine)
    app = create_app(settings, live, StatusBoard(live, live.found_at_start))
    url = f"http://{settings.host}:{settings.port}/"
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            shutdown_timeout=STOP_SECONDS,
            print=lambda _: print(say("Balansebot preview on {url} (Ctrl-C stops it)", url=url), flush=True),
            access_log=None,
        )
    except OSError as error:
        print(
            "balansebot preview: "
            + say(
                "cannot listen on {host}:{port}: {reason}",
                host=settings.host,
                port=settings.port,
                reason=error,
            ),
            file=sys.stderr,
        )
        return 1
    return 0
