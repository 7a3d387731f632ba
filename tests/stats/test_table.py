"""The terminal table: suppressed cells, and totals that never give a suppressed count away."""

from __future__ import annotations

import datetime as dt
import re

from bot.stats.report import DayCounts
from bot.stats.table import render_legend, render_table, total


def columns(line: str) -> list[str]:
    """A table line's cells (they are at least two spaces apart)."""
    return re.split(r"\s{2,}", line.strip())


MONDAY = dt.date(2026, 12, 14)
TUESDAY = dt.date(2026, 12, 15)


def test_totals_are_exact_only_when_nothing_in_them_is_suppressed() -> None:
    assert total([5, 0, 12]) == "17"
    assert total([]) == "0"
    # Were this "23" (the true sum, say), 23 − 20 would reveal the hidden count: 3.
    assert total([20, None]) == "≥21"
    assert total([None, None, 0]) == "≥2"


def test_table_rows_columns_and_marks() -> None:
    report = [
        DayCounts(MONDAY, {"meny": 12, "telefon": None, "merket": 0}, fallbacks=None),
        DayCounts(TUESDAY, {"meny": 7, "telefon": 5, "merket": 0}, fallbacks=6),
    ]
    lines = render_table(report).splitlines()
    cells = [columns(line) for line in lines if not line.startswith("-")]
    assert cells == [
        ["node", "12-14", "12-15", "total"],
        ["meny", "12", "7", "19"],
        ["telefon", "<5", "5", "≥6"],
        ["merket", "0", "0", "0"],
        ["(not understood)", "<5", "6", "≥7"],
        ["total", "≥14", "18", "≥32"],
    ]
    assert len({len(line) for line in lines}) == 1, "columns are aligned"
    assert "2026-12-14 to 2026-12-15" in render_legend(report)
    assert "<5: fewer than 5" in render_legend(report)


def test_no_shown_number_is_from_one_to_four_except_lower_bounds() -> None:
    report = [DayCounts(MONDAY, {"a": None, "b": 5}, fallbacks=None)]
    for line in render_table(report).splitlines()[1:]:
        if line.startswith("-"):
            continue
        for value in columns(line)[1:]:
            assert value in ("<5", "0") or value.startswith("≥") or int(value) >= 5, line
