"""The loaded, checked and rendered dialogue scripts that the engine serves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from bot.content.facts import Facts
from bot.content.languages import LanguageList

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
# A button may lead here; the engine shows the language choice itself.
LANGUAGE_NODE = "sprak"
FORM_NODE = "skjema"  # the Balansemerket interest form, offered only when delivery to staff is set up
BUILT_IN_NODES = frozenset({LANGUAGE_NODE, FORM_NODE})
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
    """A rendered button: to a node, to a web address, the quick exit, or an auto-delete choice."""

    text: str
    goto: str | None = None
    url: str | None = None
    quick_exit: bool = False
    """Deletes the conversation at once and leaves one neutral message."""
    auto_delete_seconds: int | None = None
    """Deletes the conversation this long after the press (0: turns automatic deletion off)."""


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
    fingerprint: str = ""
    """Of the text as written (see Node.fingerprint): what translations record as their source."""


@dataclass(frozen=True)
class Alarm:
    """One rule of acute.yaml: which concepts must all be there (and none of `unless`), and its node."""

    node: str
    when: tuple[str, ...]
    unless: tuple[str, ...] = ()
    weak: bool = False
    near: int | None = None


@dataclass(frozen=True)
class AcuteRules:
    """When free text means someone is in danger now (see dialogues/<lang>/acute.yaml)."""

    node: str
    concepts: Mapping[str, tuple[str, ...]]
    alarms: tuple[Alarm, ...]
    not_danger: tuple[str, ...] = ()

    def merged(self, other: AcuteRules) -> AcuteRules:
        """These rules and another language's, as one set (concepts of the same name are joined)."""
        concepts = {name: tuple(dict.fromkeys(phrases)) for name, phrases in self.concepts.items()}
        for name, phrases in other.concepts.items():
            concepts[name] = tuple(dict.fromkeys((*concepts.get(name, ()), *phrases)))
        alarms = tuple(dict.fromkeys((*self.alarms, *other.alarms)))
        not_danger = tuple(dict.fromkeys((*self.not_danger, *other.not_danger)))
        return AcuteRules(self.node, concepts, alarms, not_danger)


@dataclass(frozen=True)
class LanguageScript:
    """All nodes of one language."""

    lang: str
    nodes: Mapping[str, ScriptNode]
    acute: AcuteRules | None
    synonyms: Mapping[str, str] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    generic: frozenset[str] = frozenset()
    stemmer: str = "norwegian"
    english: frozenset[str] = frozenset()
    """For routing: the phrases and keywords written in a language stemmed as English."""

    def command_node(self, command: str) -> ScriptNode | None:
        """The node a /command opens, if any."""
        return self._by_command.get(command)

    @cached_property
    def _by_command(self) -> Mapping[str, ScriptNode]:
        # Commands are looked up on most updates; the first node naming one wins, as the checks
        # refuse two nodes with the same command anyway.
        found: dict[str, ScriptNode] = {}
        for node in self.nodes.values():
            if node.command is not None:
                found.setdefault(node.command, node)
        return found


@dataclass(frozen=True)
class Scripts:
    """Every language's script, the facts, and a version hash of the files they came from."""

    languages: Mapping[str, LanguageScript]
    facts: Facts
    version: str
    files: tuple[Path, ...] = field(default=())

    @property
    def language_list(self) -> LanguageList:
        """The languages offered, in menu order, with their names and locales (languages.yaml)."""
        return self.facts.languages

    def language(self, lang: str) -> LanguageScript:
        """The script for `lang`, or the source language's when there is none."""
        return self.languages.get(lang) or self.languages[SOURCE_LANGUAGE]

    def for_routing(self) -> LanguageScript:
        """The source language's nodes, each with the phrases and keywords of every translation.

        Node ids are shared across languages, so one router understands a Nynorsk or English
        question whatever language the chat has chosen; the answer is then shown in that language.
        """
        source = self.languages[SOURCE_LANGUAGE]
        others = [s for lang, s in sorted(self.languages.items()) if lang != SOURCE_LANGUAGE]
        nodes = {}
        for node_id, node in source.nodes.items():
            translations = [s.nodes[node_id] for s in others if node_id in s.nodes]
            nodes[node_id] = replace(
                node,
                phrases=node.phrases + tuple(p for t in translations for p in t.phrases),
                keywords=node.keywords + tuple(k for t in translations for k in t.keywords),
            )
        synonyms: dict[str, str] = {}
        for script in [*others, source]:  # the source language's synonyms win a conflict
            synonyms.update(script.synonyms)
        ignore = frozenset().union(*(s.ignore for s in self.languages.values()))
        generic = frozenset().union(*(s.generic for s in self.languages.values()))
        english = frozenset(
            text
            for script in others
            if script.stemmer == "english"
            for node in script.nodes.values()
            for text in (*node.phrases, *node.keywords)
        )
        return LanguageScript(
            SOURCE_LANGUAGE, nodes, source.acute, synonyms, ignore, generic, source.stemmer, english
        )

    def node(self, lang: str, node_id: str) -> ScriptNode | None:
        """A node in `lang`, falling back to the source language when not translated."""
        found = self.language(lang).nodes.get(node_id)
        if found is None and lang != SOURCE_LANGUAGE:
            found = self.languages[SOURCE_LANGUAGE].nodes.get(node_id)
        return found
