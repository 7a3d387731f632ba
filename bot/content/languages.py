"""The languages the bot speaks (dialogues/languages.yaml): their order, names, locales and Telegram codes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale, UnknownLocaleError
from pydantic import ValidationError

from bot.content.models import LanguagesFile
from bot.content.problems import Problem
from bot.content.schema_errors import schema_problems
from bot.content.yaml_source import YamlDocument, read_yaml
from bot.staff_words import say

LANGUAGES_FILE = "languages.yaml"


@dataclass(frozen=True)
class Language:
    """How one language is offered and how it writes dates, times and numbers."""

    code: str
    name: str
    locale: str
    telegram: tuple[str, ...] = ()
    time: str = "short"
    day: str = "EEEE d MMMM"
    line: int = field(default=1, compare=False)
    """Where languages.yaml lists it, for problems."""


@dataclass(frozen=True)
class LanguageList:
    """Every language the bot speaks, in the order the language menu shows them (the first is the default)."""

    entries: tuple[Language, ...]
    other: str
    """The language for a Telegram language code that no entry claims."""

    @property
    def codes(self) -> tuple[str, ...]:
        """The language codes in menu order."""
        return tuple(entry.code for entry in self.entries)

    def get(self, code: str) -> Language:
        """The language `code`, or the default one when the list has no such language."""
        return next((e for e in self.entries if e.code == code), self.entries[0])

    def name(self, code: str) -> str:
        """The language's name in itself, as its button shows it."""
        return next((e.name for e in self.entries if e.code == code), code)

    def telegram_codes(self) -> dict[str, str]:
        """Each Telegram language code an entry claims (its own code and its aliases) → the entry's code."""
        return {alias: e.code for e in self.entries for alias in (e.code, *e.telegram)}

    def choose(self, language_code: str | None, available: Iterable[str]) -> str:
        """A new chat's language from a Telegram (or browser) language code: the entry that claims it,
        else `other`; no code at all → the default; always one that has scripts."""
        code = (language_code or "").lower().replace("_", "-").split("-")[0]
        wanted = self.entries[0].code if not code else self.telegram_codes().get(code, self.other)
        present = set(available)
        if wanted in present:
            return wanted
        return next((c for c in self.codes if c in present), wanted)

    @classmethod
    def plain(cls, codes: Iterable[str]) -> LanguageList:
        """Languages known by their codes only: for checking scripts when languages.yaml is broken."""
        entries = tuple(Language(code, code, code) for code in codes) or (Language("nb", "nb", "nb"),)
        return cls(entries, entries[0].code)


def read_languages(path: Path, shown: Path) -> LanguageList | list[Problem]:
    """Read and check languages.yaml (`shown` is the path problems name)."""
    if not path.exists():
        return [
            Problem(
                shown,
                1,
                say("the languages file is missing"),
                say("restore dialogues/languages.yaml from version control."),
            )
        ]
    doc = read_yaml(path, shown)
    if isinstance(doc, Problem):
        return [doc]
    try:
        spec = LanguagesFile.model_validate(doc.data)
    except ValidationError as exc:
        return schema_problems(doc, exc, LanguagesFile)
    problems = _check_entries(doc, spec)
    if problems:
        return problems
    entries = tuple(
        Language(e.code, e.name, e.locale, tuple(e.telegram), e.time, e.day, doc.line_of(("languages", i)))
        for i, e in enumerate(spec.languages)
    )
    return LanguageList(entries, spec.other)


def _check_entries(doc: YamlDocument, spec: LanguagesFile) -> list[Problem]:
    """What the schema cannot say: a code or Telegram code twice, an unknown locale, `other` unlisted."""
    problems: list[Problem] = []
    claimed: dict[str, str] = {}
    for index, entry in enumerate(spec.languages):
        if entry.code in (e.code for e in spec.languages[:index]):
            problems.append(
                _at(
                    doc,
                    ("languages", index, "code"),
                    say("the language `{code}` is listed twice", code=entry.code),
                    say("keep one entry per language."),
                )
            )
            continue
        try:
            Locale.parse(entry.locale)
        except (UnknownLocaleError, ValueError):
            problems.append(
                _at(
                    doc,
                    ("languages", index, "locale"),
                    say("babel does not know the locale `{locale}`", locale=entry.locale),
                    say("write a language and country like nb_NO or en_GB."),
                )
            )
        for position, alias in enumerate((entry.code, *entry.telegram)):
            owner = claimed.setdefault(alias, entry.code)
            if owner != entry.code:
                where = ("languages", index, "telegram", position - 1) if position else ("languages", index)
                problems.append(
                    _at(
                        doc,
                        where,
                        say(
                            "the Telegram code `{alias}` is claimed by both `{first}` and `{second}`",
                            alias=alias,
                            first=owner,
                            second=entry.code,
                        ),
                        say("let one language claim it."),
                    )
                )
    if spec.other not in (e.code for e in spec.languages):
        problems.append(
            _at(
                doc,
                ("other",),
                say("`other: {code}` is not one of the languages listed", code=spec.other),
                say("name one of the codes under `languages:`."),
            )
        )
    return problems


def _at(doc: YamlDocument, loc: tuple[str | int, ...], message: str, hint: str) -> Problem:
    """A problem at the line of `loc` in languages.yaml."""
    return Problem(doc.path, doc.line_of(loc), message, hint)
