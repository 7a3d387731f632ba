"""`balansebot chat`: the bot in the terminal, on the scripts as they are on disk."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.commands.common import engine_or_exit
from bot.staff_words import say
from bot.terminal.chat import run_chat


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser("chat", help=say("talk to the bot in the terminal (no token, no network)"))
    parser.add_argument("--dialogues", type=Path, help=say("the dialogues folder (default: ./dialogues)"))
    parser.add_argument("--no-color", action="store_true", help=say("plain text without terminal styles"))
    # Any code here; which languages there are is known only once the scripts are loaded.
    parser.add_argument("--lang", default="nb", help=say("the language to start in"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Chat until end of input."""
    os.umask(0o077)  # nothing this command writes is for others to read
    engine = engine_or_exit(args.dialogues)
    if args.lang not in engine.scripts.languages:
        choices = ", ".join(c for c in engine.scripts.language_list.codes if c in engine.scripts.languages)
        print(
            say("no scripts in language {lang!r}; choose one of {choices}", lang=args.lang, choices=choices),
            file=sys.stderr,
        )
        return 2
    color = sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
    try:
        run_chat(engine, sys.stdin, sys.stdout, color=color, lang=args.lang)
    except KeyboardInterrupt:
        print()
    return 0
