"""Conversation tests written by staff in YAML (dialogues/tests/), run against the real engine.

A test file holds conversations: what the reader says, presses or types as a /command, and what
the bot's reply must contain. Reading a file reports mistakes as file:line with a fix hint (like
`balansebot check`); running a conversation reports the first step whose reply was not as
expected, with what the bot actually said.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.content.problems import Problem
from bot.content.scripts import BUILT_IN_NODES, FORM_NODE, Scripts
from bot.content.telegram_html import check as html_problem
from bot.content.telegram_html import visible_text
from bot.content.yaml_source import Path_, YamlDocument, read_yaml
from bot.engine.engine import Engine
from bot.engine.form import STEPS
from bot.engine.model import Button, ButtonPress, ChatState, Command, Event, FreeText, Outcome, Reply
from bot.staff_words import marked, say

Action = Literal["say", "press", "command"]

TESTS_FOLDER = "tests"
OSLO = ZoneInfo("Europe/Oslo")
# A Wednesday without holidays at noon: the advice line is open, so opening-hour text is stable.
DEFAULT_TIME = dt.datetime(2026, 3, 11, 12, 0, tzinfo=OSLO)
DEFAULT_LANG = "nb"
FILE_KEYS = ("lang", "time", "conversations")
CONVERSATION_KEYS = ("name", "lang", "time", "steps")
ACTIONS: tuple[Action, ...] = ("say", "press", "command")
CHECKS = ("expect", "not", "buttons", "node")
STEP_KEYS = (*ACTIONS, *CHECKS)
# The form's questions, its summary and its thank-you are answered by the engine itself, not by a
# script node; tests may still name them (they are what `balansebot route` and the logs call them).
ENGINE_NODES = frozenset({*BUILT_IN_NODES, *(f"{FORM_NODE}_{step}" for step in STEPS), f"{FORM_NODE}_sendt"})
_DASHES = re.compile("[\u2010-\u2015\u2212]")
# Norwegian texts use «» and typographic quotes; staff type " and ' on the keyboard.
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})
_NODE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_BRACKETS_HINT = marked(
    "a text inside [ ] has a `?`, `:` or `,` in it; put that text in quotes, "
    "or write each text on its own line starting with `- `."
)
_FORMAT_HINT = marked("see “Conversation tests” in dialogues/README.md for the format.")


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


# ---------------------------------------------------------------------------------------------
# Reading a test file


def find_test_files(folder: Path) -> list[Path]:
    """The conversation test files in `folder`, in name order."""
    return sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def read_conversations(path: Path, shown: Path | None = None) -> list[Conversation] | list[Problem]:
    """Every conversation in one test file, or the mistakes that stop it from being read."""
    doc = read_yaml(path, shown or path)
    if isinstance(doc, Problem) and "expected ',' or ']'" in doc.message:
        # `expect: [Er det gratis?]` is the usual cause: `?`, `:` and `,` are special inside [ ].
        return [replace(doc, hint=say(_BRACKETS_HINT))]
    if isinstance(doc, Problem):
        return [doc]
    return _Reader(doc).conversations()


class _Reader:
    """Turns one parsed test file into conversations, collecting every mistake on the way."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def conversations(self) -> list[Conversation] | list[Problem]:
        data = self.doc.data
        if not isinstance(data, dict):
            return [
                self._problem(
                    (),
                    say("a test file should start with `conversations:`"),
                    say(
                        "write `conversations:` and under it `- name: …` with `steps:`; see “Conversation "
                        "tests” in dialogues/README.md for the format."
                    ),
                )
            ]
        self._unknown_keys((), data, FILE_KEYS)
        lang = self._lang((), data)
        when = self._time((), data, DEFAULT_TIME)
        items = data.get("conversations")
        if not isinstance(items, list) or not items:
            self._problem(
                ("conversations",) if "conversations" in data else (),
                say("`conversations:` should be a list of conversations"),
                say("add `conversations:` with at least one `- name: …` and its `steps:`."),
            )
            return self.problems
        found: list[Conversation] = []
        names: dict[str, int] = {}
        for index, item in enumerate(items):
            conversation = self._conversation(("conversations", index), item, lang, when)
            if conversation is None:
                continue
            if conversation.name in names:
                self._problem(
                    ("conversations", index, "name"),
                    say(
                        "two conversations are called “{name}”",
                        name=conversation.name,
                    ),
                    say(
                        "give this one another name (the first is on line {line}).",
                        line=names[conversation.name],
                    ),
                )
            names.setdefault(conversation.name, conversation.line)
            found.append(conversation)
        return self.problems or found

    def _conversation(self, loc: Path_, item: object, lang: Check, when: dt.datetime) -> Conversation | None:
        if not isinstance(item, dict):
            self._problem(loc, say("a conversation should be a set of `key: value` lines"), say(_FORMAT_HINT))
            return None
        self._unknown_keys(loc, item, CONVERSATION_KEYS)
        name = self._text((*loc, "name"), item.get("name"))
        if name is None:
            self._problem(
                loc, say("this conversation has no `name:`"), say("add `name:` with a short description.")
            )
        steps_data = item.get("steps")
        if not isinstance(steps_data, list) or not steps_data:
            self._problem(
                (*loc, "steps") if "steps" in item else loc,
                say("this conversation has no `steps:`"),
                say("add `steps:` with a list of `- say: …`, `- press: …` or `- command: …`."),
            )
            return None
        steps = [self._step((*loc, "steps", i), s) for i, s in enumerate(steps_data)]
        if name is None or any(s is None for s in steps):
            return None
        return Conversation(
            path=self.doc.path,
            name=name,
            line=self.doc.line_of(loc),
            lang=self._lang(loc, item, lang),
            time=self._time(loc, item, when),
            steps=tuple(s for s in steps if s is not None),
        )

    def _step(self, loc: Path_, item: object) -> Step | None:
        if isinstance(item, str) and item.strip():
            # `- /start` or `- hei`: the reader's action with nothing to check is a natural shorthand.
            return self._action(loc, "say", item)
        if not isinstance(item, dict):
            self._problem(
                loc, say("a step should be `say:`, `press:` or `command:` with its checks"), say(_FORMAT_HINT)
            )
            return None
        before = len(self.problems)
        self._unknown_keys(loc, item, STEP_KEYS)
        actions = [a for a in ACTIONS if a in item]
        if len(actions) != 1:
            self._problem(
                loc,
                say("a step needs exactly one of `say:`, `press:` or `command:`")
                + (say(" (this one has {count})", count=len(actions)) if actions else ""),
                say(
                    "write what the reader does: `say: <a message>`, `press: <a button's text>` or "
                    "`command: /start`; put each in its own step."
                ),
            )
            return None
        step = self._action((*loc, actions[0]), actions[0], item[actions[0]])
        expect = self._checks(loc, item, "expect")
        absent = self._checks(loc, item, "not")
        buttons = self._checks(loc, item, "buttons")
        node = self._node(loc, item)
        if step is None or len(self.problems) > before:
            return None
        return Step(step.action, step.value, self.doc.line_of(loc), expect, absent, buttons, node)

    def _action(self, where: Path_, action: Action, value: object) -> Step | None:
        text = self._text(where, value)
        if text is None or not text.strip():
            self._problem(
                where,
                say("`{action}:` is empty", action=action),
                say(_AFTER[action]),
            )
            return None
        text = " ".join(text.split())
        if action == "command" or text.startswith("/"):
            # As on Telegram, a message starting with / is a command, whatever key it was written under.
            name = text.lstrip("/").split(maxsplit=1)[0].split("@")[0].lower() if text.strip("/") else ""
            if not name:
                self._problem(where, say("this command has no name"), say("write it like `command: /start`."))
                return None
            return Step("command", "/" + name, self.doc.line_of(where))
        return Step(action, text, self.doc.line_of(where))

    def _checks(self, loc: Path_, item: dict[str, Any], key: str) -> tuple[Check, ...]:
        if key not in item or item[key] is None:
            return ()
        value = item[key]
        values = value if isinstance(value, list) else [value]
        located = [
            (((*loc, key, i) if isinstance(value, list) else (*loc, key)), v) for i, v in enumerate(values)
        ]
        checks: list[Check] = []
        for where, v in located:
            text = self._text(where, v)
            if text is None or not _wanted(text):
                self._problem(
                    where,
                    say("`{key}:` has an empty or unreadable item", key=key),
                    say("write a text (in quotes if it contains `:` or `#`), or remove the item."),
                )
                continue
            checks.append(Check(text, self.doc.line_of(where)))
        return tuple(checks)

    def _node(self, loc: Path_, item: dict[str, Any]) -> Check | None:
        if "node" not in item:
            return None
        where = (*loc, "node")
        text = self._text(where, item["node"])
        if text is None or not _NODE_ID.match(text):
            self._problem(
                where,
                say("`node:` {value!r} is not a node id", value=item["node"]),
                say("write the `id:` of a node in dialogues/nb/, e.g. `node: telefon`."),
            )
            return None
        return Check(text, self.doc.line_of(where))

    def _lang(self, loc: Path_, data: dict[str, Any], default: Check | None = None) -> Check:
        if "lang" not in data:
            return default or Check(DEFAULT_LANG, self.doc.line_of(loc))
        text = self._text((*loc, "lang"), data["lang"])
        if text is None:
            self._problem(
                (*loc, "lang"),
                say("`lang:` should be a language code"),
                say("write `lang: nb`, `nn` or `en`."),
            )
            return default or Check(DEFAULT_LANG, 1)
        return Check(text.strip(), self.doc.line_of((*loc, "lang")))

    def _time(self, loc: Path_, data: dict[str, Any], default: dt.datetime) -> dt.datetime:
        if "time" not in data:
            return default
        raw = data["time"]
        try:
            when = dt.datetime.fromisoformat(str(raw).strip()) if isinstance(raw, str) else None
        except ValueError:
            when = None
        if when is None:
            self._problem(
                (*loc, "time"),
                say("`time:` {raw!r} is not a date and time", raw=raw),
                say(
                    "write it like `time: 2026-03-11T10:00` (year-month-day, T, hour:minute, Norwegian time)."
                ),
            )
            return default
        return when if when.utcoffset() is not None else when.replace(tzinfo=OSLO)

    def _text(self, loc: Path_, value: object) -> str | None:
        """A text value; whole numbers count (`expect: [112, 113]` is a natural way to write it)."""
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            return value
        self._problem(
            loc,
            say("this should be a text"),
            say("check the indentation; put texts containing `:` or `#` in quotes."),
        )
        return ""

    def _unknown_keys(self, loc: Path_, data: dict[str, Any], known: Sequence[str]) -> None:
        for key in data:
            if key in known:
                continue
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = (
                say("did you mean `{suggestion}`?", suggestion=close[0])
                if close
                else say("known keys here: {keys}.", keys=", ".join(known))
            )
            self._problem((*loc, key), say("unknown key `{key}`", key=key), hint)

    def _problem(self, loc: Path_, message: str, hint: str) -> Problem:
        problem = Problem(self.doc.path, self.doc.line_of(loc), message, hint)
        # One mistake per line: a second message about the same line only repeats the first.
        if all(p.line != problem.line for p in self.problems):
            self.problems.append(problem)
        return problem


