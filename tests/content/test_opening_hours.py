"""Is the advice line open: weekly hours, Norwegian public holidays, extra closed days, daylight saving."""

from __future__ import annotations

import datetime as dt
import html
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.content.facts import build_facts
from bot.content.models import Hours
from bot.content.opening_hours import HotlineCalendar, hotline_status, norwegian_public_holidays
from bot.i18n import Catalogs
from tests.conftest import DIALOGUES, shipped, shipped_languages

OSLO = ZoneInfo("Europe/Oslo")
UTC = dt.UTC
NINE = dt.time(9)
HOURS = Hours(
    days=["mon", "tue", "wed", "thu", "fri"],
    opens=dt.time(9),
    closes=dt.time(16),
    extra_closed_days=[dt.date(2026, 12, 24), dt.date(2027, 12, 24)],
)
CALENDAR = HotlineCalendar(HOURS)

# Helligdager (and 1 and 17 May) by the holiday act, with the first working day after each.
PUBLIC_HOLIDAYS = {
    dt.date(2026, 1, 1): dt.date(2026, 1, 2),  # nyttårsdag (Thu)
    dt.date(2026, 4, 2): dt.date(2026, 4, 7),  # skjærtorsdag
    dt.date(2026, 4, 3): dt.date(2026, 4, 7),  # langfredag
    dt.date(2026, 4, 5): dt.date(2026, 4, 7),  # 1. påskedag
    dt.date(2026, 4, 6): dt.date(2026, 4, 7),  # 2. påskedag
    dt.date(2026, 5, 1): dt.date(2026, 5, 4),  # 1. mai (Fri)
    dt.date(2026, 5, 14): dt.date(2026, 5, 15),  # Kristi himmelfartsdag
    dt.date(2026, 5, 17): dt.date(2026, 5, 18),  # 17. mai (Sun)
    dt.date(2026, 5, 24): dt.date(2026, 5, 26),  # 1. pinsedag
    dt.date(2026, 5, 25): dt.date(2026, 5, 26),  # 2. pinsedag
    dt.date(2026, 12, 25): dt.date(2026, 12, 28),  # 1. juledag (Fri)
    dt.date(2026, 12, 26): dt.date(2026, 12, 28),  # 2. juledag
    dt.date(2027, 1, 1): dt.date(2027, 1, 4),  # nyttårsdag (Fri)
    dt.date(2027, 3, 25): dt.date(2027, 3, 30),  # skjærtorsdag
    dt.date(2027, 3, 26): dt.date(2027, 3, 30),  # langfredag
    dt.date(2027, 3, 28): dt.date(2027, 3, 30),  # 1. påskedag, also the spring daylight-saving change
    dt.date(2027, 3, 29): dt.date(2027, 3, 30),  # 2. påskedag
    dt.date(2027, 5, 1): dt.date(2027, 5, 3),  # 1. mai (Sat)
    dt.date(2027, 5, 6): dt.date(2027, 5, 7),  # Kristi himmelfartsdag
    dt.date(2027, 5, 16): dt.date(2027, 5, 18),  # 1. pinsedag
    dt.date(2027, 5, 17): dt.date(2027, 5, 18),  # 17. mai and 2. pinsedag on the same Monday
    dt.date(2027, 12, 25): dt.date(2027, 12, 27),  # 1. juledag (Sat)
    dt.date(2027, 12, 26): dt.date(2027, 12, 27),  # 2. juledag (Sun)
}


