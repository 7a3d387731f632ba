"""`balansebot route "text"`: show staff where a message would go, and why."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.commands.common import engine_or_exit
from bot.engine.model import ChatState, FreeText


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser("route", help="show which node a message would reach, with scores")
    parser.add_argument("text", help="the message, in quotes")
    parser.add_argument("--lang", default="nb", help="the reader's language (default nb)")
    parser.add_argument("--dialogues", type=Path, help="the dialogues folder (default: ./dialogues)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the answer the bot would pick, then the ranked candidates."""
    engine = engine_or_exit(args.dialogues)
    outcome = engine.handle(ChatState(lang=args.lang), FreeText(args.text))
    print(f"answer: {outcome.route} → {', '.join(outcome.nodes) or '-'}")
    router = engine.router()
    print("words understood: " + ", ".join(f"{t}×{w:g}" for t, w in router.features(args.text).items()))
    for match in router.route(args.text).candidates:
        print(f"  {match.score:6.2f}  {match.node}")
    return 0
