"""YAML reading that remembers where every value stood, so problems can name file:line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from bot.content.models import ScriptFile
from bot.content.problems import Problem
from bot.staff_words import say

Path_ = tuple[str | int, ...]
NBSP = "\u00a0"
# `text: Del historien #metoo` — YAML reads ` #` as a comment and drops it; a comment staff meant has
# a space after `#`, a hashtag or a number (#1) has none.
CUT_BY_HASH = re.compile(r"^\s+(#[^\s#].*)$")


class _PlainResolver(BaseResolver):
    """Only true/false, whole numbers and null are typed; everything else stays text.

    YAML 1.1 would read `no` as False (the Norway problem) and `16:00` as 960 — both real traps
    for a Norwegian dialogue file.
    """


_PlainResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|false|False)$"), list("tTfF")
)
_PlainResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
)
_PlainResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|)$"), ["~", "n", "N", ""]
)


class _Loader(Reader, Scanner, Parser, Composer, SafeConstructor, _PlainResolver):
    """A safe loader with the plain resolver above."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _PlainResolver.__init__(self)


@dataclass(frozen=True)
class Located:
    """Where a value stood: its first line, and for block text how to find lines inside it."""

    line: int
    block_text_first_line: int | None = None


@dataclass
class YamlDocument:
    """A parsed YAML file: plain Python data plus the line of every value by its path."""

    path: Path
    data: Any
    lines: dict[Path_, Located] = field(default_factory=dict)
    source: str = ""
    """The file's text, to show an offending line under a problem."""

    @cached_property
    def source_lines(self) -> list[str]:
        """The file's lines, split once (every unquoted value is checked against its line)."""
        return self.source.splitlines()

    def excerpt(self, line: int, needle: str = "") -> tuple[str, int] | None:
        """Line `line` as written, with the column of `needle` in it (or of its first non-blank)."""
        return excerpt(self.source, line, needle)

    def line_of(self, loc: Path_) -> int:
        """The line of the deepest known value on `loc` (1-based)."""
        for end in range(len(loc), -1, -1):
            found = self.lines.get(tuple(loc[:end]))
            if found is not None:
                return found.line
        return 1

    def line_in_text(self, loc: Path_, offset: int, text: str) -> int:
        """The line of character `offset` inside the text value at `loc`."""
        found = self.lines.get(loc)
        if found is None:
            return self.line_of(loc)
        if found.block_text_first_line is None:
            return found.line
        return found.block_text_first_line + text.count("\n", 0, offset)


def read_yaml(path: Path, display_path: Path | None = None) -> YamlDocument | Problem:
    """Parse one YAML file, or say exactly where and why it is not valid YAML."""
    shown = display_path or path
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return Problem(
            shown,
            1,
            say("the file is not UTF-8 text ({reason})", reason=exc.reason),
            say("save the file as UTF-8 (most editors offer it under 'Save as')."),
        )
    return parse_yaml(source, shown)


def parse_yaml(source: str, shown: Path) -> YamlDocument | Problem:
    """Parse YAML text as `read_yaml` does a file (`shown` names it in problems)."""
    try:
        loader = _Loader(source)  # checks every character at once
    except ReaderError as exc:
        return Problem(
            shown,
            source.count("\n", 0, exc.position) + 1,
            say(
                "the file contains the invisible control character U+{character:04X}",
                character=exc.character,
            ),
            say("delete it (retype the line if you cannot see it); YAML does not allow control characters."),
        )
    pasted = _indented_with_nbsp(shown, source)
    if pasted is not None:
        loader.dispose()
        return pasted
    doc = YamlDocument(shown, None, source=source)
    duplicate: list[Problem] = []
    try:
        root = loader.get_single_node()
        if root is None:
            return doc
        doc.data = _convert(root, (), doc, loader, duplicate)
    except yaml.MarkedYAMLError as exc:  # a syntax error, or a tag like !!python/object
        return _syntax_problem(shown, source, exc)
    except yaml.YAMLError as exc:
        return Problem(shown, 1, say("this is not valid YAML: {exc}", exc=exc), say("check the indentation."))
    except RecursionError:
        # Both the composer and _convert recurse: thousands of nested brackets, or an alias
        # (*name) inside the value it names.
        return Problem(
            shown,
            1,
            say("the file is nested too deeply, or an alias (*name) refers to itself"),
            say("dialogue files need only a few levels; remove the extra brackets or the alias."),
        )
    finally:
        loader.dispose()
    if duplicate:
        return duplicate[0]
    return doc


def excerpt(source: str, line: int, needle: str = "") -> tuple[str, int] | None:
    """Line `line` (1-based) of `source`, and the column of `needle` in it (else its first non-blank)."""
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return None
    text = lines[line - 1]
    found = text.find(needle) if needle else -1
    return text, found if found >= 0 else len(text) - len(text.lstrip())


