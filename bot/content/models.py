"""Typed models of the dialogue scripts and the facts file (what staff write in dialogues/)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from bot.staff_words import say

# Length is limited by what fits in a button's callback data; `check` reports that with its own hint.
NodeId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
CommandName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
# A language's code names its folder, its catalogue and its button's callback data ("lang:nb").
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Strict(BaseModel):
    """Unknown keys are typos staff should hear about, not silently ignore."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


# How long until the chat is deleted by itself: a whole number and a unit (`1h`, `30m`), or `off`.
AutoDelete = Annotated[str, StringConstraints(pattern=r"^(off|[1-9][0-9]{0,5}[smh])$")]
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
# `translated_from:` of a skeleton `balansebot translations --scaffold` wrote: not translated yet.
SCAFFOLD_MARK = "ikke_oversatt"


class Button(_Strict):
    """One inline button: to another node (`goto`), to a web page (`url`), or an action of the bot:
    `quick_exit: true` deletes the conversation at once, `auto_delete: 8h` (or `off`) sets when it
    is deleted by itself."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    goto: NodeId | None = None
    url: str | None = None
    quick_exit: Literal[True] | None = None
    auto_delete: AutoDelete | None = None

    @model_validator(mode="after")
    def _exactly_one_target(self) -> Button:
        targets = [self.goto, self.url, self.quick_exit, self.auto_delete]
        if sum(target is not None for target in targets) != 1:
            raise ValueError(
                say(
                    "a button needs exactly one of `goto:` (a node id), `url:` (a web address), "
                    "`quick_exit: true` (hide the chat at once) or `auto_delete:` (1h, 8h, 24h or off)"
                )
            )
        return self

    def auto_delete_seconds(self) -> int | None:
        """The `auto_delete:` choice in seconds (0: off); None for any other kind of button."""
        if self.auto_delete is None:
            return None
        if self.auto_delete == "off":
            return 0
        return int(self.auto_delete[:-1]) * UNIT_SECONDS[self.auto_delete[-1]]


class Node(_Strict):
    """One step of a dialogue: a message, its buttons and what free text leads to it."""

    id: NodeId
    title: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    text: Annotated[str, StringConstraints(min_length=1)]
    command: CommandName | None = None
    buttons: list[Button] = Field(default_factory=list)
    phrases: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    end: bool = False
    """True when the menu button alone is a fine way on (otherwise a node without buttons is a dead end)."""
    translated_from: str | None = None
    """In a translation: the fingerprint of the Bokmål node it was made from (`balansebot translations`)."""

    def fingerprint(self) -> str:
        """A short hash of what a reader sees (title, text, buttons); when it changes, translate again."""
        shown = "\n".join([self.title, self.text.strip(), *(b.text for b in self.buttons)])
        return hashlib.sha256(shown.encode()).hexdigest()[:8]


class ScriptFile(_Strict):
    """One YAML file under dialogues/<lang>/: a topic and its nodes."""

    topic: NodeId
    nodes: list[Node]


ConceptName = Annotated[str, StringConstraints(pattern=r"^[a-zæøå][a-zæøå0-9_]*$")]


class AcuteRule(_Strict):
    """An alarm: the message holds a phrase of every concept in `when`, and of none in `unless`."""

    when: list[ConceptName] = Field(min_length=1)
    unless: list[ConceptName] = Field(default_factory=list)
    node: NodeId | None = None
    """The acute node this alarm shows; the file's `node` when not given."""
    weak: bool = False
    """A weak cue: the acute help is shown first, then the answer the message would otherwise get."""
    near: int | None = Field(default=None, ge=1, le=50)
    """When given: the concepts of `when` must stand within this many words of each other."""


class AcuteFile(_Strict):
    """dialogues/<lang>/acute.yaml: when free text means someone is in danger right now."""

    node: NodeId
    concepts: dict[ConceptName, list[str]] = Field(min_length=1)
    """Named lists of phrases (e.g. `nå: [nå, akkurat nå, right now]`) that the rules combine."""
    rules: list[AcuteRule] = Field(min_length=1)
    not_danger: list[str] = Field(default_factory=list)
    """Idioms and set phrases whose words are never danger words ("døde av latter", "det slår meg")."""


class Hours(_Strict):
    """Opening hours of a phone line (local time, Europe/Oslo)."""

    days: list[Weekday] = Field(min_length=1)
    opens: dt.time
    closes: dt.time
    timezone: str = "Europe/Oslo"
    extra_closed_days: list[dt.date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _opens_before_closing(self) -> Hours:
        if self.opens >= self.closes:
            raise ValueError(say("`opens` must be earlier than `closes`"))
        return self


class WordsFile(_Strict):
    """dialogues/<lang>/words.yaml: how people write versus the words the scripts use."""

    synonyms: dict[str, str] = Field(default_factory=dict)
    """A word people type → the word the scripts use (Nynorsk, dialect, English, slang)."""
    ignore: list[str] = Field(default_factory=list)
    """Words too common to say anything about the topic (og, er, jeg …)."""
    stemmer: Literal["norwegian", "english"] = "norwegian"
    """How this language's words are cut to their stems for routing."""
    generic: list[str] = Field(default_factory=list)
    """Words of every walk of life (søke, koste, åpen, hjelp …): they count only beside a word of the
    scripts' own topics, so "hva koster billetten" is not taken for a question about Balansemerket."""


class LanguageEntry(_Strict):
    """One language as staff write it in languages.yaml."""

    code: LanguageCode
    name: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    """The language's name in itself, on its button in the language menu."""
    locale: Annotated[str, StringConstraints(min_length=2)]
    """The babel locale its dates, times and numbers are written in (nb_NO, en_GB)."""
    telegram: list[LanguageCode] = Field(default_factory=list)
    """Telegram language codes besides `code` that choose this language ("no" for Bokmål)."""
    time: str = "short"
    """How a time of day is written: a babel pattern (HH.mm) or short."""
    day: str = "EEEE d MMMM"
    """How "Monday 28 December" is written (a babel date pattern)."""


class LanguagesFile(_Strict):
    """dialogues/languages.yaml."""

    languages: list[LanguageEntry] = Field(min_length=1)
    other: LanguageCode
    """The language of a chat whose Telegram language is none of these."""
