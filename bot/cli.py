"""The `balansebot` command line: one subcommand per job, wired here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from bot.commands import (
    chat,
    check,
    confusion,
    dialogue_test,
    graph,
    preview,
    route,
    serve,
    stats,
    translations,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="balansebot", description="Balansekunst's guidance chatbot.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (chat, check, confusion, dialogue_test, graph, preview, route, serve, stats, translations):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:
        # The reader went away (`balansebot route … | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    sys.exit(main())
