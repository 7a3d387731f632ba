"""The lead outbox: organisations' interest forms, kept in the database until each channel has them.

A lead is stored once per configured channel (staff's mailbox, staff's Telegram chat), in one
transaction, and each copy is delivered and retried on its own: one channel's outage never holds
back the other.

Delivery is at least once, not exactly once. A copy is marked delivered only after the SMTP server
or Telegram accepted it, so no lead is lost to a crash, an outage or a restart. But if the process
dies, or the database cannot be reached, between that acceptance and the marking, it is sent again
later. Every send of a copy carries the same reference (its id; for e-mail also the Message-ID
`<id@balansebot>` and Date), so staff can recognise the second copy.

Replicas share the outbox. Claiming a lead (`due`) moves its next attempt one lease into the future
in a single statement, which on PostgreSQL skips rows another replica is claiming (FOR UPDATE SKIP
LOCKED); so two replicas never send the same lead at the same time. A replica that dies mid-send
leaves its leads to be claimed again when the lease has run out. SQLite serves one process, and its
single writer makes the same statement safe there too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from bot.engine.lead import Lead
from bot.storage.database import erase_deleted
from bot.storage.tables import LEAD_OUTBOX_TABLE

DEFAULT_LEASE = dt.timedelta(minutes=5)
MAX_ERROR_SUMMARY = 120  # the column's length
MAX_CHANNEL_NAME = 16  # the column's length
LEAD_FIELDS = ("organisation", "actor_kind", "size", "contact_person", "contact", "message", "lang")
# What a delivered lead's answers become: its row stays (for its id) without them.
BLANK: dict[str, str | None] = {
    "organisation": "",
    "size": "",
    "contact_person": "",
    "contact": "",
    "message": None,
}
LEAD_NAMESPACE = uuid.UUID("5d1f0c1e-2b7a-4f39-9a55-6b616c616e73")  # ids derived with uuid5 (once_per)


@dataclass(frozen=True)
class LeadExpiry:
    """What one expiry run deleted from the outbox."""

    delivered: int
    """Records of delivered leads (their answers were deleted on delivery)."""
    undelivered: int
    """Leads no channel accepted in time: lost to staff, which the log and the metrics say."""


@dataclass(frozen=True)
class OutboxItem:
    """A lead claimed for sending, with what is known of earlier attempts."""

    id: str
    lead: Lead
    created_at: dt.datetime
    attempts: int
    """Claims so far, this one included."""
    last_error: str | None


class LeadOutbox:
    """The durable queue of leads for staff, on SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine, lease: dt.timedelta = DEFAULT_LEASE) -> None:
        self._engine = engine
        self._table: Table = SQLModel.metadata.tables[LEAD_OUTBOX_TABLE]
        self.lease = lease
        """How long a claimed lead is left to its claimant before it is due again."""

    async def enqueue_each(
        self, lead: Lead, now: dt.datetime, channels: Sequence[str], *, once_per: str | None = None
    ) -> list[str]:
        """Store the lead once per channel, all or none, due at once; return the ids in that order.

        With `once_per` (e.g. the Telegram update the form was sent in) the ids derive from it, so
        storing the same lead again, when Telegram redelivers that update, stores nothing new.
        """
        if not channels:
            raise ValueError("a lead needs at least one channel")
        # The delivery side names its channels; the outbox only keeps each copy under the name.
        unfit = sorted(name for name in set(channels) if not 0 < len(name) <= MAX_CHANNEL_NAME)
        if unfit:
            raise ValueError(f"channel names must be 1-{MAX_CHANNEL_NAME} characters, not {unfit}")
        now = _utc(now)
        fields = {name: getattr(lead, name) for name in LEAD_FIELDS}
        rows = [
            {
                **fields,
                "id": str(
                    uuid.uuid4() if once_per is None else uuid.uuid5(LEAD_NAMESPACE, f"{once_per}/{channel}")
                ),
                "channel": channel,
                "created_at": now,
                "attempts": 0,
                "next_attempt_at": now,
            }
            for channel in channels
        ]
        insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        async with self._engine.begin() as conn:
            await conn.execute(insert(self._table).on_conflict_do_nothing(index_elements=["id"]), rows)
        return [row["id"] for row in rows]

    async def due(self, now: dt.datetime, limit: int, channel: str) -> list[OutboxItem]:
        """Claim up to `limit` of the channel's undelivered leads due by `now`, oldest first, for a lease."""
        t, now = self._table, _utc(now)
        candidates = (
            select(t.c.id)
            .where(t.c.channel == channel, t.c.delivered_at.is_(None), t.c.next_attempt_at <= now)
            .order_by(t.c.created_at, t.c.id)
            .limit(limit)
        )
        if self._engine.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        claim = (
            update(t)
            .where(t.c.id.in_(candidates))
            .values(next_attempt_at=now + self.lease, attempts=t.c.attempts + 1)
            .returning(*t.c)
        )
        async with self._engine.begin() as conn:
            rows = (await conn.execute(claim)).all()
        items = [_to_item(row._mapping) for row in rows]
        return sorted(items, key=lambda item: (item.created_at, item.id))  # RETURNING has no order

    async def mark_delivered(self, lead_id: str, now: dt.datetime) -> None:
        """Record that the channel (the mail server, Telegram) accepted the lead, and delete its answers.

        What stays is what keeps a redelivered update from storing the lead again (its id) and
        when it was delivered: no name, address or text.
        """
        t = self._table
        async with self._engine.begin() as conn:
            await conn.execute(update(t).where(t.c.id == lead_id).values(delivered_at=_utc(now), **BLANK))
        await erase_deleted(self._engine, [LEAD_OUTBOX_TABLE])

    async def mark_failed(
        self, lead_id: str, now: dt.datetime, error_summary: str, next_attempt_at: dt.datetime
    ) -> None:
        """Record a failed attempt (a summary free of personal data) and when to try again."""
        if _utc(next_attempt_at) < _utc(now):
            raise ValueError("the next attempt must not be in the past")
        t = self._table
        async with self._engine.begin() as conn:
            await conn.execute(
                update(t)
                .where(t.c.id == lead_id, t.c.delivered_at.is_(None))
                .values(last_error=error_summary[:MAX_ERROR_SUMMARY], next_attempt_at=_utc(next_attempt_at))
            )

    async def expire(
        self, now: dt.datetime, keep_delivered: dt.timedelta, keep_undelivered: dt.timedelta
    ) -> LeadExpiry:
        """Delete the records of leads delivered longer than `keep_delivered` ago, and leads no
        channel accepted within `keep_undelivered` (a channel since removed from the settings
        included); then erase them from the files."""
        t, now = self._table, _utc(now)
        async with self._engine.begin() as conn:
            delivered = await conn.execute(delete(t).where(t.c.delivered_at < now - keep_delivered))
            undelivered = await conn.execute(
                delete(t).where(t.c.delivered_at.is_(None), t.c.created_at < now - keep_undelivered)
            )
        # Every run, not only when it deleted something: an erasure after a delivery leaves a row
        # that a transaction running then could still see (PostgreSQL keeps it for that one).
        await erase_deleted(self._engine, [LEAD_OUTBOX_TABLE])
        return LeadExpiry(delivered.rowcount or 0, undelivered.rowcount or 0)

    async def overdue_by_channel(self, created_before: dt.datetime) -> dict[str, int]:
        """Undelivered leads sent before `created_before`, per channel (channels with none left out)."""
        t = self._table
        query = (
            select(t.c.channel, func.count())
            .where(t.c.delivered_at.is_(None), t.c.created_at < _utc(created_before))
            .group_by(t.c.channel)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {str(channel): int(count) for channel, count in rows}

    async def depth(self) -> int:
        """How many leads are not yet delivered, over all channels."""
        t = self._table
        async with self._engine.connect() as conn:
            count = await conn.scalar(select(func.count()).select_from(t).where(t.c.delivered_at.is_(None)))
        return int(count or 0)

    async def depth_by_channel(self) -> dict[str, int]:
        """How many leads are not yet delivered, per channel (channels with none are left out)."""
        t = self._table
        query = select(t.c.channel, func.count()).where(t.c.delivered_at.is_(None)).group_by(t.c.channel)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {str(channel): int(count) for channel, count in rows}


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite keeps datetimes without an offset, so everything stored must be in the same zone: UTC.
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return moment.astimezone(dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back the stored UTC time without its offset; PostgreSQL keeps it.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _to_item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        lead=Lead(**{name: row[name] for name in LEAD_FIELDS}),
        created_at=_aware(row["created_at"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
    )
