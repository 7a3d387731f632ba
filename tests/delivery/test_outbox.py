"""The lead outbox on real SQLite and PostgreSQL: leads kept until delivered, claimed once, purged later."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect, select, text
from sqlmodel import SQLModel

from bot.engine.lead import Lead
from bot.storage import migrate
from bot.storage.database import create_engine, sync_url
from bot.storage.outbox import LeadOutbox
from bot.storage.tables import LEAD_OUTBOX_TABLE
from tests.databases import fresh_database, query, raw_database_bytes
from tests.support.outbox import enqueue

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)
LEAD = Lead(
    organisation="Bærum Kulturhus",
    actor_kind="organising",
    size="ca. 40",
    contact_person="Åse Ødegård",
    contact="ase@example.no",
    message="Vi vil gjerne vite mer.",
    lang="nb",
)


@pytest.fixture
async def outbox(database_url: str) -> AsyncIterator[LeadOutbox]:
    """An outbox on the database."""
    engine = create_engine(database_url)
    yield LeadOutbox(engine, lease=LEASE)
    await engine.dispose()


def lead(number: int) -> Lead:
    """A distinct lead."""
    return Lead(
        organisation=f"Org {number}",
        actor_kind="performing",
        size="5",
        contact_person="Kari",
        contact="+47 22 00 00 00",
        lang="nn",
    )


async def test_an_enqueued_lead_comes_back_whole_and_aware(outbox: LeadOutbox) -> None:
    lead_id = await enqueue(outbox, LEAD, NOW)
    assert await outbox.depth() == 1
    [item] = await outbox.due(NOW, 10, "email")
    assert (item.id, item.lead, item.created_at, item.attempts, item.last_error) == (
        lead_id,
        LEAD,
        NOW,
        1,
        None,
    )
    assert item.created_at.tzinfo is not None


async def test_due_is_oldest_first_limited_and_not_early(outbox: LeadOutbox) -> None:
    ids = [await enqueue(outbox, lead(n), NOW + dt.timedelta(seconds=n)) for n in range(4)]
    assert await outbox.due(NOW - dt.timedelta(seconds=1), 10, "email") == []
    assert [item.id for item in await outbox.due(NOW + dt.timedelta(minutes=1), 3, "email")] == ids[:3]
    assert [item.id for item in await outbox.due(NOW + dt.timedelta(minutes=1), 3, "email")] == ids[3:]


async def test_a_claimed_lead_is_left_alone_for_the_lease_then_due_again(outbox: LeadOutbox) -> None:
    """What happens to a lead whose sender died mid-send: it waits out the lease, then goes again."""
    lead_id = await enqueue(outbox, LEAD, NOW)
    assert len(await outbox.due(NOW, 10, "email")) == 1
    assert await outbox.due(NOW + LEASE - dt.timedelta(seconds=1), 10, "email") == []
    [again] = await outbox.due(NOW + LEASE, 10, "email")
    assert (again.id, again.attempts) == (lead_id, 2)


async def test_a_failure_is_recorded_and_retried_at_the_given_time(outbox: LeadOutbox) -> None:
    lead_id = await enqueue(outbox, LEAD, NOW)
    await outbox.due(NOW, 10, "email")
    retry_at = NOW + dt.timedelta(seconds=30)
    await outbox.mark_failed(lead_id, NOW, "SMTPRecipientsRefused 451", retry_at)
    assert await outbox.due(retry_at - dt.timedelta(seconds=1), 10, "email") == []
    [item] = await outbox.due(retry_at, 10, "email")
    assert (item.attempts, item.last_error) == (2, "SMTPRecipientsRefused 451")
    with pytest.raises(ValueError, match="past"):
        await outbox.mark_failed(lead_id, NOW, "x", NOW - dt.timedelta(seconds=1))


async def test_a_delivered_lead_is_never_due_and_not_counted(outbox: LeadOutbox) -> None:
    delivered = await enqueue(outbox, LEAD, NOW)
    waiting = await enqueue(outbox, lead(1), NOW)
    await outbox.due(NOW, 10, "email")
    await outbox.mark_delivered(delivered, NOW)
    assert await outbox.depth() == 1
    # A late failure report (another replica's, after its lease ran out) does not revive it.
    await outbox.mark_failed(delivered, NOW, "TimeoutError", NOW)
    assert [item.id for item in await outbox.due(NOW + dt.timedelta(days=1), 10, "email")] == [waiting]


async def test_a_delivered_lead_keeps_its_id_and_nothing_anyone_typed(
    outbox: LeadOutbox, database_url: str
) -> None:
    delivered = await enqueue(outbox, LEAD, NOW)
    await outbox.due(NOW, 10, "email")
    await outbox.mark_delivered(delivered, NOW)
    rows = query(
        database_url,
        "SELECT id, organisation, size, contact_person, contact, message, delivered_at IS NOT NULL "
        "FROM lead_outbox",
    )
    assert rows == [(delivered, "", "", "", "", None, True)]
    answers = ("Bærum Kulturhus", "Åse Ødegård", "ase@example.no", "Vi vil gjerne vite mer.")
    # PostgreSQL keeps an old row version while any transaction begun before (autovacuum's, on a
    # busy server) may still see it; the next erasure, the expiry job's, removes it then.
    for _ in range(50):
        content = raw_database_bytes(database_url)
        if not any(answer.encode() in content for answer in answers):
            break
        await asyncio.sleep(0.1)
        await outbox.expire(NOW, dt.timedelta(days=30), dt.timedelta(days=7))
    assert [answer for answer in answers if answer.encode() in content] == []
    # The same update delivered again by Telegram stores nothing new (the id is kept for that).
    again = await outbox.enqueue_each(LEAD, NOW, ["email"], once_per="update-7")
    assert await outbox.enqueue_each(LEAD, NOW, ["email"], once_per="update-7") == again
    assert await outbox.depth() == 1


async def test_expiry_bounds_the_life_of_delivered_and_undelivered_leads(outbox: LeadOutbox) -> None:
    keep_delivered, keep_undelivered = dt.timedelta(days=30), dt.timedelta(days=7)
    delivered = await enqueue(outbox, LEAD, NOW - dt.timedelta(days=40))
    await outbox.due(NOW - dt.timedelta(days=40), 10, "email")
    await outbox.mark_delivered(delivered, NOW - dt.timedelta(days=31))
    lost = await enqueue(outbox, lead(1), NOW - dt.timedelta(days=8), "telegram")  # a channel since removed
    waiting = await enqueue(outbox, lead(2), NOW - dt.timedelta(days=2))
    fresh = await enqueue(outbox, lead(3), NOW - dt.timedelta(hours=1))
    overdue = await outbox.overdue_by_channel(NOW - dt.timedelta(days=1))
    assert overdue == {"email": 1, "telegram": 1}
    expiry = await outbox.expire(NOW, keep_delivered, keep_undelivered)
    assert (expiry.delivered, expiry.undelivered) == (1, 1)
    remaining = [item.id for item in await outbox.due(NOW, 10, "email")]
    assert sorted(remaining) == sorted([waiting, fresh])
    assert lost not in remaining
    assert await outbox.overdue_by_channel(NOW - dt.timedelta(days=1)) == {"email": 1}
    assert await outbox.expire(NOW, keep_delivered, keep_undelivered) == type(expiry)(0, 0)


async def test_leads_survive_a_restart(database_url: str) -> None:
    first = create_engine(database_url)
    lead_id = await enqueue(LeadOutbox(first), LEAD, NOW)
    await first.dispose()
    second = create_engine(database_url)
    try:
        [item] = await LeadOutbox(second).due(NOW, 10, "email")
        assert (item.id, item.lead) == (lead_id, LEAD)
    finally:
        await second.dispose()


async def test_each_channel_claims_only_its_own_copy_of_a_lead(outbox: LeadOutbox) -> None:
    email_id, telegram_id = await outbox.enqueue_each(LEAD, NOW, ["email", "telegram"])
    assert await outbox.depth() == 2
    [by_email] = await outbox.due(NOW, 10, "email")
    assert (by_email.id, by_email.lead) == (email_id, LEAD)
    await outbox.mark_delivered(email_id, NOW)
    assert await outbox.depth() == 1
    # The e-mail's claim and delivery left the staff chat's copy due, untouched.
    [in_chat] = await outbox.due(NOW, 10, "telegram")
    assert (in_chat.id, in_chat.lead, in_chat.attempts) == (telegram_id, LEAD, 1)
    assert await outbox.due(NOW + dt.timedelta(days=1), 10, "email") == []


async def test_a_lead_for_no_channel_or_an_overlong_name_is_refused_and_not_stored(
    outbox: LeadOutbox,
) -> None:
    with pytest.raises(ValueError, match="at least one channel"):
        await outbox.enqueue_each(LEAD, NOW, [])
    with pytest.raises(ValueError, match="1-16 characters"):
        await outbox.enqueue_each(LEAD, NOW, ["email", "x" * 17])
    with pytest.raises(ValueError, match="1-16 characters"):
        await outbox.enqueue_each(LEAD, NOW, [""])
    assert await outbox.depth() == 0


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_leads_stored_before_there_were_channels_are_emailed(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as url:
        config = migrate.alembic_config(url)
        await asyncio.to_thread(command.upgrade, config, "0003")
        sync = create_sync_engine(sync_url(url))
        try:
            with sync.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO lead_outbox (id, organisation, actor_kind, size, contact_person,"
                        " contact, message, lang, created_at, attempts, next_attempt_at) VALUES ('old',"
                        " 'Org', 'performing', '5', 'Kari', '+47 22 00 00 00', NULL, 'nn', :now, 0, :now)"
                    ),
                    {"now": NOW},
                )
        finally:
            sync.dispose()
        await asyncio.to_thread(migrate.upgrade, url)
        engine = create_engine(url)
        try:
            outbox = LeadOutbox(engine)
            assert await outbox.due(NOW, 10, "telegram") == []
            assert [item.id for item in await outbox.due(NOW, 10, "email")] == ["old"]
        finally:
            await engine.dispose()
        # And back: the downgrade drops the column and its index on both databases.
        await asyncio.to_thread(command.downgrade, config, "0003")
        sync = create_sync_engine(sync_url(url))
        try:
            columns = {column["name"] for column in inspect(sync).get_columns(LEAD_OUTBOX_TABLE)}
        finally:
            sync.dispose()
        assert "channel" not in columns


async def test_naive_datetimes_are_refused(outbox: LeadOutbox) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await enqueue(outbox, LEAD, NOW.replace(tzinfo=None))


async def test_other_time_zones_are_stored_as_utc(outbox: LeadOutbox) -> None:
    oslo = dt.timezone(dt.timedelta(hours=1))
    await enqueue(outbox, LEAD, NOW.astimezone(oslo))
    assert await outbox.due(NOW - dt.timedelta(seconds=1), 10, "email") == []
    [item] = await outbox.due(NOW, 10, "email")
    assert item.created_at == NOW


async def test_the_row_holds_no_telegram_id(database_url: str) -> None:
    engine = create_sync_engine(sync_url(database_url))
    try:
        columns = {column["name"] for column in inspect(engine).get_columns(LEAD_OUTBOX_TABLE)}
    finally:
        engine.dispose()
    assert columns == {
        "id",
        "channel",
        "organisation",
        "actor_kind",
        "size",
        "contact_person",
        "contact",
        "message",
        "lang",
        "created_at",
        "attempts",
        "next_attempt_at",
        "last_error",
        "delivered_at",
    }


async def test_the_migration_matches_the_table(database_url: str) -> None:
    engine = create_sync_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    ours = [d for d in differences if LEAD_OUTBOX_TABLE in repr(d)]
    assert ours == []


async def test_unknown_actor_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="actor_kind"):
        Lead(organisation="x", actor_kind="audience", size="1", contact_person="y", contact="z", lang="nb")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_replicas_claiming_at_once_never_share_a_lead(database_url: str) -> None:
    engines = [create_engine(database_url) for _ in range(4)]
    try:
        outboxes = [LeadOutbox(engine, lease=LEASE) for engine in engines]
        ids = {await enqueue(outboxes[0], lead(n), NOW) for n in range(60)}
        claims = await asyncio.gather(*(outbox.due(NOW, 7, "email") for outbox in outboxes * 3))
        claimed = [item.id for claim in claims for item in claim]
        # Skipping rows another replica holds may leave a claim short; whatever is left is still due.
        claimed += [item.id for item in await outboxes[0].due(NOW, 100, "email")]
        assert len(claimed) == len(set(claimed)) == 60
        assert set(claimed) == ids
        async with engines[0].connect() as conn:
            table = SQLModel.metadata.tables[LEAD_OUTBOX_TABLE]
            attempts = (await conn.execute(select(table.c.attempts))).scalars().all()
        assert set(attempts) == {1}
    finally:
        for engine in engines:
            await engine.dispose()
