"""A problem found in a dialogue file, reported as file:line with what to do about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.staff_words import say


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong (or worth a look) in a script, with a fix hint for staff."""

    path: Path
    line: int
    message: str
    hint: str
    severity: Literal["error", "warning"] = "error"
    excerpt: tuple[str, int] | None = field(default=None, compare=False)
    """The offending line as written, and the column (0-based) a caret points at under it."""

    def __str__(self) -> str:
        severity = say("error") if self.severity == "error" else say("warning")
        shown = f"{self.path}:{self.line}: {severity}: {self.message}\n"
        if self.excerpt is not None:
            text, column = self.excerpt
            number = str(self.line)
            shown += f"    {number} | {text}\n    {' ' * len(number)} | {' ' * column}^\n"
        return shown + "    " + say("fix: {hint}", hint=self.hint)
