"""Figures are written as Norwegian style writes them ("én virkedag", "ett år"), with the right plural."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content import telegram_html
from bot.content.facts import counted, counted_unit, number_in_words
from bot.content.scripts import Scripts
from bot.i18n import Catalogs
from tests.conftest import Reload, shipped
from tests.content.test_check_broken import edit, line_of

# For 1, 2 and 5 of each unit, in each language: the singular names its gender ("én", "ett"),
# two to twelve are words, and the plural follows the number.
EXPECTED = {
    ("working_day", "nb"): ("én virkedag", "to virkedager", "fem virkedager"),
    ("working_day", "nn"): ("éin yrkedag", "to yrkedagar", "fem yrkedagar"),
    ("working_day", "en"): ("one working day", "two working days", "five working days"),
    ("year", "nb"): ("ett år", "to år", "fem år"),
    ("year", "nn"): ("eitt år", "to år", "fem år"),
    ("year", "en"): ("one year", "two years", "five years"),
    ("hour", "nb"): ("én time", "to timer", "fem timer"),
    ("hour", "nn"): ("éin time", "to timar", "fem timar"),
    ("hour", "en"): ("one hour", "two hours", "five hours"),
    ("day", "nb"): ("én dag", "to dager", "fem dager"),
    ("day", "nn"): ("éin dag", "to dagar", "fem dagar"),
    ("day", "en"): ("one day", "two days", "five days"),
}


@pytest.mark.parametrize(("unit", "lang"), sorted(EXPECTED))
def test_one_two_and_five(catalogs: Catalogs, unit: str, lang: str) -> None:
    assert tuple(counted(n, unit, shipped(lang), catalogs) for n in (1, 2, 5)) == EXPECTED[(unit, lang)]


@pytest.mark.parametrize(("number", "nb", "en"), [(12, "tolv", "twelve"), (13, "13", "13"), (0, "0", "0")])
def test_words_up_to_twelve_then_figures(catalogs: Catalogs, number: int, nb: str, en: str) -> None:
    assert number_in_words(number, shipped("nb"), catalogs) == nb
    assert number_in_words(number, shipped("en"), catalogs) == en


def test_large_numbers_are_grouped_as_each_language_writes_them(catalogs: Catalogs) -> None:
    assert counted(1000, "day", shipped("nb"), catalogs) == "1\xa0000 dager"
    assert counted(1000, "day", shipped("en"), catalogs) == "1,000 days"


@pytest.mark.parametrize(
    ("key", "unit"),
    [
        ("hotline.callback_working_days", "working_day"),
        ("privacy.retention_days", "day"),
        ("privacy.message_delete_hours", "hour"),
        ("badge.valid_years", "year"),
        ("badge.course_hours", "hour"),
        ("organisation.founded", None),
    ],
)
def test_the_unit_comes_from_the_facts_name(key: str, unit: str | None) -> None:
    assert counted_unit(key, 2) == unit
    assert counted_unit(key, "2") is None, "only whole numbers are counted"


def texts(scripts: Scripts, lang: str, node: str) -> str:
    """A node's text as the reader sees it."""
    return telegram_html.visible_text(scripts.language(lang).nodes[node].text)


@pytest.mark.parametrize(
    ("figure", "nb", "nn", "en"),
    [
        ("1", "innen én virkedag", "innan éin yrkedag", "within one working day"),
        ("2", "innen to virkedager", "innan to yrkedagar", "within two working days"),
        ("5", "innen fem virkedager", "innan fem yrkedagar", "within five working days"),
    ],
)
def test_the_scripts_follow_when_staff_change_a_figure(
    dialogues_copy: Path, reload: Reload, figure: str, nb: str, nn: str, en: str
) -> None:
    edit(dialogues_copy / "facts.yaml", "callback_working_days: 1 ", f"callback_working_days: {figure} ")
    edit(dialogues_copy / "facts.yaml", "valid_years: 1\n", f"valid_years: {figure}\n")
    result = reload(dialogues_copy)
    assert result.scripts is not None, result.errors
    for lang, expected in (("nb", nb), ("nn", nn), ("en", en)):
        assert expected in texts(result.scripts, lang, "telefon"), lang
    years = {
        "1": ("ett år", "eitt år", "one year"),
        "2": ("to år", "to år", "two years"),
        "5": ("fem år", "fem år", "five years"),
    }
    for lang, expected in zip(("nb", "nn", "en"), years[figure], strict=True):
        assert f"{expected}." in texts(result.scripts, lang, "merket_tildeling"), lang


def test_the_unit_written_after_a_counted_fact_is_a_warning(dialogues_copy: Path, reload: Reload) -> None:
    telefon = dialogues_copy / "nb" / "telefon.yaml"
    edit(telefon, "innen {hotline.callback_working_days}.", "innen {hotline.callback_working_days} virkedag.")
    result = reload(dialogues_copy)
    assert result.scripts is not None
    (warning,) = [p for p in result.problems if "already shows its unit" in p.message]
    assert warning.severity == "warning"
    assert warning.line == line_of(telefon, "{hotline.callback_working_days} virkedag")
    assert "'én virkedag'" in warning.message and "remove 'virkedag'" in warning.hint
