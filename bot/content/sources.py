"""Where each fact comes from, when someone last checked it there, and the law text quoted word for word.

The `sources:` list at the end of dialogues/facts.yaml names, for every fact, its source (a web
page, a statute on Lovdata) and the date someone last compared the fact with it. `balansebot check`
warns when a fact has no source, or when its source was last checked more than a year ago, so staff
are reminded to look again. A source may also record law text as it stands (`quotes:`, by section
and paragraph); every «quotation» in a <blockquote> of the scripts must be that text, character by
character, and must say which paragraph it quotes.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationError

from bot.content.facts import PLACEHOLDER, SOURCES_KEY, Facts
from bot.content.models import _Strict
from bot.content.problems import Problem
from bot.content.schema_errors import schema_problems
from bot.content.yaml_source import YamlDocument
from bot.staff_words import say

# "§ 13 (3)", "§ 4-3 (5)": a section and its paragraph (ledd), as Lovdata numbers them.
QuoteKey = Annotated[str, StringConstraints(pattern=r"^§ [0-9]+[a-z]?(-[0-9]+[a-z]?)? \([0-9]+\)$")]
_BLOCKQUOTE = re.compile(r"<blockquote>\s*«(.*?)»\s*</blockquote>", re.S)
# Paragraph numbers as the scripts write them: "femte ledd" (nb, nn) or "fifth paragraph" (en).
_ORDINALS = {
    "første": 1,
    "fyrste": 1,
    "andre": 2,
    "annet": 2,
    "tredje": 3,
    "fjerde": 4,
    "femte": 5,
    "sjette": 6,
    "sjuende": 7,
    "syvende": 7,
    "åttende": 8,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
}
_LEDD = re.compile(r"\b(" + "|".join(_ORDINALS) + r")\s+(?:ledd|paragraph)\b", re.I)
_SENTENCE_END = re.compile(r"[.!?:;]$")


class SourceEntry(_Strict):
    """One source in facts.yaml: the facts it backs, what and where it is, and when it was checked."""

    facts: list[Annotated[str, StringConstraints(min_length=1)]] = Field(min_length=1)
    """Facts by their name (`hotline.phone`) or whole groups (`emergency`)."""
    source: Annotated[str, StringConstraints(min_length=1)]
    """What the source is, so anyone can find it again."""
    url: str | None = None
    checked: dt.date
    """When someone last compared these facts with the source (YYYY-MM-DD)."""
    note: str | None = None
    """Anything the next person to check should know."""
    quotes: dict[QuoteKey, Annotated[str, StringConstraints(min_length=1)]] = Field(default_factory=dict)
    """Law text word for word, by section and paragraph: `"§ 13 (3)": "Med seksuell trakassering …"`."""


@dataclass(frozen=True)
class FactSources:
    """The sources as read from facts.yaml, with the document that knows their lines."""

    doc: YamlDocument
    entries: tuple[tuple[int, SourceEntry], ...]
    """Each entry with its index in the list (for line numbers)."""

    def quote(self, section_fact: str, section: str, paragraph: int) -> str | None:
        """The recorded text of `section` (`paragraph`) from the source that backs `section_fact`."""
        key = f"{section} ({paragraph})"
        for _, entry in self.entries:
            if key in entry.quotes and _covers(entry.facts, section_fact):
                return entry.quotes[key]
        return None


@dataclass(frozen=True)
class LawQuote:
    """A «quotation» in a script's <blockquote>, and the section and paragraph its text says it quotes."""

    offset: int
    """Where the quoted text starts in the script's text."""
    text: str
    section_fact: str | None
    """The `law.*_section` fact named before the quotation (`law.equality_act_section`)."""
    paragraph: int | None


