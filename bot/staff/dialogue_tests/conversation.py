"""A conversation test as staff wrote it (steps and checks, each with its line), and its result."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from bot.staff_words import say

Action = Literal["say", "press", "command"]

TESTS_FOLDER = "tests"
OSLO = ZoneInfo("Europe/Oslo")
# A Wednesday without holidays at noon: the advice line is open, so opening-hour text is stable.
DEFAULT_TIME = dt.datetime(2026, 3, 11, 12, 0, tzinfo=OSLO)
DEFAULT_LANG = "nb"
ACTIONS: tuple[Action, ...] = ("say", "press", "command")


@dataclass(frozen=True)
class Check:
    """One thing a reply must (or must not) show, and the line it was written on."""

    text: str
    line: int


@dataclass(frozen=True)
class Step:
    """One thing the reader does, and what the bot's answer must look like."""

    action: Action
    value: str
    line: int
    expect: tuple[Check, ...] = ()
    absent: tuple[Check, ...] = ()
    buttons: tuple[Check, ...] = ()
    node: Check | None = None

    def describe(self) -> str:
        """The step as staff wrote it, e.g. `press "Rådgivningstelefonen"`."""
        return f'{self.action} "{self.value}"'


@dataclass(frozen=True)
class Conversation:
    """One named conversation from a test file."""

    path: Path
    name: str
    line: int
    lang: Check
    time: dt.datetime
    steps: tuple[Step, ...]

    @property
    def id(self) -> str:
        """`file::name`, as pytest and the report show it."""
        return f"{self.path.name}::{self.name}"


@dataclass(frozen=True)
class Failure:
    """Where a conversation went wrong, what was expected, what the bot said and what to do."""

    path: Path
    line: int
    step: str
    message: str
    said: str
    hint: str
    nodes: tuple[str, ...] = ()

    def __str__(self) -> str:
        said = "\n".join(f"      | {line}" if line else "      |" for line in self.said.splitlines())
        said_by = (
            say("the bot said (node {nodes}):", nodes=", ".join(self.nodes))
            if self.nodes
            else say("the bot said:")
        )
        return (
            f"    {self.path}:{self.line}: {self.step}\n    {self.message}\n"
            + (f"    {said_by}\n{said}\n" if said else "")
            + "    "
            + say("fix: {hint}", hint=self.hint)
        )


@dataclass(frozen=True)
class Result:
    """A conversation and, if it failed, why."""

    conversation: Conversation
    failure: Failure | None

    @property
    def passed(self) -> bool:
        """True when every step got the answer it expected."""
        return self.failure is None

    def __str__(self) -> str:
        mark = "✓" if self.failure is None else "✗"
        head = f"  {mark} {self.conversation.name}"
        return head if self.failure is None else f"{head}\n{self.failure}"
