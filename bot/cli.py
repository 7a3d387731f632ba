"""The `balansebot` command line: one subcommand per job, wired here."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from importlib.metadata import version

from bot.commands import (
    chat,
    check,
    confusion,
    dialogue_test,
    graph,
    migrate,
    preview,
    route,
    serve,
    stats,
    translations,
)
from bot.settings import ContentSettings
from bot.staff_words import STAFF_LANGUAGES, speaking, staff_language

# What each command's --help says beyond its one-line summary: what it does, and its exit codes.
HELP_WIDTH = 79
USAGE_ERROR = "2  the command line or a setting is wrong (one line says which)"
COMMANDS = {
    "chat": (
        "Talk to the bot in the terminal: no token, no network, nothing stored.",
        ["0  left with /quit or Ctrl-D", "1  the scripts have errors"],
    ),
    "check": (
        "Check every dialogue script and print each problem as file:line with how to fix it.",
        ["0  the scripts can be served", "1  errors (or warnings, with --strict)"],
    ),
    "confusion": (
        "Route every labelled test message and list the ones the bot answers wrongly.",
        ["0  done", "1  the scripts have errors"],
    ),
    "test": (
        "Run the conversations written down in dialogues/tests/ against the scripts.",
        [
            "0  every conversation went as written",
            "1  one went otherwise, none were found, or the scripts have errors",
        ],
    ),
    "graph": (
        "Draw the whole dialogue flow as a picture (SVG or PNG); needs Graphviz's `dot`.",
        [
            "0  written",
            "1  the scripts have errors",
            "2  Graphviz is missing, or the picture cannot be drawn or written",
        ],
    ),
    "migrate": (
        "Bring the database in DATABASE_URL to the newest schema (upgrade), show its revision "
        "(current), or go back one step (downgrade). serve upgrades at start by itself.",
        ["0  done", "1  the database cannot be used", USAGE_ERROR],
    ),
    "preview": (
        "Chat with the bot in a local web page beside the flow chart; a saved file is shown at once.",
        ["0  stopped with Ctrl-C", "1  the scripts were never good, or the port is taken", USAGE_ERROR],
    ),
    "route": (
        "Show which answer a typed message reaches and why, or one line per message of a list.",
        ["0  done", "1  the scripts have errors", USAGE_ERROR],
    ),
    "serve": (
        "Run the bot on Telegram with the settings from the environment (.env.example lists them).",
        [
            "0  stopped by SIGTERM or Ctrl-C",
            "1  the scripts were never good, or the database or the Bot API cannot be reached",
            USAGE_ERROR + ", or Telegram rejected the token",
        ],
    ),
    "stats": (
        "Show the anonymous daily counts of the answers people were shown (counts under 5 hidden).",
        ["0  done", "1  the database cannot be read", USAGE_ERROR],
    ),
    "translations": (
        "List the nodes whose Nynorsk or English translation is missing or older than the Bokmål.",
        ["0  every translation is up to date", "1  some are missing or stale, or the scripts have errors"],
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="balansebot",
        description="Balansekunst's guidance chatbot: serve it on Telegram, and the tools staff use "
        "on its scripts.",
        epilog="`balansebot COMMAND --help` describes a command and its exit codes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('balansebot')}")
    parser.add_argument(
        "--lang",
        dest="staff_lang",
        choices=STAFF_LANGUAGES,
        help="the language the tools speak (default: Bokmål; English when LANG starts with en)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (
        chat,
        check,
        confusion,
        dialogue_test,
        graph,
        migrate,
        preview,
        route,
        serve,
        stats,
        translations,
    ):
        module.add_parser(sub)
    for name, command in sub.choices.items():
        description, codes = COMMANDS[name]
        command.description = textwrap.fill(description, HELP_WIDTH)
        command.epilog = "exit codes:\n" + "\n".join(f"  {code}" for code in codes)
        command.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code; with none, print the help."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    with speaking(staff_language(chosen_language(arguments)), ContentSettings().locales_dir):
        parser = build_parser()
        args = parser.parse_args(arguments)
        if args.command is None:
            parser.print_help()
            return 0
        try:
            code: int = args.run(args)
        except BrokenPipeError:
            # The reader went away (`balansebot route … | head`): not an error worth a traceback.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        return code


def chosen_language(arguments: Sequence[str]) -> str | None:
    """`--lang` before the command, read ahead of parsing: the help and its errors speak it too."""
    for index, argument in enumerate(arguments):
        if argument.startswith("--lang="):
            return _known(argument.partition("=")[2])
        if argument == "--lang" and index + 1 < len(arguments):
            return _known(arguments[index + 1])
        if not argument.startswith("-"):
            return None  # the command: its own --lang (route's, chat's) is the readers' language
    return None


def _known(lang: str) -> str | None:
    return lang if lang in STAFF_LANGUAGES else None  # argparse then says which languages there are


if __name__ == "__main__":
    sys.exit(main())
