"""The delivery loop: send due leads, retry failures with backoff, purge delivered leads after a while."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from bot.delivery.email import SmtpConfig, build_message, send
from bot.storage.outbox import LeadOutbox, OutboxItem

log = logging.getLogger(__name__)

FIRST_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=1)
JITTER = 0.2  # ± a fifth, so leads that failed together do not all retry in the same second
BATCH = 5  # leads claimed (and sent concurrently) per round
KEEP_DELIVERED = dt.timedelta(days=7)

Outcome = Literal["delivered", "retrying", "rejected"]


@dataclass(frozen=True)
class DeliveryReport:
    """What one round did."""

    delivered: int = 0
    retrying: int = 0
    """Failed for a reason that may pass (no connection, a timeout, a 4xx reply)."""
    rejected: int = 0
    """Refused permanently (a 5xx reply) or failed unexpectedly; retried hourly until someone looks."""

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


def describe_failure(error: Exception) -> tuple[str, bool]:
    """A summary free of personal data (class and SMTP code), and whether the refusal is permanent."""
    code: int | None = None
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        code = error.recipients[0].code
    elif isinstance(error, aiosmtplib.SMTPResponseException):
        code = error.code
    name = type(error).__name__
    return (name if code is None else f"{name} {code}"), code is not None and 500 <= code < 600


async def deliver_due(
    outbox: LeadOutbox,
    config: SmtpConfig,
    now: dt.datetime,
    *,
    limit: int = BATCH,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Send each due lead once (up to `limit`); mark it delivered, or failed with its next attempt."""
    items = await outbox.due(now, limit)
    chance = rng or random.Random()  # noqa: S311 - jitter, not secrecy
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(_deliver(outbox, config, item, now, chance)) for item in items]
    outcomes = [task.result() for task in tasks]
    return DeliveryReport(
        delivered=outcomes.count("delivered"),
        retrying=outcomes.count("retrying"),
        rejected=outcomes.count("rejected"),
    )


async def run_forever(
    outbox: LeadOutbox,
    config: SmtpConfig,
    interval: float,
    clock: Callable[[], dt.datetime],
    *,
    keep_delivered: dt.timedelta = KEEP_DELIVERED,
    limit: int = BATCH,
) -> None:
    """Deliver and purge every `interval` seconds until cancelled; a failed round is logged, not fatal."""
    while True:
        claimed = 0
        try:
            now = clock()
            report = await deliver_due(outbox, config, now, limit=limit)
            claimed = report.claimed
            purged = await outbox.purge_delivered(now - keep_delivered)
            if report.claimed or purged:
                log.info(
                    "leads: %d delivered, %d to retry, %d rejected, %d purged",
                    report.delivered,
                    report.retrying,
                    report.rejected,
                    purged,
                )
        except Exception:
            # The next round may well succeed (the database back, the bug in one lead retried later).
            log.exception("lead delivery round failed; trying again in %.0f s", interval)
        if claimed < limit:  # a full batch means more may be waiting: go on without sleeping
            await asyncio.sleep(interval)


async def _deliver(
    outbox: LeadOutbox, config: SmtpConfig, item: OutboxItem, now: dt.datetime, rng: random.Random
) -> Outcome:
    try:
        message = build_message(item.lead, item.id, config, item.created_at)
        # Finish well within the lease, so no other replica claims the lead while it is being sent.
        async with asyncio.timeout(outbox.lease.total_seconds() / 2):
            await send(message, config)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return await _failed(outbox, item, now, error, rng)
    except Exception as error:
        # A bug met by one lead must neither stop the others nor lose this one: it is logged at
        # ERROR (without its message, which could quote the lead) and retried hourly.
        frames = "".join(traceback.format_tb(error.__traceback__))
        log.error("lead %s: unexpected %s while sending\n%s", item.id, type(error).__name__, frames)
        await outbox.mark_failed(item.id, now, type(error).__name__, now + backoff(0, rng, permanent=True))
        return "rejected"
    await outbox.mark_delivered(item.id, now)
    log.info("lead %s delivered (attempt %d)", item.id, item.attempts)
    return "delivered"


async def _failed(
    outbox: LeadOutbox, item: OutboxItem, now: dt.datetime, error: Exception, rng: random.Random
) -> Outcome:
    summary, permanent = describe_failure(error)
    delay = backoff(item.attempts, rng, permanent=permanent)
    await outbox.mark_failed(item.id, now, summary, now + delay)
    if permanent:
        log.error(
            "lead %s refused by the mail server (%s) on attempt %d; check the SMTP settings and "
            "recipient. Retrying in %.0f min",
            item.id,
            summary,
            item.attempts,
            delay.total_seconds() / 60,
        )
        return "rejected"
    log.warning(
        "lead %s not delivered (%s) on attempt %d; retrying in %.0f s",
        item.id,
        summary,
        item.attempts,
        delay.total_seconds(),
    )
    return "retrying"
