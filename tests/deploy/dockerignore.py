"""Which files a `.dockerignore` lets into the build context, with Docker's matching rules.

Patterns are matched against a path and each of its parent folders (an excluded folder excludes its
files), `**` spans any number of folders, `*` and `?` stay within one, and the last matching pattern
wins, `!` marking an exception.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rule:
    """One line of a .dockerignore."""

    pattern: re.Pattern[str]
    exception: bool


def rules(path: Path) -> list[Rule]:
    """The patterns of a .dockerignore, in order."""
    found = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        cleaned = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
        found.append(Rule(re.compile(_regex(cleaned)), exception))
    return found


def included(relative: str, ignore: list[Rule]) -> bool:
    """Whether the file at `relative` (posix, from the context root) reaches the build context."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for rule in ignore:
        if any(rule.pattern.fullmatch(candidate) for candidate in candidates):
            excluded = not rule.exception
    return not excluded


def _regex(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)
