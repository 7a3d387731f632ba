"""Measure the router against a labelled set of real-looking messages (tests and staff)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter

from bot.engine.engine import Engine
from bot.engine.model import ChatState, FreeText


class Example(BaseModel):
    """One labelled message: what a person wrote and the node that should answer it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    expect: str
    lang: str = "nb"
    acute: bool | None = None


@dataclass(frozen=True)
class Verdict:
    """How the bot answered one example."""

    example: Example
    answered: str
    ambiguous: bool
    acute: bool

    @property
    def correct(self) -> bool:
        """The top answer is the expected node (out-of-scope must get the plain fallback)."""
        return self.answered == self.example.expect


@dataclass
class Report:
    """Accuracy per expected node, acute recall and false alarms, and every miss."""

    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Share of examples whose top answer is right."""
        return sum(v.correct for v in self.verdicts) / max(len(self.verdicts), 1)

    def per_node(self) -> dict[str, tuple[int, int]]:
        """(right, total) per expected node."""
        total = Counter(v.example.expect for v in self.verdicts)
        right = Counter(v.example.expect for v in self.verdicts if v.correct)
        return {node: (right[node], total[node]) for node in sorted(total)}

    def acute_misses(self, acute_node: str) -> list[Verdict]:
        """Acute examples the bot did not treat as acute."""
        return [v for v in self.verdicts if v.example.expect == acute_node and not v.acute]

    def false_alarms(self, acute_node: str) -> list[Verdict]:
        """Non-acute examples the bot treated as acute."""
        return [v for v in self.verdicts if v.example.expect != acute_node and v.acute]

    def misses(self) -> list[Verdict]:
        """Every wrong answer."""
        return [v for v in self.verdicts if not v.correct]


def load_examples(path: Path) -> list[Example]:
    """Read a labelled set (a YAML list of text/expect/lang entries)."""
    return TypeAdapter(list[Example]).validate_python(yaml.safe_load(path.read_text(encoding="utf-8")))


def evaluate(engine: Engine, examples: list[Example]) -> Report:
    """Answer every example from a fresh chat and record what happened."""
    report = Report()
    for example in examples:
        outcome = engine.handle(ChatState(lang=example.lang), FreeText(example.text))
        report.verdicts.append(
            Verdict(
                example,
                outcome.nodes[0] if outcome.nodes else "",
                outcome.route == "ambiguous",
                outcome.route == "acute",
            )
        )
    return report
