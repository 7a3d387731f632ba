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

from bot.content.models import Hours
from bot.i18n import Catalogs

PLACEHOLDER = re.compile(r"(?<!\{)\{([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*)\}(?!\})")
_WEEKDAY_INDEX = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_WORKING_WEEK = ("mon", "tue", "wed", "thu", "fri")
HOTLINE_HOURS_PATH = ("hotline", "hours")
# Facts that depend on the moment a message is sent; the engine fills them in, not the loader.
HOTLINE_STATUS = "hotline.status"
DYNAMIC_FACTS = frozenset({HOTLINE_STATUS})


@dataclass(frozen=True)
class Weekdays:
    """A set of weekdays, shown as 'hverdager' when it is Monday to Friday."""

    days: tuple[str, ...]


@dataclass(frozen=True)
class Facts:
    """Fact values by dotted path ('hotline.phone'), plus the typed opening hours."""

    values: Mapping[str, object]
    hotline_hours: Hours

    def display(self, key: str, lang: str, catalogs: Catalogs) -> str:
        """The fact as text for readers of `lang` (not yet HTML-escaped)."""
        return display_value(self.values[key], lang, catalogs)

    def render(self, template: str, lang: str, catalogs: Catalogs, *, escape: bool = True) -> str:
        """Fill {placeholders} in a script text; facts are HTML-escaped unless `escape` is off."""

        def substitute(match: re.Match[str]) -> str:
            if match.group(1) in DYNAMIC_FACTS:
                return match.group(0)
            shown = self.display(match.group(1), lang, catalogs)
            return html.escape(shown, quote=False) if escape else shown

        return PLACEHOLDER.sub(substitute, template).replace("{{", "{").replace("}}", "}")


def build_facts(raw: Mapping[str, Any]) -> Facts:
    """Flatten the facts file; `hotline.hours` must be valid opening hours (raises ValueError)."""
    values: dict[str, object] = {}
    _flatten(raw, (), values)
    hours_raw: Any = raw
    for part in HOTLINE_HOURS_PATH:
        hours_raw = hours_raw.get(part) if isinstance(hours_raw, Mapping) else None
    hours = Hours.model_validate(hours_raw)
    prefix = ".".join(HOTLINE_HOURS_PATH)
    values[f"{prefix}.opens"] = hours.opens
    values[f"{prefix}.closes"] = hours.closes
    values[f"{prefix}.days"] = Weekdays(tuple(hours.days))
    values[f"{prefix}.extra_closed_days"] = list(hours.extra_closed_days)
    return Facts(values, hours)


def placeholders(template: str) -> list[tuple[int, str]]:
    """The (offset, key) of every {placeholder} in a text."""
    return [(m.start(), m.group(1)) for m in PLACEHOLDER.finditer(template)]


def display_value(value: object, lang: str, catalogs: Catalogs) -> str:
    """Format one fact value the way `lang` writes times, weekdays, dates and lists."""
    if isinstance(value, dt.time):
        # Norwegian writes 09.00 (Språkrådet); babel's CLDR pattern for nb is 09:00.
        return format_time(value, "HH.mm" if lang in ("nb", "nn") else "short", locale=_locale(lang))
    if isinstance(value, dt.date):
        return format_date(value, "long", locale=_locale(lang))
    if isinstance(value, Weekdays):
        if value.days == _WORKING_WEEK:
            return catalogs.get(lang).gettext("weekdays")
        names = get_day_names("wide", locale=_locale(lang))
        return format_list([names[_WEEKDAY_INDEX[d]] for d in value.days], locale=_locale(lang))
    if isinstance(value, list):
        return format_list([display_value(v, lang, catalogs) for v in value], locale=_locale(lang))
    return str(value)


def _locale(lang: str) -> str:
    return {"nb": "nb_NO", "nn": "nn_NO", "en": "en_GB"}.get(lang, lang)


def _flatten(raw: Mapping[str, Any], prefix: tuple[str, ...], out: dict[str, object]) -> None:
    for key, value in raw.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping):
            _flatten(value, path, out)
        else:
            out[".".join(path)] = value
