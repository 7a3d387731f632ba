"""`balansebot confusion`: which labelled messages the bot answers wrongly, so staff know what to add."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.commands.common import engine_or_exit
from bot.content.scripts import ACUTE
from bot.settings import PROJECT_ROOT
from bot.understanding.evaluation import evaluate, load_examples

DEFAULT_SET = PROJECT_ROOT / "tests" / "understanding" / "labelled.yaml"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser("confusion", help="accuracy on a labelled set, and every wrong answer")
    parser.add_argument("--labelled", type=Path, default=DEFAULT_SET, help="the labelled set (YAML)")
    parser.add_argument("--dialogues", type=Path, help="the dialogues folder (default: ./dialogues)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the wrong answers grouped by expected node, then accuracy per node."""
    engine = engine_or_exit(args.dialogues)
    report = evaluate(engine, load_examples(args.labelled))
    for verdict in sorted(report.misses(), key=lambda v: (v.example.expect, v.answered)):
        mark = "?" if verdict.ambiguous else "→"
        print(f"{verdict.example.expect:>24} {mark} {verdict.answered:<24} {verdict.example.text[:80]!r}")
    print()
    for node, (right, total) in report.per_node().items():
        print(f"{node:>24}  {right:3}/{total:<3} {right / total:6.0%}")
    print(
        f"\ntop-1 accuracy {report.accuracy:.1%} on {len(report.verdicts)} messages; "
        f"acute missed {len(report.acute_misses(ACUTE))}, false alarms {len(report.false_alarms(ACUTE))}"
    )
    return 0
