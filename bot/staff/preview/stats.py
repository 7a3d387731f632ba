"""The last days' anonymous statistics for the page's small chart; never an error for the page."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.exc import SQLAlchemyError

from bot.staff_words import say
from bot.stats.report import DayCounts, read_report

log = logging.getLogger(__name__)
CHART_DAYS = 14


async def chart_data(database_url: str, today: dt.date, days: int = CHART_DAYS) -> dict[str, object]:
    """Per day: nodes reached and fallbacks (counts under the minimum are null), or why there are none."""
    try:
        report = await read_report(database_url, days, today)
    except (OSError, SQLAlchemyError) as error:
        # The chart is a side panel: a database that is down must not break the preview. The URL is
        # never logged (it may hold a password).
        log.warning("the statistics could not be read (%s)", type(error).__name__)
        return {"status": "unavailable", "message": say("The statistics could not be read."), "days": []}
    if not report:
        return {"status": "empty", "message": say("No statistics yet."), "days": []}
    shown = {d.day: d for d in report}
    first = today - dt.timedelta(days=days - 1)
    return {
        "status": "ok",
        "message": "",
        "days": [
            _day(shown.get(first + dt.timedelta(days=n)), first + dt.timedelta(days=n)) for n in range(days)
        ],
    }


def _day(counts: DayCounts | None, day: dt.date) -> dict[str, object]:
    """One day's totals; `hidden` says that some nodes' small counts are left out of `reached`."""
    if counts is None:
        return {"day": day.isoformat(), "reached": 0, "hidden": False, "fallbacks": 0}
    known = [n for n in counts.nodes.values() if n is not None]
    return {
        "day": day.isoformat(),
        "reached": sum(known),
        "hidden": len(known) < len(counts.nodes),
        "fallbacks": counts.fallbacks,
    }
