"""The tables. No Telegram ids anywhere; only the lead outbox holds names: organisations' own contacts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, String, Text
from sqlmodel import Field, SQLModel

CHAT_TABLE = "chat"
LEAD_OUTBOX_TABLE = "lead_outbox"


class ChatRow(SQLModel, table=True):
    """One chat, under its keyed pseudonym: where it is in the dialogue and recent message numbers."""

    __tablename__ = CHAT_TABLE

    key: str = Field(primary_key=True, max_length=64)
    node: str | None = Field(default=None, max_length=64)
    lang: str = Field(max_length=8)
    # [[message_id, unix_seconds], …] for the last 48 hours, so /slett can delete them.
    messages: list[list[int]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    last_bot_message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # When the newest of `messages` was sent; NULL when there are none. Lets expiry find old ids fast.
    newest_message_at: dt.datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=True)
    )
    updated_at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    # An organisation's interest form while it is being filled in; emptied when sent or cancelled.
    form: dict[str, str | bool] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    # {"day": "2026-12-03", "count": 2}: the interest forms sent today, for privacy.forms_per_day.
    forms_sent: dict[str, str | int] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    # When the reader asked the conversation to be deleted by itself (NULL: not asked), and, until
    # then, where to delete it: the chat id sealed with a key derived from the pseudonym key
    # (AES-GCM, bound to this row's key), so the database alone never tells whose chat it is.
    auto_delete_at: dt.datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=True)
    )
    auto_delete_chat: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class LeadOutboxRow(SQLModel, table=True):
    """An organisation's interest form for one channel until it has accepted it (then kept a few days)."""

    __tablename__ = LEAD_OUTBOX_TABLE
    # Each channel's worker claims only its own due leads.
    __table_args__ = (Index("ix_lead_outbox_channel_next_attempt_at", "channel", "next_attempt_at"),)

    # A uuid4, also the local part of the e-mail's Message-ID, so a resend is recognisable.
    id: str = Field(primary_key=True, max_length=36)
    # Where this copy of the lead goes: the name its channel has on the delivery side (one row per
    # configured channel). The server default covers the rows stored before there was a second one.
    channel: str = Field(
        default="email", sa_column=Column(String(16), nullable=False, server_default="email")
    )
    # What the organisation typed, with its consent to be contacted; never a Telegram id.
    organisation: str = Field(sa_column=Column(Text, nullable=False))
    actor_kind: str = Field(max_length=16)
    size: str = Field(sa_column=Column(Text, nullable=False))
    contact_person: str = Field(sa_column=Column(Text, nullable=False))
    contact: str = Field(sa_column=Column(Text, nullable=False))
    message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    lang: str = Field(max_length=8)
    created_at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
    # The last failure: the exception class with the SMTP code or Telegram's description; never any
    # mail server text, which may quote addresses.
    last_error: str | None = Field(default=None, max_length=120)
    delivered_at: dt.datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=True)
    )


STATS_TABLE = "daily_stats"


class DailyStatsRow(SQLModel, table=True):
    """How often a node was shown on one Europe/Oslo day: a count, never who or what was written."""

    __tablename__ = STATS_TABLE

    day: dt.date = Field(primary_key=True)
    # A node id from the scripts, or the reserved "*fallback" (free text nothing matched).
    node: str = Field(primary_key=True, max_length=64)
    count: int


HANDLED_UPDATE_TABLE = "handled_update"


class HandledUpdateRow(SQLModel, table=True):
    """A Telegram update that replicas have answered (or begun to): so a redelivery is answered once.

    An update id is Telegram's running number for the bot's updates; it says nothing about the
    chat or the person. Rows are deleted after a couple of days, when Telegram has long given up.
    """

    __tablename__ = HANDLED_UPDATE_TABLE

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    # {"<reply index>": message id, or null for an edit in place}: replies Telegram has accepted.
    sent: dict[str, int | None] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # True once the chat's new state is stored: a redelivery is then acknowledged without a reply.
    done: bool = False
    at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