def _indented_with_nbsp(shown: Path, source: str) -> Problem | None:
    """A line indented with a non-breaking space (pasted from Word or a web page): YAML sees no indent there.

    It may even parse, into something else: a button's `goto:` read as more of its text.
    """
    for number, text in enumerate(source.splitlines(), start=1):
        indent = text[: len(text) - len(text.lstrip(" \t" + NBSP))]
        if NBSP in indent:
            return Problem(
                shown,
                number,
                say("this line is indented with a non-breaking space, which YAML does not count as a space"),
                say(
                    "delete the blank space at the start of the line and indent it again with the space bar."
                ),
                excerpt=(text, indent.index(NBSP)),
            )
    return None


def _syntax_problem(shown: Path, source: str, exc: yaml.MarkedYAMLError) -> Problem:
    """A YAML syntax error in plain words, at the line staff must change, with a caret under it."""
    problem = str(exc.problem or "")
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    column = mark.column if mark is not None else 0
    if exc.context == "while scanning a quoted scalar" and exc.context_mark is not None:
        start = exc.context_mark  # where the quote opened: PyYAML reports where the file ended
        quote = source[start.index] if start.index < len(source) else '"'
        return Problem(
            shown,
            start.line + 1,
            say("the text that starts with {quote} here has no closing {quote}", quote=quote),
            say(
                "end the text with {quote} on the same line, or remove the {quote} at its start.", quote=quote
            ),
            excerpt=(source.splitlines()[start.line], start.column),
        )
    if "mapping values are not allowed" in problem:
        message = say("a `:` in this text makes YAML read it as a new key")
        hint = say('put the whole text in quotes ("…"), or write `text: |` and the text on the lines below.')
    elif "found character '\\t'" in problem or "tab" in problem:
        message = say("this line is indented with a tab")
        hint = say("YAML allows only spaces for indentation; replace the tab with spaces.")
    elif (
        "expected <block end>" in problem
        or "did not find expected" in problem
        or "expected <block" in problem
    ):
        message = say("this line is not indented like the lines it belongs with")
        hint = say(
            "give it as many spaces at the start as its neighbours: every button's `- text:` lines up "
            "under the others, and `goto:` under its `text:`."
        )
    else:
        message = say("this is not valid YAML ({reason})", reason=problem or exc.context)
        hint = say("check the indentation and the quotes on this line and the one above.")
    lines = source.splitlines()
    shown_line = (lines[line - 1], column) if 1 <= line <= len(lines) else None
    return Problem(shown, line, message, hint, excerpt=shown_line)


def _cut_by_hash(node: ScalarNode, doc: YamlDocument) -> list[Problem]:
    """An unquoted value followed by `#word` on its line: YAML cut the text there."""
    end = node.end_mark
    lines = doc.source_lines
    if end.line >= len(lines):
        return []
    cut = CUT_BY_HASH.match(lines[end.line][end.column :])
    if cut is None:
        return []
    whole = f"{node.value} {cut.group(1)}".strip()
    return [
        Problem(
            doc.path,
            end.line + 1,
            say("the text stops before `{cut}`: YAML reads ` #` as the start of a comment", cut=cut.group(1)),
            say('put the whole text in quotes: "{whole}"', whole=whole),
            excerpt=(lines[end.line], end.column + cut.start(1)),
        )
    ]


def _convert(node: Node, loc: Path_, doc: YamlDocument, loader: _Loader, problems: list[Problem]) -> Any:
    first_line = node.start_mark.line + 1
    if isinstance(node, ScalarNode):
        block = first_line + 1 if node.style in ("|", ">") else None
        doc.lines[loc] = Located(first_line, block)
        if node.style is None:
            problems.extend(_cut_by_hash(node, doc))
        return loader.construct_object(node, deep=True)
    doc.lines[loc] = Located(first_line)
    if isinstance(node, SequenceNode):
        return [_convert(item, (*loc, i), doc, loader, problems) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(loader.construct_object(key_node, deep=True))
            if key in result:
                problems.append(
                    Problem(
                        doc.path,
                        key_node.start_mark.line + 1,
                        say("`{key}` appears twice here", key=key),
                        say("keep one of them; YAML would silently drop the first."),
                    )
                )
            child = (*loc, key)
            result[key] = _convert(value_node, child, doc, loader, problems)
            # Staff look for the key, so a value is located on its key's line.
            doc.lines[child] = replace(doc.lines[child], line=key_node.start_mark.line + 1)
        return result
    raise TypeError(f"unexpected YAML node {node!r}")


@dataclass(frozen=True)
class LoadedFile:
    """A script file as parsed, with the document that knows its lines."""

    doc: YamlDocument
    script: ScriptFile
