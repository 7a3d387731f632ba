"""The in-process tally: what counts, on which Oslo day, and that it stays bounded."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import TypeAdapter, ValidationError

from bot.content.models import NodeId
from bot.engine.model import ChatState, Outcome, RouteKind
from bot.stats.counter import FALLBACK_KEY, StatsCounter, stats_day

WINTER_NOON = dt.datetime(2026, 12, 14, 12, 0, tzinfo=dt.UTC)


def shown(*nodes: str, route: RouteKind | None = "node") -> Outcome:
    """An engine outcome that showed `nodes`."""
    return Outcome((), ChatState(), route=route, nodes=nodes)


def test_nodes_are_counted_per_day() -> None:
    counter = StatsCounter()
    counter.record(shown("start"), WINTER_NOON)
    counter.record(shown("start"), WINTER_NOON)
    counter.record(shown("telefon", route=None), WINTER_NOON)
    counter.record(shown("meny"), WINTER_NOON + dt.timedelta(days=1))
    assert counter.take() == {
        (dt.date(2026, 12, 14), "start"): 2,
        (dt.date(2026, 12, 14), "telefon"): 1,
        (dt.date(2026, 12, 15), "meny"): 1,
    }
    assert counter.take() == {}, "taking empties the tally"


def test_fallback_counts_as_a_fallback_only_and_suggestions_count_nothing() -> None:
    counter = StatsCounter()
    counter.record(shown("ikke_forstatt", route="fallback"), WINTER_NOON)
    counter.record(shown("telefon", "merket", route="ambiguous"), WINTER_NOON)
    counter.record(shown("akutt", route="acute"), WINTER_NOON)
    assert counter.take() == {(dt.date(2026, 12, 14), FALLBACK_KEY): 1, (dt.date(2026, 12, 14), "akutt"): 1}


def test_the_fallback_key_can_never_be_a_node_id() -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(NodeId).validate_python(FALLBACK_KEY)


def test_days_are_europe_oslo_days_in_winter_and_summer() -> None:
    assert stats_day(dt.datetime(2026, 12, 14, 22, 59, tzinfo=dt.UTC)) == dt.date(2026, 12, 14)
    assert stats_day(dt.datetime(2026, 12, 14, 23, 0, tzinfo=dt.UTC)) == dt.date(2026, 12, 15)
    assert stats_day(dt.datetime(2026, 6, 14, 21, 59, tzinfo=dt.UTC)) == dt.date(2026, 6, 14)
    assert stats_day(dt.datetime(2026, 6, 14, 22, 0, tzinfo=dt.UTC)) == dt.date(2026, 6, 15)


def test_give_back_adds_to_what_was_counted_meanwhile() -> None:
    counter = StatsCounter()
    counter.record(shown("start"), WINTER_NOON)
    taken = counter.take()
    counter.record(shown("start"), WINTER_NOON)
    counter.give_back(taken)
    assert counter.take() == {(dt.date(2026, 12, 14), "start"): 2}


def test_the_tally_is_bounded_but_known_pairs_keep_counting() -> None:
    counter = StatsCounter(max_keys=2)
    counter.record(shown("a"), WINTER_NOON)
    counter.record(shown("b"), WINTER_NOON)
    counter.record(shown("c"), WINTER_NOON)
    counter.record(shown("a"), WINTER_NOON)
    assert len(counter) == 2
    assert counter.dropped == 1
    assert counter.take() == {(dt.date(2026, 12, 14), "a"): 2, (dt.date(2026, 12, 14), "b"): 1}
