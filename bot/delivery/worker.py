"""The delivery loop: send each channel's due leads, retry failures with backoff.

Deleting old leads is the expiry job's (bot/telegram/runtime.py), which runs whatever channels
are configured.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.storage.outbox import LeadOutbox, OutboxItem

log = logging.getLogger(__name__)

FIRST_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=1)
JITTER = 0.2  # ± a fifth, so leads that failed together do not all retry in the same second
BATCH = 5  # leads claimed (and sent concurrently) per round

Outcome = Literal["delivered", "retrying", "rejected"]


class Channel(Protocol):
    """Where staff receive leads: their mailbox, their Telegram chat."""

    @property
    def name(self) -> str:
        """The name the outbox keeps the channel's copies under ("email", "telegram"; 1-16 characters)."""

    async def send(self, item: OutboxItem) -> None:
        """Deliver one lead; returns once the channel has accepted it, raises when it has not."""

    def describe(self, error: Exception) -> tuple[str, bool] | None:
        """A summary free of personal data and whether the failure is permanent; None if unexpected."""


@dataclass(frozen=True)
class DeliveryReport:
    """What one round did."""

    delivered: int = 0
    retrying: int = 0
    """Failed for a reason that may pass (no connection, a timeout, a 4xx reply, flood control)."""
    rejected: int = 0
    """Refused permanently (a 5xx reply, chat not found) or failed unexpectedly; retried hourly."""

    @property
    def claimed(self) -> int:
        """Leads this round tried to send."""
        return self.delivered + self.retrying + self.rejected


def backoff(attempts: int, rng: random.Random, *, permanent: bool = False) -> dt.timedelta:
    """The wait after `attempts` failed tries: 30 s, 1 min, 2 min … at most an hour, with jitter."""
    if permanent:
        return MAX_DELAY * rng.uniform(1 - JITTER, 1)
    nominal = min(MAX_DELAY, FIRST_DELAY * (1 << min(max(attempts - 1, 0), 16)))
    return min(MAX_DELAY, nominal * rng.uniform(1 - JITTER, 1 + JITTER))


async def deliver_due(
    outbox: LeadOutbox,
    channel: Channel,
    now: dt.datetime,
    *,
    limit: int = BATCH,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Send each of the channel's due leads once (up to `limit`); mark it delivered, or failed."""
    items = await outbox.due(now, limit, channel.name)
    chance = rng or random.Random()  # noqa: S311 - jitter, not secrecy
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(_deliver(outbox, channel, item, now, chance)) for item in items]
    outcomes = [task.result() for task in tasks]
    return DeliveryReport(
        delivered=outcomes.count("delivered"),
        retrying=outcomes.count("retrying"),
        rejected=outcomes.count("rejected"),
    )


async def run_forever(
    outbox: LeadOutbox,
    channels: Sequence[Channel],
    interval: float,
    clock: Callable[[], dt.datetime],
    *,
    limit: int = BATCH,
) -> None:
    """Deliver each channel's leads every `interval` s until cancelled; failed rounds are logged."""
    if not channels:
        raise ValueError("no channel to deliver leads to")
    # One loop per channel, so a mail server that hangs for its whole timeout does not hold back
    # the staff chat's leads (or the other way round).
    async with asyncio.TaskGroup() as group:
        for channel in channels:
            group.create_task(
                _channel_forever(outbox, channel, interval, clock, limit),
                name=f"lead delivery ({channel.name})",
            )


async def _channel_forever(
    outbox: LeadOutbox,
    channel: Channel,
    interval: float,
    clock: Callable[[], dt.datetime],
    limit: int,
) -> None:
    while True:
        claimed = 0
        try:
            now = clock()
            report = await deliver_due(outbox, channel, now, limit=limit)
            claimed = report.claimed
            if report.claimed:
                log.info(
                    "leads (%s): %d delivered, %d to retry, %d rejected",
                    channel.name,
                    report.delivered,
                    report.retrying,
                    report.rejected,
                )
        except Exception:
            # The next round may well succeed (the database back, the bug in one lead retried later).
            log.exception("lead delivery round failed (%s); trying again in %.0f s", channel.name, interval)
        if claimed < limit:  # a full batch means more may be waiting: go on without sleeping
            await asyncio.sleep(interval)


async def _deliver(
    outbox: LeadOutbox, channel: Channel, item: OutboxItem, now: dt.datetime, rng: random.Random
) -> Outcome:
    try:
        # Finish well within the lease, so no other replica claims the lead while it is being sent.
        async with asyncio.timeout(outbox.lease.total_seconds() / 2):
            await channel.send(item)
    except Exception as error:
        described = channel.describe(error)
        if described is None and isinstance(error, TimeoutError):
            described = (type(error).__name__, False)  # our own deadline above, whatever the channel
        if described is not None:
            return await _failed(outbox, channel, item, now, described, rng)
        # A bug met by one lead must neither stop the others nor lose this one: it is logged at
        # ERROR (without its message, which could quote the lead) and retried hourly.
        frames = "".join(traceback.format_tb(error.__traceback__))
        log.error(
            "lead %s: unexpected %s while sending to %s\n%s",
            item.id,
            type(error).__name__,
            channel.name,
            frames,
        )
        await outbox.mark_failed(item.id, now, type(error).__name__, now + backoff(0, rng, permanent=True))
        return "rejected"
    await outbox.mark_delivered(item.id, now)
    log.info("lead %s delivered by %s (attempt %d)", item.id, channel.name, item.attempts)
    return "delivered"


async def _failed(
    outbox: LeadOutbox,
    channel: Channel,
    item: OutboxItem,
    now: dt.datetime,
    described: tuple[str, bool],
    rng: random.Random,
) -> Outcome:
    summary, permanent = described
    delay = backoff(item.attempts, rng, permanent=permanent)
    await outbox.mark_failed(item.id, now, summary, now + delay)
    if permanent:
        log.error(
            "lead %s refused by %s (%s) on attempt %d; check its settings (the SMTP server and "
            "recipient, or STAFF_CHAT_ID and the bot's membership there). Retrying in %.0f min",
            item.id,
            channel.name,
            summary,
            item.attempts,
            delay.total_seconds() / 60,
        )
        return "rejected"
    log.warning(
        "lead %s not delivered by %s (%s) on attempt %d; retrying in %.0f s",
        item.id,
        channel.name,
        summary,
        item.attempts,
        delay.total_seconds(),
    )
    return "retrying"
