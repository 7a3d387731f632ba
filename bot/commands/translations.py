"""`balansebot translations`: which nodes a language lacks or has out of date, and the Bokmål fingerprints."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.commands.common import load
from bot.content.scripts import SOURCE_LANGUAGE


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser("translations", help="missing and stale translations of the dialogue scripts")
    parser.add_argument("--dialogues", type=Path, help="the dialogues folder (default: ./dialogues)")
    parser.add_argument(
        "--fingerprints",
        action="store_true",
        help="list each Bokmål node's fingerprint for `translated_from`",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print what translators should do; exit 1 when something is missing or stale."""
    result, _ = load(args.dialogues)
    if result.scripts is None:
        print("The scripts have errors; run `balansebot check` first.")
        return 1
    if args.fingerprints:
        for node in sorted(result.scripts.language(SOURCE_LANGUAGE).nodes.values(), key=lambda n: n.id):
            print(f"{node.id:<28} translated_from: {node.fingerprint}")
        return 0
    todo = [p for p in result.problems if "translation" in p.message]
    for problem in todo:
        print(problem)
    languages = ", ".join(sorted(set(result.scripts.languages) - {SOURCE_LANGUAGE})) or "none"
    print(f"{len(todo)} translation(s) to do (languages besides Bokmål: {languages}).")
    return 1 if todo else 0
