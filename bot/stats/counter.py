"""The in-process tally of shown nodes per day, until the next flush takes it to the database."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from bot.engine.model import Outcome

log = logging.getLogger(__name__)

STATS_ZONE = ZoneInfo("Europe/Oslo")  # staff think in Norwegian days
FALLBACK_KEY = "*fallback"  # node ids are [a-z][a-z0-9_]*, so this can never be one
MAX_KEYS = 10_000  # day × node pairs held between flushes; far above a day's worth of nodes

Counts = dict[tuple[dt.date, str], int]


def stats_day(now: dt.datetime) -> dt.date:
    """The Europe/Oslo date of an instant."""
    return now.astimezone(STATS_ZONE).date()


def counted_keys(outcome: Outcome) -> tuple[str, ...]:
    """What one answer adds to: its nodes, or the fallback; "did you mean …" suggestions reach none."""
    if outcome.route == "fallback":
        return (FALLBACK_KEY,)
    if outcome.route == "ambiguous":
        return ()
    return outcome.nodes


class StatsCounter:
    """Counts per (day, node) in memory; recording is a dictionary update, so updates pay nothing."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._counts: Counts = {}
        self._max_keys = max_keys
        self.dropped = 0
        """Counts lost because the tally was full (only if flushing has failed for a long time)."""

    def record(self, outcome: Outcome, now: dt.datetime) -> None:
        """Count the nodes one answer showed (or its fallback) on `now`'s Oslo day."""
        day = stats_day(now)
        for key in counted_keys(outcome):
            self._add((day, key), 1)

    def take(self) -> Counts:
        """Everything counted since the last take, leaving the tally empty."""
        counts, self._counts = self._counts, {}
        return counts

    def give_back(self, counts: Mapping[tuple[dt.date, str], int]) -> None:
        """Return counts a flush could not store, so the next flush tries them again."""
        for key, count in counts.items():
            self._add(key, count)

    def __len__(self) -> int:
        """How many (day, node) pairs are waiting for a flush."""
        return len(self._counts)

    def _add(self, key: tuple[dt.date, str], count: int) -> None:
        if key in self._counts:
            self._counts[key] += count
        elif len(self._counts) < self._max_keys:
            self._counts[key] = count
        else:
            if not self.dropped:
                log.warning("statistics tally full (database unreachable?); dropping counts")
            self.dropped += count
