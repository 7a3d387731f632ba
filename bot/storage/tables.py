"""The tables. Nothing here can identify a person: no Telegram ids, names or message text."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Column, DateTime
from sqlmodel import Field, SQLModel

CHAT_TABLE = "chat"


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