_AFTER: dict[Action, str] = {
    "say": marked("write what the reader writes after it."),
    "press": marked("write the text of the button the reader presses after it."),
    "command": marked("write the command the reader types after it, e.g. `command: /start`."),
}


def conversation_problems(conversation: Conversation, scripts: Scripts) -> list[Problem]:
    """Mistakes only the scripts can reveal: an unknown language or node id."""
    problems: list[Problem] = []
    path = conversation.path
    lang = conversation.lang
    if lang.text not in scripts.languages:
        known = ", ".join(sorted(scripts.languages))
        problems.append(
            Problem(
                path,
                lang.line,
                say("there is no language `{lang}`", lang=lang.text),
                say("use one of: {known}.", known=known),
            )
        )
    node_ids = {n for s in scripts.languages.values() for n in s.nodes} | ENGINE_NODES
    for step in conversation.steps:
        if step.node is not None and step.node.text not in node_ids:
            close = difflib.get_close_matches(step.node.text, sorted(node_ids), n=1)
            hint = (
                say("did you mean `{suggestion}`?", suggestion=close[0])
                if close
                else say("write the `id:` of a node in dialogues/nb/ (or run `balansebot route` to see it).")
            )
            problems.append(
                Problem(path, step.node.line, say("there is no node `{node}`", node=step.node.text), hint)
            )
    return problems