def oslo(year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    """A wall-clock instant in Oslo."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=OSLO)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    """An instant as a server clock gives it."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


# (now, open?, the date of the next opening at 09:00 Oslo time)
INSTANTS = [
    # An ordinary week: the edges of 09:00 and 16:00, evening, night, weekend.
    (oslo(2026, 1, 6, 8, 59, 59), False, dt.date(2026, 1, 6)),
    (oslo(2026, 1, 6, 9, 0), True, dt.date(2026, 1, 7)),
    (oslo(2026, 1, 6, 9, 0, 1), True, dt.date(2026, 1, 7)),
    (oslo(2026, 1, 6, 15, 59, 59), True, dt.date(2026, 1, 7)),
    (oslo(2026, 1, 6, 16, 0), False, dt.date(2026, 1, 7)),
    (oslo(2026, 1, 6, 16, 0, 1), False, dt.date(2026, 1, 7)),
    (oslo(2026, 1, 6, 20, 0), False, dt.date(2026, 1, 7)),
    (oslo(2026, 1, 7, 3, 0), False, dt.date(2026, 1, 7)),
    (oslo(2026, 1, 9, 16, 30), False, dt.date(2026, 1, 12)),
    (oslo(2026, 1, 10, 12, 0), False, dt.date(2026, 1, 12)),
    (oslo(2026, 1, 11, 23, 59), False, dt.date(2026, 1, 12)),
    (oslo(2026, 1, 12, 0, 0), False, dt.date(2026, 1, 12)),
    (oslo(2027, 6, 9, 12, 0), True, dt.date(2027, 6, 10)),
    # Easter 2026, 1 May, Ascension, 17 May, Whitsun.
    (oslo(2026, 4, 1, 15, 0), True, dt.date(2026, 4, 7)),
    (oslo(2026, 4, 1, 16, 0), False, dt.date(2026, 4, 7)),
    (oslo(2026, 4, 7, 9, 0), True, dt.date(2026, 4, 8)),
    (oslo(2026, 4, 30, 16, 0), False, dt.date(2026, 5, 4)),
    (oslo(2026, 5, 13, 16, 30), False, dt.date(2026, 5, 15)),
    (oslo(2026, 5, 15, 10, 0), True, dt.date(2026, 5, 18)),
    (oslo(2026, 5, 18, 9, 0), True, dt.date(2026, 5, 19)),
    (oslo(2026, 5, 22, 16, 0), False, dt.date(2026, 5, 26)),
    (oslo(2027, 3, 24, 16, 0), False, dt.date(2027, 3, 30)),
    (oslo(2027, 5, 5, 16, 0), False, dt.date(2027, 5, 7)),
    (oslo(2027, 5, 14, 16, 0), False, dt.date(2027, 5, 18)),
    # Christmas and New Year; 24 December is closed only because the Hours say so.
    (oslo(2026, 12, 23, 16, 0), False, dt.date(2026, 12, 28)),
    (oslo(2026, 12, 24, 10, 0), False, dt.date(2026, 12, 28)),
    (oslo(2026, 12, 28, 9, 0), True, dt.date(2026, 12, 29)),
    (oslo(2026, 12, 31, 16, 0), False, dt.date(2027, 1, 4)),
    (oslo(2027, 12, 23, 16, 0), False, dt.date(2027, 12, 27)),
    (oslo(2027, 12, 24, 12, 0), False, dt.date(2027, 12, 27)),
    # Spring forward, Sunday 29 March 2026: Friday is UTC+1, Monday UTC+2.
    (utc(2026, 3, 27, 7, 30), False, dt.date(2026, 3, 27)),  # 08:30 in Oslo
    (utc(2026, 3, 27, 8, 30), True, dt.date(2026, 3, 30)),  # 09:30
    (utc(2026, 3, 27, 14, 59), True, dt.date(2026, 3, 30)),  # 15:59
    (utc(2026, 3, 27, 15, 0), False, dt.date(2026, 3, 30)),  # 16:00
    (utc(2026, 3, 29, 0, 59), False, dt.date(2026, 3, 30)),  # 01:59, the last minute of winter time
    (utc(2026, 3, 29, 1, 0), False, dt.date(2026, 3, 30)),  # 03:00 summer time
    (utc(2026, 3, 30, 6, 30), False, dt.date(2026, 3, 30)),  # 08:30
    (utc(2026, 3, 30, 7, 30), True, dt.date(2026, 3, 31)),  # 09:30
    (utc(2026, 3, 30, 13, 59), True, dt.date(2026, 3, 31)),  # 15:59
    (utc(2026, 3, 30, 14, 0), False, dt.date(2026, 3, 31)),  # 16:00
    (utc(2027, 3, 30, 6, 59), False, dt.date(2027, 3, 30)),  # 08:59, the first day after Easter 2027
    (utc(2027, 3, 30, 7, 0), True, dt.date(2027, 3, 31)),  # 09:00
    # Fall back, Sunday 25 October 2026: Friday is UTC+2, Monday UTC+1.
    (utc(2026, 10, 23, 6, 30), False, dt.date(2026, 10, 23)),  # 08:30
    (utc(2026, 10, 23, 7, 30), True, dt.date(2026, 10, 26)),  # 09:30
    (utc(2026, 10, 25, 0, 30), False, dt.date(2026, 10, 26)),  # 02:30 summer time
    (utc(2026, 10, 25, 1, 30), False, dt.date(2026, 10, 26)),  # 02:30 again, winter time
    (utc(2026, 10, 26, 7, 30), False, dt.date(2026, 10, 26)),  # 08:30
    (utc(2026, 10, 26, 8, 30), True, dt.date(2026, 10, 27)),  # 09:30
    (utc(2026, 10, 26, 14, 59), True, dt.date(2026, 10, 27)),  # 15:59
    (utc(2026, 10, 26, 15, 0), False, dt.date(2026, 10, 27)),  # 16:00
    (utc(2027, 10, 29, 6, 59), False, dt.date(2027, 10, 29)),  # 08:59 summer time
    (utc(2027, 10, 29, 7, 0), True, dt.date(2027, 11, 1)),  # 09:00
    (utc(2027, 11, 1, 7, 59), False, dt.date(2027, 11, 1)),  # 08:59 winter time
    (utc(2027, 11, 1, 8, 0), True, dt.date(2027, 11, 2)),  # 09:00
    # Any time zone is judged by the clock in Oslo: 03:30 in New York is 09:30 in Oslo.
    (dt.datetime(2026, 6, 10, 3, 30, tzinfo=ZoneInfo("America/New_York")), True, dt.date(2026, 6, 11)),
    (dt.datetime(2026, 6, 10, 2, 30, tzinfo=ZoneInfo("America/New_York")), False, dt.date(2026, 6, 10)),
]


def test_the_package_gives_exactly_the_norwegian_public_holidays_and_no_plain_sundays() -> None:
    found = norwegian_public_holidays(2026) | norwegian_public_holidays(2027)
    assert found == set(PUBLIC_HOLIDAYS)
    assert dt.date(2026, 1, 4) not in found, "an ordinary Sunday is not a public holiday"


@pytest.mark.parametrize(("now", "is_open", "opens_on"), INSTANTS, ids=[str(i[0]) for i in INSTANTS])
def test_open_or_closed_and_the_next_opening(now: dt.datetime, is_open: bool, opens_on: dt.date) -> None:
    assert CALENDAR.is_open(now) is is_open
    opening = CALENDAR.next_opening(now)
    assert opening == dt.datetime.combine(opens_on, NINE, tzinfo=OSLO)
    assert opening.tzinfo == OSLO
    assert (opening.hour, opening.minute) == (9, 0)


@pytest.mark.parametrize(("now", "is_open", "opens_on"), INSTANTS, ids=[str(i[0]) for i in INSTANTS])
def test_closing_time_only_while_open(now: dt.datetime, is_open: bool, opens_on: dt.date) -> None:
    closing = CALENDAR.closes_at(now)
    if is_open:
        assert closing == dt.datetime.combine(now.astimezone(OSLO).date(), dt.time(16), tzinfo=OSLO)
        assert now < closing < CALENDAR.next_opening(now)
    else:
        assert closing is None


@pytest.mark.parametrize(("holiday", "next_working_day"), PUBLIC_HOLIDAYS.items(), ids=str)
def test_every_public_holiday_is_closed_and_skipped(holiday: dt.date, next_working_day: dt.date) -> None:
    assert not CALENDAR.is_working_day(holiday)
    for hour in (8, 9, 12, 15):
        assert not CALENDAR.is_open(oslo(holiday.year, holiday.month, holiday.day, hour))
    opening = CALENDAR.next_opening(oslo(holiday.year, holiday.month, holiday.day, 10))
    assert opening.date() == next_working_day
    assert opening.date() not in PUBLIC_HOLIDAYS


def test_extra_closed_days_come_from_the_hours_not_the_holiday_calendar() -> None:
    without_extras = HotlineCalendar(HOURS.model_copy(update={"extra_closed_days": []}))
    christmas_eve = dt.date(2026, 12, 24)
    assert without_extras.is_working_day(christmas_eve)
    assert without_extras.is_open(oslo(2026, 12, 24, 10))
    assert not CALENDAR.is_working_day(christmas_eve)


def test_other_weekdays_are_honoured() -> None:
    tuesdays_and_thursdays = HotlineCalendar(HOURS.model_copy(update={"days": ["tue", "thu"]}))
    assert not tuesdays_and_thursdays.is_open(oslo(2026, 1, 7, 10))  # a Wednesday
    assert tuesdays_and_thursdays.next_opening(oslo(2026, 1, 6, 16)) == oslo(2026, 1, 8, 9)


def test_a_line_that_never_opens_is_an_error_not_an_endless_loop() -> None:
    mondays = [dt.date(2026, 1, 5) + dt.timedelta(weeks=w) for w in range(60)]
    never = HotlineCalendar(HOURS.model_copy(update={"days": ["mon"], "extra_closed_days": mondays}))
    with pytest.raises(ValueError, match="working days"):
        never.next_opening(oslo(2026, 1, 1))


def test_a_naive_datetime_is_refused() -> None:
    naive = dt.datetime(2026, 1, 6, 10, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        CALENDAR.is_open(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        CALENDAR.callback_by(naive, 1)


@pytest.mark.parametrize(
    ("now", "working_days", "answered_by"),
    [
        (oslo(2026, 1, 9, 17, 0), 1, dt.date(2026, 1, 12)),  # Friday evening → Monday
        (oslo(2026, 1, 10, 12, 0), 1, dt.date(2026, 1, 12)),  # Saturday → Monday
        (oslo(2026, 1, 11, 22, 0), 1, dt.date(2026, 1, 12)),  # Sunday → Monday
        (oslo(2026, 1, 12, 8, 0), 1, dt.date(2026, 1, 13)),  # before opening: the day itself never counts
        (oslo(2026, 1, 12, 10, 0), 1, dt.date(2026, 1, 13)),  # while open
        (oslo(2026, 1, 8, 20, 0), 1, dt.date(2026, 1, 9)),  # Thursday evening → Friday
        (utc(2026, 1, 8, 23, 30), 1, dt.date(2026, 1, 12)),  # already Friday in Oslo
        (oslo(2026, 1, 9, 17, 0), 2, dt.date(2026, 1, 13)),
        (oslo(2026, 4, 1, 17, 0), 1, dt.date(2026, 4, 7)),  # Easter
        (oslo(2026, 5, 22, 16, 30), 1, dt.date(2026, 5, 26)),  # Whitsun
        (oslo(2026, 12, 23, 17, 0), 1, dt.date(2026, 12, 28)),  # Christmas with 24 December closed
        (oslo(2026, 12, 23, 17, 0), 2, dt.date(2026, 12, 29)),
        (oslo(2026, 12, 31, 16, 0), 1, dt.date(2027, 1, 4)),  # New Year
        (oslo(2027, 5, 14, 17, 0), 1, dt.date(2027, 5, 18)),  # 17 May on Whit Monday
    ],
    ids=str,
)
def test_callback_is_the_nth_working_day_after_the_day_the_message_is_left(
    now: dt.datetime, working_days: int, answered_by: dt.date
) -> None:
    assert CALENDAR.callback_by(now, working_days) == answered_by


def test_callback_needs_at_least_one_working_day() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CALENDAR.callback_by(oslo(2026, 1, 6), 0)


@given(
    st.datetimes(
        min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(UTC)
    )
)
def test_the_next_opening_is_the_first_open_moment_after_now(now: dt.datetime) -> None:
    opening = CALENDAR.next_opening(now)
    assert opening > now
    assert CALENDAR.is_open(opening)
    assert not CALENDAR.is_open(opening - dt.timedelta(microseconds=1))
    day = now.astimezone(OSLO).date() + dt.timedelta(days=1)
    while day < opening.date():
        assert not CALENDAR.is_working_day(day), f"{day} lies between {now} and {opening}"
        day += dt.timedelta(days=1)


STATUS = [
    (
        oslo(2026, 1, 6, 10, 0),
        1,
        {
            "nb": "Den er åpen nå, til kl. 16.00.",
            "nn": "Telefonen er open no, til kl. 16.00.",
            "en": "It is open now, until 16:00.",
        },
    ),
    (
        utc(2026, 3, 30, 7, 30),  # 09:30 summer time
        1,
        {
            "nb": "Den er åpen nå, til kl. 16.00.",
            "nn": "Telefonen er open no, til kl. 16.00.",
            "en": "It is open now, until 16:00.",
        },
    ),
    (
        oslo(2026, 1, 6, 8, 0),
        1,
        {
            "nb": "Den er stengt nå og åpner i dag kl. 09.00. "
            "Legger du igjen en beskjed nå, blir du kontaktet innen i morgen.",
            "nn": "Telefonen er stengd no og opnar i dag kl. 09.00. "
            "Legg du att ein beskjed no, blir du kontakta innan i morgon.",
            "en": "It is closed now and opens today at 09:00. "
            "If you leave a message now, someone will get back to you by tomorrow.",
        },
    ),
    (
        oslo(2026, 1, 6, 18, 0),
        1,
        {
            "nb": "Den er stengt nå og åpner igjen i morgen kl. 09.00. "
            "Legger du igjen en beskjed nå, blir du kontaktet innen i morgen.",
            "nn": "Telefonen er stengd no og opnar igjen i morgon kl. 09.00. "
            "Legg du att ein beskjed no, blir du kontakta innan i morgon.",
            "en": "It is closed now and opens again tomorrow at 09:00. "
            "If you leave a message now, someone will get back to you by tomorrow.",
        },
    ),
    (
        oslo(2026, 1, 9, 17, 0),
        1,
        {
            "nb": "Den er stengt nå og åpner igjen mandag 12. januar kl. 09.00. "
            "Legger du igjen en beskjed nå, blir du kontaktet innen mandag 12. januar.",
            "nn": "Telefonen er stengd no og opnar igjen måndag 12. januar kl. 09.00. "
            "Legg du att ein beskjed no, blir du kontakta innan måndag 12. januar.",
            "en": "It is closed now and opens again on Monday 12 January at 09:00. "
            "If you leave a message now, someone will get back to you by Monday 12 January.",
        },
    ),
    (
        oslo(2026, 12, 23, 17, 0),
        2,
        {
            "nb": "Den er stengt nå og åpner igjen mandag 28. desember kl. 09.00. "
            "Legger du igjen en beskjed nå, blir du kontaktet innen tirsdag 29. desember.",
            "nn": "Telefonen er stengd no og opnar igjen måndag 28. desember kl. 09.00. "
            "Legg du att ein beskjed no, blir du kontakta innan tysdag 29. desember.",
            "en": "It is closed now and opens again on Monday 28 December at 09:00. "
            "If you leave a message now, someone will get back to you by Tuesday 29 December.",
        },
    ),
    (
        oslo(2027, 5, 14, 16, 0),
        1,
        {
            "nb": "Den er stengt nå og åpner igjen tirsdag 18. mai kl. 09.00. "
            "Legger du igjen en beskjed nå, blir du kontaktet innen tirsdag 18. mai.",
            "nn": "Telefonen er stengd no og opnar igjen tysdag 18. mai kl. 09.00. "
            "Legg du att ein beskjed no, blir du kontakta innan tysdag 18. mai.",
            "en": "It is closed now and opens again on Tuesday 18 May at 09:00. "
            "If you leave a message now, someone will get back to you by Tuesday 18 May.",
        },
    ),
]


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
@pytest.mark.parametrize(("now", "working_days", "sentences"), STATUS, ids=[str(s[0]) for s in STATUS])
def test_status_sentences(
    now: dt.datetime, working_days: int, sentences: dict[str, str], lang: str, catalogs: Catalogs
) -> None:
    assert hotline_status(now, HOURS, working_days, shipped(lang), catalogs) == sentences[lang]


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_status_is_plain_text_that_needs_no_escaping(lang: str, catalogs: Catalogs) -> None:
    for now, _open, _opens_on in INSTANTS:
        status = hotline_status(now, HOURS, 1, shipped(lang), catalogs)
        assert html.escape(status, quote=False) == status
        assert "{" not in status
        assert "}" not in status


def test_the_shipped_facts_make_a_calendar() -> None:
    raw = yaml.safe_load((DIALOGUES / "facts.yaml").read_text(encoding="utf-8"))
    facts = build_facts(raw, shipped_languages())
    working_days = facts.values["hotline.callback_working_days"]
    assert isinstance(working_days, int)
    calendar = HotlineCalendar(facts.hotline_hours)
    assert calendar.callback_by(oslo(2026, 1, 9, 17), working_days) >= dt.date(2026, 1, 12)