def read_sources(doc: YamlDocument) -> tuple[FactSources | None, list[Problem]]:
    """The `sources:` of a facts document, and what is wrong with them (warnings: they never stop the bot)."""
    raw = doc.data.get(SOURCES_KEY) if isinstance(doc.data, dict) else None
    if raw is None:
        hint = say("add a `sources:` list at the end of facts.yaml (see the comments there).")
        return None, [Problem(doc.path, 1, say("no fact has a source"), hint, "warning")]
    if not isinstance(raw, list):
        line = doc.line_of((SOURCES_KEY,))
        hint = say("write each source as a `- facts: […]` entry with `source:` and `checked:`.")
        return None, [Problem(doc.path, line, say("`sources:` should be a list"), hint, "warning")]
    problems: list[Problem] = []
    entries: list[tuple[int, SourceEntry]] = []
    for index, item in enumerate(raw):
        try:
            entries.append((index, SourceEntry.model_validate(item)))
        except ValidationError as exc:
            for problem in schema_problems(doc, exc, SourceEntry, (SOURCES_KEY, index)):
                problems.append(Problem(problem.path, problem.line, problem.message, problem.hint, "warning"))
    return FactSources(doc, tuple(entries)), problems


def check_sources(sources: FactSources, facts: Facts, today: dt.date) -> list[Problem]:
    """Facts without a source, sources naming no fact, and sources not checked for more than a year."""
    doc = sources.doc
    problems: list[Problem] = []
    named: list[str] = []
    for index, entry in sources.entries:
        for f_index, name in enumerate(entry.facts):
            named.append(name)
            if not any(_covers((name,), key) for key in facts.values):
                close = difflib.get_close_matches(name, list(facts.values), n=1)
                problems.append(
                    Problem(
                        doc.path,
                        doc.line_of((SOURCES_KEY, index, "facts", f_index)),
                        say("there is no fact `{name}` for this source to back", name=name),
                        say("did you mean `{suggestion}`?", suggestion=close[0])
                        if close
                        else say("check the name, or remove it."),
                        "warning",
                    )
                )
        checked_line = doc.line_of((SOURCES_KEY, index, "checked"))
        year_ago = _a_year_before(today)
        if entry.checked < year_ago:
            shown = ", ".join(entry.facts)
            where = (
                say("open {url}", url=entry.url)
                if entry.url
                else say("look at {source}", source=entry.source)
            )
            problems.append(
                Problem(
                    doc.path,
                    checked_line,
                    say(
                        "{shown}: last checked {checked}, more than a year ago",
                        shown=shown,
                        checked=entry.checked.isoformat(),
                    ),
                    say(
                        "{where}, correct what has changed, and write `checked: {today}`.",
                        where=where,
                        today=today.isoformat(),
                    ),
                    "warning",
                )
            )
        elif entry.checked > today:
            problems.append(
                Problem(
                    doc.path,
                    checked_line,
                    say(
                        "`checked: {checked}` is in the future",
                        checked=entry.checked.isoformat(),
                    ),
                    say(
                        "write the date you compared the facts with the source (today is {today}).",
                        today=today.isoformat(),
                    ),
                    "warning",
                )
            )
    for key in sorted(facts.values):
        if not _covers(named, key):
            problems.append(
                Problem(
                    doc.path,
                    doc.line_of(tuple(key.split("."))),
                    say("`{key}` has no source", key=key),
                    say(
                        "list it under `facts:` of the entry in `sources:` it comes from (or add an "
                        "entry with `source:`, `url:` and the date you checked it)."
                    ),
                    "warning",
                )
            )
    return problems


def law_quotes(text: str) -> list[LawQuote]:
    """Every «quotation» in a <blockquote>, with the section fact and paragraph named before it.

    The citation is looked for in the text between the previous blank line (or quotation) and the
    quotation: the last `{law.…_section}` placeholder and the last "… ledd" / "… paragraph" there.
    """
    found = []
    previous_end = 0
    for match in _BLOCKQUOTE.finditer(text):
        start = max(text.rfind("\n\n", 0, match.start()), previous_end)
        lead_in = text[start : match.start()]
        sections = [
            key for key in PLACEHOLDER.findall(lead_in) if key.startswith("law.") and key.endswith("_section")
        ]
        paragraphs = _LEDD.findall(lead_in)
        found.append(
            LawQuote(
                offset=match.start(1),
                text=match.group(1),
                section_fact=sections[-1] if sections else None,
                paragraph=_ORDINALS[paragraphs[-1].lower()] if paragraphs else None,
            )
        )
        previous_end = match.end()
    return found