# ---------------------------------------------------------------------------------------------
# Running a conversation


def run_conversation(engine: Engine, conversation: Conversation) -> Result:
    """Play the conversation through the engine; stop at the first step that is not as expected."""
    state = ChatState(lang=conversation.lang.text)
    last: Reply | None = None
    for number, step in enumerate(conversation.steps, start=1):
        where = say("step {number}, {step}", number=number, step=step.describe())
        event = _event(step, last)
        if isinstance(event, str):
            said = _said([last] if last is not None else [])
            return Result(
                conversation, Failure(conversation.path, step.line, where, event, said, say(_PRESS_HINT))
            )
        outcome = engine.handle(state, event, conversation.time)
        state = outcome.state
        failure = _first_failure(engine, conversation, step, where, outcome)
        if failure is not None:
            return Result(conversation, failure)
        last = outcome.replies[-1] if outcome.replies else None
    return Result(conversation, None)


_PRESS_HINT = marked(
    "press a button that is on the bot's last reply (copy its text from the list above), "
    "or add a step before it that leads to the reply with this button."
)


def _event(step: Step, last: Reply | None) -> Event | str:
    """The engine event for a step, or why the button cannot be pressed."""
    if step.action == "command":
        return Command(step.value.removeprefix("/"))
    if step.action == "say":
        return FreeText(step.value)
    if last is None:
        return say("there is no reply yet to press “{text}” on", text=step.value)
    buttons = [b for row in last.keyboard for b in row]
    matches = _matching_buttons(step.value, buttons)
    if not matches:
        return say("there is no button “{text}” on the bot's last reply", text=step.value)
    if len(matches) > 1:
        names = ", ".join(f"“{b.text}”" for b in matches)
        return say(
            "“{text}” could be any of these buttons: {names}; write more of its text",
            text=step.value,
            names=names,
        )
    if matches[0].callback_data is None:
        return say("“{button}” opens a web page; the bot does not answer it", button=matches[0].text)
    return ButtonPress(matches[0].callback_data)


