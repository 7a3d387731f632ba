"""The per-chat token buckets of flood control, on an injected clock."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.engine.engine import Engine
from bot.i18n import Catalogs
from bot.settings import ServeSettings
from bot.telegram.flood import FloodBuckets, FloodGuard


class Clock:
    """Seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let time pass."""
        self.now += seconds


def buckets(clock: Clock, burst: int = 10, per_second: float = 1.0, max_chats: int = 100_000) -> FloodBuckets:
    """Buckets with the defaults of FLOOD_BURST and FLOOD_PER_SECOND."""
    return FloodBuckets(burst, per_second, clock=clock, max_chats=max_chats)


def test_a_burst_is_answered_and_the_first_excess_alone_is_warned() -> None:
    clock = Clock()
    flood = buckets(clock)
    assert all(flood.take(1) for _ in range(10))
    assert not flood.take(1)
    assert flood.first_excess(1) is True
    assert [flood.take(1) for _ in range(20)] == [False] * 20
    assert [flood.first_excess(1) for _ in range(20)] == [False] * 20, "one warning per period"


def test_tokens_come_back_at_the_rate() -> None:
    clock = Clock()
    flood = buckets(clock, per_second=2)
    for _ in range(10):
        flood.take(1)
    assert not flood.take(1)
    clock.advance(0.49)
    assert not flood.take(1)
    clock.advance(0.02)
    assert flood.take(1), "one token after half a second at 2 a second"
    assert not flood.take(1)
    clock.advance(3)
    assert [flood.take(1) for _ in range(7)] == [True] * 6 + [False]


def test_an_upset_person_typing_fast_in_short_messages_is_never_throttled() -> None:
    clock = Clock()
    flood = buckets(clock)
    # Eight rounds of five quick messages half a second apart, four seconds of typing between
    # rounds: 40 messages in under a minute, faster than anyone keeps up for long.
    for _ in range(8):
        for _ in range(5):
            assert flood.take(7)
            clock.advance(0.5)
        clock.advance(4)
    # And a long text Telegram split into ten messages at once, right after.
    clock.advance(10)
    assert all(flood.take(7) for _ in range(10))


def test_a_script_sending_fifty_a_second_gets_about_one_a_second() -> None:
    clock = Clock()
    flood = buckets(clock)
    answered = warned = 0
    for _ in range(50 * 10):  # ten seconds
        if flood.take(99):
            answered += 1
        elif flood.first_excess(99):
            warned += 1
        clock.advance(0.02)
    assert 19 <= answered <= 21, answered  # the burst, then one a second
    assert warned == 1


def test_a_new_throttle_period_begins_only_once_the_bucket_is_full_again() -> None:
    clock = Clock()
    flood = buckets(clock)
    for _ in range(11):
        flood.take(1)
    assert flood.first_excess(1)
    clock.advance(5)  # half refilled: still the same period
    assert [flood.take(1) for _ in range(6)] == [True] * 5 + [False]
    assert not flood.first_excess(1)
    clock.advance(10)  # full again: calm for long enough
    assert all(flood.take(1) for _ in range(10))
    assert not flood.take(1)
    assert flood.first_excess(1), "a later flood is told again, once"


def test_chats_are_throttled_separately() -> None:
    clock = Clock()
    flood = buckets(clock)
    for _ in range(100):
        flood.take(1)
    assert all(flood.take(2) for _ in range(9)), "another chat keeps its whole burst"
    assert not flood.first_excess(2), "nothing to warn about in a chat under its limit"
    assert flood.take(2)
    assert not flood.take(2)


def test_buckets_are_forgotten_once_full_again_so_memory_stays_small() -> None:
    clock = Clock()
    flood = buckets(clock)
    for chat in range(10_000):
        flood.take(chat)
        clock.advance(0.0001)
    assert len(flood) == 10_000
    clock.advance(9)
    flood.take(-1)
    assert len(flood) == 10_001, "not yet full: still remembered"
    clock.advance(1.01)
    flood.take(-2)
    assert len(flood) == 2, "every full bucket dropped"


def test_the_number_of_buckets_is_capped() -> None:
    clock = Clock()
    flood = buckets(clock, max_chats=100)
    for chat in range(1000):
        flood.take(chat)
    assert len(flood) == 100
    assert flood.take(999) and flood.take(0), "the latest kept, an evicted chat starts afresh"


@pytest.mark.parametrize(("burst", "per_second"), [(0, 1.0), (10, 0.0), (-1, 1.0), (10, -1.0)])
def test_a_bucket_that_could_never_answer_is_refused(burst: int, per_second: float) -> None:
    with pytest.raises(ValueError, match="burst"):
        FloodBuckets(burst, per_second)


@pytest.mark.parametrize(
    ("burst", "per_second", "enabled"), [(10, 1.0, True), (0, 1.0, False), (10, 0, False)]
)
def test_zero_in_either_setting_turns_flood_control_off(
    burst: int, per_second: float, enabled: bool, catalogs: Catalogs
) -> None:
    settings = ServeSettings(
        bot_token=SecretStr("123456:" + "a" * 35),
        pseudonym_key=SecretStr("k" * 40),
        flood_burst=burst,
        flood_per_second=per_second,
    )
    guard = FloodGuard.from_settings(settings, lambda: pytest.fail("not needed to decide"), catalogs)
    assert (guard is not None) is enabled


@pytest.mark.parametrize(
    ("text", "acute"),
    [
        ("hjelp, han slår meg nå", True),
        ("han står utanfor døra mi", True),
        ("he is hitting me", True),
        ("når er telefonen åpen", False),
        ("hei hei hei hei", False),
    ],
)
def test_the_guard_tells_acute_messages_without_the_chat_state(
    text: str, acute: bool, engine: Engine
) -> None:
    """A throttled update has no chat state loaded: every language's rules decide."""
    assert engine.is_acute(text) is acute
