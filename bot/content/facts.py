"""The facts file: every contact detail and figure in one place, shown in each language's style."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from babel.dates import format_date, format_time, get_day_names
from babel.lists import format_list
from babel.numbers import format_decimal

from bot.content.languages import Language, LanguageList
from bot.content.models import Hours
from bot.i18n import Catalogs

PLACEHOLDER = re.compile(r"(?<!\{)\{([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*)\}(?!\})")
_WEEKDAY_INDEX = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_WORKING_WEEK = ("mon", "tue", "wed", "thu", "fri")
HOTLINE_HOURS_PATH = ("hotline", "hours")
# The part of facts.yaml that says where the facts come from (bot/content/sources.py): not a fact.
SOURCES_KEY = "sources"
# A whole-number fact whose name ends in one of these is shown with its unit and the plural its
# number needs, the number in words where Norwegian writes words: {badge.valid_years} → "ett år",
# {hotline.callback_working_days} → "én virkedag" (2 → "to virkedager", 30 → "30 virkedager").
COUNTED_SUFFIXES = (
    ("_working_days", "working_day"),
    ("_days", "day"),
    ("_hours", "hour"),
    ("_years", "year"),
)
# Facts that depend on the moment a message is sent; the engine fills them in, not the loader.
HOTLINE_STATUS = "hotline.status"
DYNAMIC_FACTS = frozenset({HOTLINE_STATUS})


@dataclass(frozen=True)
class Weekdays:
    """A set of weekdays, shown as 'mandag–fredag' when it is Monday to Friday."""

    days: tuple[str, ...]


@dataclass(frozen=True)
class Facts:
    """Fact values by dotted path ('hotline.phone'), the typed opening hours, and how each language
    writes them (languages.yaml)."""

    values: Mapping[str, object]
    hotline_hours: Hours
    languages: LanguageList

    def display(self, key: str, lang: str, catalogs: Catalogs) -> str:
        """The fact as text for readers of `lang` (not yet HTML-escaped)."""
        value = self.values[key]
        unit = counted_unit(key, value)
        if unit is not None and isinstance(value, int):
            return counted(value, unit, self.languages.get(lang), catalogs)
        return display_value(value, self.languages.get(lang), catalogs)

    def render(self, template: str, lang: str, catalogs: Catalogs, *, escape: bool = True) -> str:
        """Fill {placeholders} in a script text; facts are HTML-escaped unless `escape` is off."""

        def substitute(match: re.Match[str]) -> str:
            if match.group(1) in DYNAMIC_FACTS:
                return match.group(0)
            shown = self.display(match.group(1), lang, catalogs)
            return html.escape(shown, quote=False) if escape else shown

        return PLACEHOLDER.sub(substitute, template).replace("{{", "{").replace("}}", "}")


def build_facts(raw: Mapping[str, Any], languages: LanguageList) -> Facts:
    """Flatten the facts file; `hotline.hours` must be valid opening hours (raises ValueError)."""
    values: dict[str, object] = {}
    _flatten({k: v for k, v in raw.items() if k != SOURCES_KEY}, (), values)
    hours_raw: Any = raw
    for part in HOTLINE_HOURS_PATH:
        hours_raw = hours_raw.get(part) if isinstance(hours_raw, Mapping) else None
    hours = Hours.model_validate(hours_raw)
    prefix = ".".join(HOTLINE_HOURS_PATH)
    values[f"{prefix}.opens"] = hours.opens
    values[f"{prefix}.closes"] = hours.closes
    values[f"{prefix}.days"] = Weekdays(tuple(hours.days))
    values[f"{prefix}.extra_closed_days"] = list(hours.extra_closed_days)
    return Facts(values, hours, languages)


def placeholders(template: str) -> list[tuple[int, str]]:
    """The (offset, key) of every {placeholder} in a text."""
    return [(m.start(), m.group(1)) for m in PLACEHOLDER.finditer(template)]


def display_value(value: object, language: Language, catalogs: Catalogs) -> str:
    """Format one fact value the way `language` writes times, weekdays, dates and lists."""
    locale = language.locale
    if isinstance(value, dt.time):
        return format_time(value, language.time, locale=locale)
    if isinstance(value, dt.date):
        return format_date(value, "long", locale=locale)
    if isinstance(value, Weekdays):
        if value.days == _WORKING_WEEK:
            return catalogs.get(language.code).gettext("Monday to Friday")
        names = get_day_names("wide", locale=locale)
        return format_list([names[_WEEKDAY_INDEX[d]] for d in value.days], locale=locale)
    if isinstance(value, list):
        return format_list([display_value(v, language, catalogs) for v in value], locale=locale)
    return str(value)


def counted_unit(key: str, value: object) -> str | None:
    """The unit a fact is counted in ('day', 'hour' …), when it is a whole number named for one."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    name = key.rsplit(".", 1)[-1]
    return next((unit for suffix, unit in COUNTED_SUFFIXES if name.endswith(suffix)), None)


def counted(number: int, unit: str, language: Language, catalogs: Catalogs) -> str:
    """`number` of `unit` as running text: "én virkedag", "to virkedager", "30 dager", "one year"."""
    translations = catalogs.get(language.code)
    shown = number_in_words(number, language, catalogs)
    match unit:
        case "working_day":
            phrase = translations.ngettext("{n} working day", "{n} working days", number)
        case "day":
            phrase = translations.ngettext("{n} day", "{n} days", number)
        case "hour":
            phrase = translations.ngettext("{n} hour", "{n} hours", number)
        case "year":
            phrase = translations.ngettext("{n} year", "{n} years", number)
        case _:
            raise ValueError(f"no unit {unit!r}")
    return phrase.format(n=shown)


def number_in_words(number: int, language: Language, catalogs: Catalogs) -> str:
    """Two to twelve in words ("to", "tre" … "tolv"), other numbers in figures ("30", "1 000").

    Running text spells out numbers up to twelve (Språkrådet); one is part of each unit's singular
    ("én virkedag", "ett år"), where its gender is known.
    """
    _ = catalogs.get(language.code).gettext
    words = (
        _("two"), _("three"), _("four"), _("five"), _("six"), _("seven"),
        _("eight"), _("nine"), _("ten"), _("eleven"), _("twelve"),
    )  # fmt: skip
    if 2 <= number < 2 + len(words):
        return words[number - 2]
    return format_decimal(number, locale=language.locale)


def repeated_units(
    template: str, values: Mapping[str, object], language: Language, catalogs: Catalogs
) -> list[tuple[int, str, str]]:
    """(offset, key, word) where a counted fact is followed by its unit: "{privacy.retention_days} dager"."""
    found = []
    for match in PLACEHOLDER.finditer(template):
        key = match.group(1)
        unit = counted_unit(key, values.get(key))
        following = re.match(r"\s+([^\W\d_]+)", template[match.end() :])
        if unit is None or following is None:
            continue
        forms = {counted(n, unit, language, catalogs).rsplit(" ", 1)[-1].lower() for n in (1, 2)}
        if following.group(1).lower() in forms:
            found.append((match.start(), key, following.group(1)))
    return found


def _flatten(raw: Mapping[str, Any], prefix: tuple[str, ...], out: dict[str, object]) -> None:
    for key, value in raw.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping):
            _flatten(value, path, out)
        else:
            out[".".join(path)] = value