def _matching_buttons(wanted: str, buttons: Sequence[Button]) -> list[Button]:
    """The button with exactly this text, else every button whose text contains it (forgiving)."""
    key = _wanted(wanted)
    exact = [b for b in buttons if _fold(b.text) == key]
    return exact or [b for b in buttons if key in _fold(b.text)]


def _first_failure(
    engine: Engine, conversation: Conversation, step: Step, where: str, outcome: Outcome
) -> Failure | None:
    said = _said(outcome.replies)
    text = _fold(" ".join(visible_text(r.text) for r in outcome.replies))
    nodes = [n for n in (*(r.node for r in outcome.replies), *outcome.nodes) if n is not None]
    answered = _answered(engine, conversation, outcome)

    def fail(check: Check, message: str, hint: str) -> Failure:
        return Failure(conversation.path, check.line, where, message, said, hint, outcome.nodes)

    if step.node is not None and step.node.text not in nodes:
        return fail(
            step.node,
            say("expected the answer from node `{node}`", node=step.node.text),
            _node_hint(step, answered),
        )
    for check in step.expect:
        if _wanted(check.text) not in text:
            scripted = _from_script(engine, conversation, outcome)
            return fail(
                check,
                say("expected the reply to contain: “{text}”", text=check.text),
                _expect_hint(step, answered, scripted),
            )
    for check in step.absent:
        if _wanted(check.text) in text:
            return fail(
                check,
                say("expected the reply NOT to contain: “{text}”", text=check.text),
                say(
                    "remove the text from the script ({answered}), or from `not:` if it belongs there now.",
                    answered=answered,
                )
                if answered
                else say("remove the text from the script, or from `not:` if it belongs there now."),
            )
    shown = [b for r in outcome.replies for row in r.keyboard for b in row]
    for check in step.buttons:
        if not _matching_buttons(check.text, shown):
            return fail(
                check,
                say("expected a button “{text}”", text=check.text),
                say(
                    "if the button was renamed or moved on purpose, update the test; otherwise add it to "
                    "{where} again.",
                    where=answered or say("the node"),
                ),
            )
    return None


