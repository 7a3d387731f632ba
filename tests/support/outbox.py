"""Putting one lead in the outbox, as the tests of one channel at a time do."""

from __future__ import annotations

import datetime as dt

from bot.engine.lead import Lead
from bot.storage.outbox import LeadOutbox


async def enqueue(outbox: LeadOutbox, lead: Lead, now: dt.datetime, channel: str = "email") -> str:
    """Store the lead for one channel, due at once; return its id."""
    [lead_id] = await outbox.enqueue_each(lead, now, [channel])
    return lead_id
