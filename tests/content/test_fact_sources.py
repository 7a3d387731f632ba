"""Every fact has a source and the date it was last checked; `check` warns when that is over a year ago."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.content.loader import load_scripts
from bot.i18n import Catalogs
from tests.conftest import DIALOGUES
from tests.content.test_check_broken import edit, line_of

TODAY = dt.date(2026, 12, 2)


def source_problems(folder: Path, catalogs: Catalogs, today: dt.date = TODAY) -> list[str]:
    """The problems `check` finds in facts.yaml's sources, as printed."""
    result = load_scripts(folder, catalogs, today)
    return [str(p) for p in result.problems if p.path == Path("dialogues/facts.yaml")]


def test_every_shipped_fact_has_a_source_checked_within_a_year(catalogs: Catalogs) -> None:
    assert source_problems(DIALOGUES, catalogs) == []


def test_a_source_checked_more_than_a_year_ago_is_a_warning_with_file_and_line(
    dialogues_copy: Path, catalogs: Catalogs
) -> None:
    facts = dialogues_copy / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    entry = text.index("  - facts: [hotline]")
    checked = text.index("checked: 2026-12-02", entry)
    facts.write_text(text[:checked] + "checked: 2025-11-30" + text[checked + 19 :], encoding="utf-8")
    result = load_scripts(dialogues_copy, catalogs, TODAY)
    assert result.scripts is not None, "only a warning: the bot keeps serving"
    (warning,) = [p for p in result.problems if "more than a year ago" in p.message]
    assert warning.severity == "warning"
    assert (warning.path, warning.line) == (
        Path("dialogues/facts.yaml"),
        line_of(facts, "checked: 2025-11-30"),
    )
    assert warning.message == "hotline: last checked 2025-11-30, more than a year ago"
    assert "open https://balansekunst.no" in warning.hint and "checked: 2026-12-02" in warning.hint


def test_exactly_a_year_is_still_fresh_and_a_day_more_is_not(
    dialogues_copy: Path, catalogs: Catalogs
) -> None:
    facts = dialogues_copy / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    entry = text.index("  - facts: [hotline]")
    checked = text.index("checked: 2026-12-02", entry)
    facts.write_text(text[:checked] + "checked: 2025-12-02" + text[checked + 19 :], encoding="utf-8")
    assert source_problems(dialogues_copy, catalogs, TODAY) == []
    later = source_problems(dialogues_copy, catalogs, TODAY + dt.timedelta(days=1))
    assert len(later) == 1 and "more than a year ago" in later[0]


def test_the_cli_prints_the_age_warning_and_still_passes(
    dialogues_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = dialogues_copy / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    entry = text.index("  - facts: [emergency.mental_health_helpline]")
    checked = text.index("checked: 2026-12-02", entry)
    facts.write_text(text[:checked] + "checked: 2020-01-15" + text[checked + 19 :], encoding="utf-8")
    code = main(["check", "--dialogues", str(dialogues_copy)])
    out = capsys.readouterr().out
    assert code == 0, out
    line = line_of(facts, "checked: 2020-01-15")
    assert re.search(
        rf"dialogues/facts.yaml:{line}: advarsel: emergency.mental_health_helpline: sist sjekket 2020-01-15, "
        "for mer enn et år siden",
        out,
    ), out


def test_a_new_fact_without_a_source_is_named_at_its_line(dialogues_copy: Path, catalogs: Catalogs) -> None:
    facts = dialogues_copy / "facts.yaml"
    edit(
        facts,
        "  crisis_line_name: Kirkens SOS\n",
        "  crisis_line_name: Kirkens SOS\n  chat: sidetmedord.no\n",
    )
    (problem,) = source_problems(dialogues_copy, catalogs)
    assert problem.startswith(f"dialogues/facts.yaml:{line_of(facts, 'chat: sidetmedord.no')}: warning:")
    assert "`emergency.chat` has no source" in problem


def test_a_source_for_a_fact_that_does_not_exist(dialogues_copy: Path, catalogs: Catalogs) -> None:
    facts = dialogues_copy / "facts.yaml"
    edit(facts, "  - facts: [emergency.mental_health_helpline]", "  - facts: [emergency.mental_helpline]")
    problems = source_problems(dialogues_copy, catalogs)
    assert any(
        "no fact `emergency.mental_helpline`" in p and "emergency.mental_health_helpline" in p
        for p in problems
    )
    assert any("`emergency.mental_health_helpline` has no source" in p for p in problems)


def test_a_date_in_the_future_or_not_a_date(dialogues_copy: Path, catalogs: Catalogs) -> None:
    facts = dialogues_copy / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    first = text.index("checked: 2026-12-02")
    second = text.index("checked: 2026-12-02", first + 1)
    text = (
        text[:first]
        + "checked: 2027-01-01"
        + text[first + 19 : second]
        + "checked: i fjor"
        + text[second + 19 :]
    )
    facts.write_text(text, encoding="utf-8")
    result = load_scripts(dialogues_copy, catalogs, TODAY)
    assert result.scripts is not None
    problems = [p for p in result.problems if p.path == Path("dialogues/facts.yaml")]
    assert any("is in the future" in p.message and p.line == line_of(facts, "2027-01-01") for p in problems)
    assert any("checked" in p.message and p.line == line_of(facts, "checked: i fjor") for p in problems)
    assert all(p.severity == "warning" for p in problems)


def test_sources_are_not_facts(catalogs: Catalogs) -> None:
    result = load_scripts(DIALOGUES, catalogs, TODAY)
    assert result.scripts is not None
    assert not [key for key in result.scripts.facts.values if key.startswith("sources")]