def _answered(engine: Engine, conversation: Conversation, outcome: Outcome) -> str:
    """Which script node answered, with its file:line, when one did (for hints)."""
    for node_id in outcome.nodes:
        node = engine.scripts.node(conversation.lang.text, node_id)
        if node is not None:
            return say("node `{node}` ({source})", node=node_id, source=node.source)
    return ""


def _from_script(engine: Engine, conversation: Conversation, outcome: Outcome) -> bool:
    """True when a reply is a script node's text, False when it is one of the engine's own messages."""
    for reply in outcome.replies:
        node = engine.scripts.node(conversation.lang.text, reply.node) if reply.node else None
        # The engine fills in the line's open-now status, so compare the beginning only.
        if node is not None and reply.text[:40] == node.text[:40]:
            return True
    return False


def _node_hint(step: Step, answered: str) -> str:
    got = (
        say("the bot answered with {answered}", answered=answered)
        if answered
        else say("the bot answered by itself")
    )
    if step.action == "say":
        return say(
            '{got}. Run `uv run balansebot route "{text}"` to see why, and add the reader\'s words to '
            "`{node}`'s `phrases:` or `keywords:`.",
            got=got,
            text=step.value,
            node=step.node.text if step.node else "",
        )
    return say("{got}. Check the button's `goto:` (or the node's `command:`) in the script.", got=got)


def _expect_hint(step: Step, answered: str, scripted: bool) -> str:
    sentences = [
        say(
            "the text is not in the reply (case, spaces and formatting do not matter). If the script "
            "was changed on purpose, change the test to match; if not, the script has lost this text."
        ),
        say("Look at {answered}.", answered=answered)
        if answered and scripted
        else say("This reply is one of the bot's own messages (translated in locales/), not a script node."),
    ]
    if step.action == "say":
        sentences.append(
            say(
                'To see which answer “{text}” reaches and why: uv run balansebot route "{text}".',
                text=step.value,
            )
        )
    return " ".join(sentences)


def _said(replies: Sequence[Reply]) -> str:
    """What the bot said, as the reader sees it: text without HTML, then the buttons."""
    lines: list[str] = []
    for reply in replies:
        lines.extend(visible_text(reply.text).strip().splitlines())
        buttons = [f"[{b.text}]" for row in reply.keyboard for b in row]
        if buttons:
            lines.append("buttons: " + " ".join(buttons))
    return "\n".join(lines)


def _wanted(text: str) -> str:
    """What staff wrote, folded; HTML tags they copied from a script are ignored too."""
    return _fold(visible_text(text) if "<" in text and html_problem(text) is None else text)


def _fold(text: str) -> str:
    """For forgiving comparison: case, spacing and the kind of dash or quote do not matter."""
    return " ".join(_DASHES.sub("-", text.translate(_QUOTES)).casefold().split())


def check_and_run(engine: Engine, conversation: Conversation) -> Result | list[Problem]:
    """Run a conversation, unless the scripts reveal a mistake in it (an unknown node or language)."""
    problems = conversation_problems(conversation, engine.scripts)
    return problems or run_conversation(engine, conversation)
