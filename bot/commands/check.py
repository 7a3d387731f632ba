"""`balansebot check`: validate every dialogue script and report problems as file:line."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.commands.common import load
from bot.staff_words import say, say_n


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser("check", help=say("check the dialogue scripts (file:line and how to fix)"))
    parser.add_argument("--dialogues", type=Path, help=say("the dialogues folder (default: ./dialogues)"))
    parser.add_argument("--strict", action="store_true", help=say("treat warnings as errors"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print every problem; exit 1 on errors (or on warnings with --strict)."""
    result, _ = load(args.dialogues)
    for problem in result.problems:
        print(problem)
    errors = len(result.errors)
    warnings = len(result.problems) - errors
    if result.scripts is not None and not (args.strict and warnings):
        nodes = sum(len(s.nodes) for s in result.scripts.languages.values())
        languages = ", ".join(sorted(result.scripts.languages))
        print(
            say(
                "OK: {nodes} nodes in {languages}; version {version}",
                nodes=nodes,
                languages=languages,
                version=result.scripts.version,
            )
            + (say_n("; {count} warning", "; {count} warnings", warnings) if warnings else "")
        )
        return 0
    print(
        "\n"
        + say_n("{count} error", "{count} errors", errors)
        + ", "
        + say_n("{count} warning", "{count} warnings", warnings)
        + say(". Nothing was changed; fix the lines above and run `balansebot check` again.")
    )
    return 1
