"""Measure the router against a labelled set of real-looking messages (tests and staff)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter

from bot.content.scripts import FALLBACK
from bot.engine.engine import Engine
from bot.engine.model import ChatState, FreeText
from bot.staff_words import say

Category = Literal["acute", "trap", "disclosure", "out_of_scope", "topic"]
CATEGORIES: tuple[Category, ...] = ("acute", "trap", "disclosure", "out_of_scope", "topic")


class Example(BaseModel):
    """One labelled message: what a person wrote and the node that should answer it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    expect: str
    lang: str = "nb"
    acute: bool | None = None
    """False on a look-alike that must raise no alarm (a trap); an acute node implies True."""
    category: Category | None = None
    """Without one it follows from `expect` and `acute`."""

    def kind(self, acute_nodes: Iterable[str]) -> Category:
        """The example's category, given or derived."""
        if self.category is not None:
            return self.category
        if self.expect in set(acute_nodes):
            return "acute"
        if self.acute is False:
            return "trap"
        return "out_of_scope" if self.expect == FALLBACK else "topic"


@dataclass(frozen=True)
class Verdict:
    """How the bot answered one example."""

    example: Example
    category: Category
    nodes: tuple[str, ...]
    ambiguous: bool
    acute: bool
    """Whether an acute alarm was raised (its help shown first)."""

    @property
    def answered(self) -> str:
        """The answer after any acute help (or the acute node when it stood alone)."""
        return self.nodes[1] if self.acute and len(self.nodes) > 1 else (self.nodes[0] if self.nodes else "")

    @property
    def correct(self) -> bool:
        """The right node; danger must raise the right alarm, a look-alike none at all."""
        if self.category == "acute":
            return self.acute and self.nodes[0] == self.example.expect
        if self.category == "trap" and self.acute:
            return False
        if self.category == "out_of_scope":
            return self.answered == self.example.expect and not self.ambiguous and not self.acute
        return self.answered == self.example.expect


@dataclass
class Report:
    """Accuracy per category and per expected node, acute recall and false alarms, and every miss."""

    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Share of examples answered right."""
        return sum(v.correct for v in self.verdicts) / max(len(self.verdicts), 1)

    def per_node(self) -> dict[str, tuple[int, int]]:
        """(right, total) per expected node."""
        total = Counter(v.example.expect for v in self.verdicts)
        right = Counter(v.example.expect for v in self.verdicts if v.correct)
        return {node: (right[node], total[node]) for node in sorted(total)}

    def per_category(self) -> dict[Category, tuple[int, int]]:
        """(right, total) per category, plus English as its own line under `topic`'s neighbours."""
        total = Counter(v.category for v in self.verdicts)
        right = Counter(v.category for v in self.verdicts if v.correct)
        return {c: (right[c], total[c]) for c in CATEGORIES if total[c]}

    def per_language(self) -> dict[str, tuple[int, int]]:
        """(right, total) per language of the message."""
        total = Counter(v.example.lang for v in self.verdicts)
        right = Counter(v.example.lang for v in self.verdicts if v.correct)
        return {lang: (right[lang], total[lang]) for lang in sorted(total)}

    def acute_misses(self) -> list[Verdict]:
        """Messages about danger that raised no alarm at all."""
        return [v for v in self.verdicts if v.category == "acute" and not v.acute]

    def false_alarms(self) -> list[Verdict]:
        """Look-alikes (traps) that raised an alarm."""
        return [v for v in self.verdicts if v.category == "trap" and v.acute]

    @property
    def acute_recall(self) -> float:
        """Share of danger messages that raised an alarm."""
        acute = [v for v in self.verdicts if v.category == "acute"]
        return 1 - len(self.acute_misses()) / max(len(acute), 1)

    @property
    def false_alarm_rate(self) -> float:
        """Share of look-alikes that raised an alarm."""
        traps = [v for v in self.verdicts if v.category == "trap"]
        return len(self.false_alarms()) / max(len(traps), 1)

    def misses(self) -> list[Verdict]:
        """Every wrong answer."""
        return [v for v in self.verdicts if not v.correct]

    def summary(self) -> list[str]:
        """Lines for people: per category, per language, recall and false alarms."""
        lines = [_line(c, *rt) for c, rt in self.per_category().items()]
        lines += [_line(say("lang {lang}", lang=lang), *rt) for lang, rt in self.per_language().items()]
        lines.append(_line(say("all"), sum(v.correct for v in self.verdicts), len(self.verdicts)))
        lines.append(
            say(
                "acute recall {recall:.1%} ({missed} missed); false alarms on look-alikes "
                "{false_alarms:.1%} ({alarms})",
                recall=self.acute_recall,
                missed=len(self.acute_misses()),
                false_alarms=self.false_alarm_rate,
                alarms=len(self.false_alarms()),
            )
        )
        return lines


def _line(name: str, right: int, total: int) -> str:
    return f"{name:>24}  {right:4}/{total:<4} {right / max(total, 1):6.1%}"


def load_examples(*paths: Path) -> list[Example]:
    """Read labelled sets (YAML lists of text/expect/lang/category entries)."""
    adapter = TypeAdapter(list[Example])
    return [e for p in paths for e in adapter.validate_python(yaml.safe_load(p.read_text(encoding="utf-8")))]


def evaluate(engine: Engine, examples: list[Example]) -> Report:
    """Answer every example from a fresh chat and record what happened."""
    report = Report()
    acute_nodes = engine.acute_nodes()
    for example in examples:
        outcome = engine.handle(ChatState(lang=example.lang), FreeText(example.text))
        report.verdicts.append(
            Verdict(
                example,
                example.kind(acute_nodes),
                outcome.nodes or ("",),
                outcome.route == "ambiguous",
                outcome.route == "acute",
            )
        )
    return report