def quote_problem(quote: LawQuote, sources: FactSources, facts: Facts) -> str | None:
    """Why a quotation is not the recorded law text word for word (None when it is)."""
    if quote.section_fact is None or quote.paragraph is None:
        return say("the quotation does not say which section and paragraph it quotes")
    section = facts.values.get(quote.section_fact)
    if not isinstance(section, str):
        return say('`{fact}` is not a section such as "§ 13"', fact=quote.section_fact)
    recorded = sources.quote(quote.section_fact, section, quote.paragraph)
    if recorded is None:
        return say(
            "facts.yaml records no text of {section} ({paragraph}) to compare this quotation with",
            section=section,
            paragraph=quote.paragraph,
        )
    if not is_whole_sentences_of(quote.text, recorded):
        where = _first_difference(quote.text, recorded)
        return say(
            "the quotation differs from {section} ({paragraph}) as recorded in facts.yaml {where}",
            section=section,
            paragraph=quote.paragraph,
            where=where,
        )
    return None


def is_whole_sentences_of(quoted: str, recorded: str) -> bool:
    """True when `quoted` is the recorded text, or one or more of its sentences, character by character."""
    if quoted == recorded:
        return True
    start = recorded.find(quoted)
    while start != -1:
        before = recorded[:start]
        at_sentence_start = start == 0 or (before.endswith(" ") and _SENTENCE_END.search(before.rstrip()))
        end = start + len(quoted)
        at_sentence_end = _SENTENCE_END.search(quoted) is not None and (
            end == len(recorded) or recorded[end] == " "
        )
        if at_sentence_start and at_sentence_end:
            return True
        start = recorded.find(quoted, start + 1)
    return False


def check_quotes(
    loaded: Mapping[str, Sequence[tuple[YamlDocument, Iterable[tuple[int, str]]]]],
    sources: FactSources | None,
    facts: Facts,
) -> list[Problem]:
    """Every law quotation in every language's scripts, compared with the text facts.yaml records."""
    if sources is None:
        return []
    problems = []
    for documents in loaded.values():
        for doc, texts in documents:
            for index, text in texts:
                for quote in law_quotes(text):
                    problem = quote_problem(quote, sources, facts)
                    if problem is not None:
                        problems.append(
                            Problem(
                                doc.path,
                                doc.line_in_text(("nodes", index, "text"), quote.offset, text),
                                problem,
                                say(
                                    "quote the law exactly as recorded under `quotes:` in facts.yaml, "
                                    "and name its section and paragraph before the quotation "
                                    '(e.g. "{{law.equality_act_section}} tredje ledd").'
                                ),
                                "warning",
                            )
                        )
    return problems


def _covers(names: Iterable[str], key: str) -> bool:
    """Whether a fact (`hotline.phone`) is one of `names` or in one of their groups (`hotline`)."""
    return any(key == name or key.startswith(name + ".") for name in names)


def _a_year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _first_difference(quoted: str, recorded: str) -> str:
    """Where the quotation first parts from the closest stretch of the recorded text."""
    matcher = difflib.SequenceMatcher(None, quoted, recorded, autojunk=False)
    for tag, i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            wanted = recorded[j1:j2] or say("nothing")
            return say(
                "at character {position}: the law has {wanted!r} here, the quotation {quoted!r}",
                position=i1 + 1,
                wanted=wanted,
                quoted=quoted[i1 : i1 + 12],
            )
    return say("(it is not whole sentences of that paragraph)")
