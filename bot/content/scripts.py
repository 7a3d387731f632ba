"""The loaded, checked and rendered dialogue scripts that the engine serves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.content.facts import Facts

# Nodes the engine itself needs; `check` refuses scripts without them.
START, MENU, HELP, FALLBACK, ACUTE, PRIVACY, DELETED = (
    "start",
    "meny",
    "hjelp",
    "ikke_forstatt",
    "akutt",
    "personvern",
    "slettet",
)
REQUIRED_NODES = (START, MENU, HELP, FALLBACK, ACUTE, PRIVACY, DELETED)
# Commands the engine handles itself; scripts may not claim them for a node.
BUILT_IN_COMMANDS = frozenset({"slett", "avbryt", "sprak", "språk"})
SOURCE_LANGUAGE = "nb"


@dataclass(frozen=True)
class Source:
    """Where something was written, for messages to staff."""

    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class ScriptButton:
    """A rendered button: to a node, or to a web address."""

    text: str
    goto: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class ScriptNode:
    """A rendered node, ready to send: facts filled in, HTML checked."""

    id: str
    topic: str
    title: str
    text: str
    buttons: tuple[ScriptButton, ...]
    command: str | None
    phrases: tuple[str, ...]
    keywords: tuple[str, ...]
    end: bool
    source: Source


@dataclass(frozen=True)
class AcuteRules:
    """When free text means someone is in danger now (see dialogues/<lang>/acute.yaml)."""

    node: str
    rules: tuple[tuple[tuple[str, ...], ...], ...]
    never_when: tuple[str, ...] = ()


@dataclass(frozen=True)
class LanguageScript:
    """All nodes of one language."""

    lang: str
    nodes: Mapping[str, ScriptNode]
    acute: AcuteRules | None
    synonyms: Mapping[str, str] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()

    def command_node(self, command: str) -> ScriptNode | None:
        """The node a /command opens, if any."""
        return next((n for n in self.nodes.values() if n.command == command), None)


@dataclass(frozen=True)
class Scripts:
    """Every language's script, the facts, and a version hash of the files they came from."""

    languages: Mapping[str, LanguageScript]
    facts: Facts
    version: str
    files: tuple[Path, ...] = field(default=())

    def language(self, lang: str) -> LanguageScript:
        """The script for `lang`, or the source language's when there is none."""
        return self.languages.get(lang) or self.languages[SOURCE_LANGUAGE]

    def node(self, lang: str, node_id: str) -> ScriptNode | None:
        """A node in `lang`, falling back to the source language when not translated."""
        found = self.language(lang).nodes.get(node_id)
        if found is None and lang != SOURCE_LANGUAGE:
            found = self.languages[SOURCE_LANGUAGE].nodes.get(node_id)
        return found
