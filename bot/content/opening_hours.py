"""Whether the advice line is open at a given moment, and when a closed line opens or calls back."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from babel.dates import format_date

from bot.content.facts import display_value
from bot.content.languages import Language
from bot.content.models import Hours
from bot.i18n import Catalogs

_WEEKDAY_INDEX = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
# Only extra_closed_days can push the next working day far away; a year of them is a data error.
_SEARCH_LIMIT_DAYS = 366


@lru_cache(maxsize=16)
def norwegian_public_holidays(year: int) -> frozenset[dt.date]:
    """The statutory public holidays of Norway in `year` (helligdager and 1 and 17 May, no plain Sundays)."""
    # holidays can list every Sunday too (legally they are helligdager); the line's `days` already
    # decides about weekends, so ask only for the named days.
    return frozenset(holidays.country_holidays("NO", years=year, include_sundays=False))


class HotlineCalendar:
    """The line's weekly hours, minus Norwegian public holidays and the facts file's extra closed days."""

    def __init__(self, hours: Hours) -> None:
        self.hours = hours
        self.zone = ZoneInfo(hours.timezone)
        self._weekdays = frozenset(_WEEKDAY_INDEX[day] for day in hours.days)
        self._extra_closed = frozenset(hours.extra_closed_days)

    def local(self, now: dt.datetime) -> dt.datetime:
        """`now` as wall-clock time where the line is (raises ValueError for a naive datetime)."""
        if now.utcoffset() is None:
            # A naive time could be UTC (servers) or Oslo (people); guessing wrong is off by 1-2 hours.
            raise ValueError("`now` must be timezone-aware")
        return now.astimezone(self.zone)

    def is_working_day(self, day: dt.date) -> bool:
        """True when the line keeps its hours on `day`: one of its weekdays, no holiday, not closed extra."""
        return (
            day.weekday() in self._weekdays
            and day not in self._extra_closed
            and day not in norwegian_public_holidays(day.year)
        )

    def is_open(self, now: dt.datetime) -> bool:
        """True when `now` (any time zone) falls on a working day, at or after opening and before closing."""
        local = self.local(now)
        return self.is_working_day(local.date()) and self.hours.opens <= local.time() < self.hours.closes

    def closes_at(self, now: dt.datetime) -> dt.datetime | None:
        """When the line closes today if it is open at `now`, else None (aware, in the line's zone)."""
        if not self.is_open(now):
            return None
        return self._at(self.local(now).date(), self.hours.closes)

    def next_opening(self, now: dt.datetime) -> dt.datetime:
        """The first opening strictly after `now`, aware in the line's zone (while open: a later day's)."""
        local = self.local(now)
        day = local.date()
        if not (self.is_working_day(day) and local.time() < self.hours.opens):
            day = self.working_day_after(day)
        return self._at(day, self.hours.opens)

    def working_day_after(self, day: dt.date, count: int = 1) -> dt.date:
        """The `count`-th working day after `day` (`day` itself never counts)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        candidate, remaining = day, count
        for _ in range(_SEARCH_LIMIT_DAYS * count):
            candidate += dt.timedelta(days=1)
            if self.is_working_day(candidate):
                remaining -= 1
                if remaining == 0:
                    return candidate
        raise ValueError(
            f"fewer than {count} working days in the {_SEARCH_LIMIT_DAYS * count} days after {day}"
        )

    def callback_by(self, now: dt.datetime, working_days: int) -> dt.date:
        """The date a message left at `now` is answered by: the `working_days`-th working day after it."""
        # The day the message is left never counts, even before opening on a working day (Monday 08:00
        # → Tuesday, Friday 17:00 or Saturday → Monday for 1 day): a promise the staff can always keep,
        # and the same rule whatever the hour.
        return self.working_day_after(self.local(now).date(), working_days)

    def _at(self, day: dt.date, time: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, time, tzinfo=self.zone)


def hotline_status(
    now: dt.datetime, hours: Hours, callback_working_days: int, language: Language, catalogs: Catalogs
) -> str:
    """Whether the line is open at `now`, in one or two plain-text sentences (no HTML) in `language`."""
    calendar = HotlineCalendar(hours)
    _ = catalogs.get(language.code).gettext
    closing = calendar.closes_at(now)
    if closing is not None:
        return _("It is open now, until {time}.").format(time=_clock(closing, language, catalogs))
    today = calendar.local(now).date()
    opening = _opening_sentence(calendar.next_opening(now), today, language, catalogs)
    callback = _callback_sentence(calendar.callback_by(now, callback_working_days), today, language, catalogs)
    return f"{opening} {callback}"


def _opening_sentence(opening: dt.datetime, today: dt.date, language: Language, catalogs: Catalogs) -> str:
    _ = catalogs.get(language.code).gettext
    time = _clock(opening, language, catalogs)
    days_ahead = (opening.date() - today).days
    if days_ahead == 0:
        return _("It is closed now and opens today at {time}.").format(time=time)
    if days_ahead == 1:
        return _("It is closed now and opens again tomorrow at {time}.").format(time=time)
    return _("It is closed now and opens again on {date} at {time}.").format(
        date=_day(opening.date(), language), time=time
    )


def _callback_sentence(by: dt.date, today: dt.date, language: Language, catalogs: Catalogs) -> str:
    _ = catalogs.get(language.code).gettext
    # callback_by never answers "today", so only tomorrow needs words of its own.
    if by == today + dt.timedelta(days=1):
        return _("If you leave a message now, someone will get back to you by tomorrow.")
    return _("If you leave a message now, someone will get back to you by {date}.").format(
        date=_day(by, language)
    )


def _clock(moment: dt.datetime, language: Language, catalogs: Catalogs) -> str:
    # The facts file's style: 09.00 in Norwegian, 09:00 in English.
    return display_value(moment.time(), language, catalogs)


def _day(day: dt.date, language: Language) -> str:
    return format_date(day, language.day, locale=language.locale)
