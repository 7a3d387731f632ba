"""`balansebot confusion`: which labelled messages the bot answers wrongly, so staff know what to add."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.commands.common import engine_or_exit
from bot.settings import PROJECT_ROOT
from bot.staff.evaluation import evaluate, load_examples
from bot.staff_words import say, say_n

CORPUS = PROJECT_ROOT / "tests" / "understanding"
# The held-out sets are left out on purpose: staff tune on these, and the held-out part stays honest.
TUNED_ON = (
    "labelled.yaml",
    "corpus.yaml",
    "corpus_more.yaml",
    "corpus_fresh.yaml",
    "corpus_voices.yaml",
    "corpus_danger2.yaml",
    "corpus_danger3.yaml",
    "corpus_topics2.yaml",
    "corpus_train5.yaml",
    "corpus_train6.yaml",
    "corpus_train7.yaml",
    "corpus_danger5.yaml",
    "corpus_train8.yaml",
    "corpus_train9.yaml",
    "corpus_train10.yaml",
)
DEFAULT_SETS = tuple(CORPUS / f for f in TUNED_ON)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser("confusion", help=say("accuracy on a labelled set, and every wrong answer"))
    parser.add_argument(
        "--labelled",
        type=Path,
        action="append",
        help=say("a labelled set (YAML); may be given more than once"),
    )
    parser.add_argument("--dialogues", type=Path, help=say("the dialogues folder (default: ./dialogues)"))
    parser.add_argument("--quiet", action="store_true", help=say("only the figures, not every wrong answer"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the wrong answers grouped by category and expected node, then the figures."""
    engine = engine_or_exit(args.dialogues)
    paths = args.labelled or [p for p in DEFAULT_SETS if p.exists()]
    report = evaluate(engine, load_examples(*paths))
    if not args.quiet:
        for verdict in sorted(report.misses(), key=lambda v: (v.category, v.example.expect, v.answered)):
            got = "+".join(verdict.nodes) if verdict.acute else verdict.answered
            mark = "?" if verdict.ambiguous else "→"
            print(
                f"{verdict.category:>12} {verdict.example.expect:>22} {mark} {got:<30} "
                f"{verdict.example.text[:90]!r}"
            )
        print()
        for node, (right, total) in report.per_node().items():
            print(f"{node:>24}  {right:4}/{total:<4} {right / total:6.1%}")
        print()
    print("\n".join(report.summary()))
    print(
        "\n"
        + say_n(
            "top-1 accuracy {accuracy:.1%} on {count} message",
            "top-1 accuracy {accuracy:.1%} on {count} messages",
            len(report.verdicts),
            accuracy=report.accuracy,
        )
    )
    return 0
