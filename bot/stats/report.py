"""The statistics as shown to anyone: per day and node, with every count from 1 to 4 suppressed."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from bot.stats.counter import FALLBACK_KEY
from bot.stats.store import StoredCount, read_counts

MINIMUM_SHOWN = 5  # fewer people than this on one day and node could be singled out


@dataclass(frozen=True)
class DayCounts:
    """One Europe/Oslo day: how often each node was shown and free text fell back."""

    day: dt.date
    nodes: Mapping[str, int | None]
    """Every node seen in the report's days, 0 when not shown that day; None = fewer than the minimum."""
    fallbacks: int | None
    """None = fewer than the minimum."""


def suppress(count: int, minimum: int = MINIMUM_SHOWN) -> int | None:
    """The count, or None when it is from 1 to minimum − 1 (0 says nothing about anyone)."""
    return None if 0 < count < minimum else count


async def read_report(
    database_url: str, days: int, today: dt.date, minimum: int = MINIMUM_SHOWN
) -> list[DayCounts]:
    """The `days` days up to `today`, but none before counting began; empty when nothing was counted."""
    if days < 1:
        raise ValueError("days must be at least 1")
    window_start = today - dt.timedelta(days=days - 1)
    stored = await read_counts(database_url, window_start, today)
    if stored.since is None or stored.since > today:
        return []
    return build_report(stored.counts, max(window_start, stored.since), today, minimum)


def build_report(
    stored: list[StoredCount], first: dt.date, last: dt.date, minimum: int = MINIMUM_SHOWN
) -> list[DayCounts]:
    """Exact stored counts → one suppressed DayCounts per day from `first` to `last`."""
    per_day: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for day, node, count in stored:
        per_day[day][node] = count
    nodes = sorted({node for _, node, _ in stored if node != FALLBACK_KEY})
    report = []
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        counts = per_day.get(day, {})
        report.append(
            DayCounts(
                day=day,
                nodes={node: suppress(counts.get(node, 0), minimum) for node in nodes},
                fallbacks=suppress(counts.get(FALLBACK_KEY, 0), minimum),
            )
        )
    return report


def report_as_json(report: list[DayCounts]) -> list[dict[str, object]]:
    """JSON-ready days: {"day": "YYYY-MM-DD", "nodes": {id: count or null}, "fallbacks": count or null}."""
    return [
        {"day": day.day.isoformat(), "nodes": dict(day.nodes), "fallbacks": day.fallbacks} for day in report
    ]
