"""Reading a test file into conversations: every mistake as file:line with a fix hint, as `check` does."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.content.problems import Problem
from bot.content.scripts import BUILT_IN_NODES, FORM_NODE, Scripts
from bot.content.yaml_source import Path_, YamlDocument, read_yaml
from bot.engine.form import STEPS
from bot.staff.dialogue_tests.conversation import (
    ACTIONS,
    DEFAULT_LANG,
    DEFAULT_TIME,
    OSLO,
    Action,
    Check,
    Conversation,
    Step,
)
from bot.staff.dialogue_tests.matching import fold_wanted
from bot.staff_words import marked, say

FILE_KEYS = ("lang", "time", "conversations")
CONVERSATION_KEYS = ("name", "lang", "time", "steps")
CHECKS = ("expect", "not", "buttons", "node")
STEP_KEYS = (*ACTIONS, *CHECKS)
# The form's questions, its summary and its thank-you are answered by the engine itself, not by a
# script node; tests may still name them (they are what `balansebot route` and the logs call them).
ENGINE_NODES = frozenset({*BUILT_IN_NODES, *(f"{FORM_NODE}_{step}" for step in STEPS), f"{FORM_NODE}_sendt"})
_NODE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_BRACKETS_HINT = marked(
    "a text inside [ ] has a `?`, `:` or `,` in it; put that text in quotes, "
    "or write each text on its own line starting with `- `."
)
_FORMAT_HINT = marked("see “Conversation tests” in dialogues/README.md for the format.")


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
            if text is None or not fold_wanted(text):
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
