"""Leads as messages in staff's Telegram chat (STAFF_CHAT_ID): the e-mail's text, sent by the bot."""

from __future__ import annotations

import dataclasses
import datetime as dt

from telegram import Bot, LinkPreviewOptions
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.content.telegram_html import MAX_MESSAGE_LENGTH, utf16_cut, utf16_length
from bot.delivery.email import lead_text
from bot.engine.lead import Lead
from bot.logs import telegram_error
from bot.storage.outbox import MAX_ERROR_SUMMARY, OutboxItem

ELLIPSIS = "…"


class TelegramChannel:
    """Leads as one plain-text message each in the staff chat; the bot must be a member of it."""

    name = "telegram"

    def __init__(self, bot: Bot, chat_id: int) -> None:
        self.bot = bot
        self.chat_id = chat_id

    async def send(self, item: OutboxItem) -> None:
        """Post the lead; raises python-telegram-bot's errors when Telegram does not accept it."""
        # Plain text (no parse_mode), so whatever the organisation typed arrives literally: there is
        # no markup to escape or to be rejected. Without a preview no link in it is fetched.
        await self.bot.send_message(
            self.chat_id,
            staff_message(item.lead, item.id, item.created_at),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    def describe(self, error: Exception) -> tuple[str, bool] | None:
        """Class and Telegram's description (never the lead), and whether retrying cannot help soon."""
        if isinstance(error, ChatMigrated):
            # The group became a supergroup with a new id: STAFF_CHAT_ID has to be changed.
            return f"ChatMigrated to {error.new_chat_id}", True
        # BadRequest and TimedOut are NetworkErrors too, so the order matters.
        if isinstance(error, BadRequest | Forbidden):  # chat not found, bot removed or blocked
            return _summary(error), True
        if isinstance(error, RetryAfter | TimedOut | NetworkError):
            return _summary(error), False
        return None


def staff_message(lead: Lead, lead_id: str, created_at: dt.datetime) -> str:
    """The e-mail's text, fitted into one Telegram message by shortening the free-text message."""
    text = lead_text(lead, lead_id, created_at)
    over = utf16_length(text) - MAX_MESSAGE_LENGTH
    if over > 0 and lead.message:
        message = lead.message.strip()
        shorter = utf16_cut(message, max(utf16_length(message) - over - len(ELLIPSIS), 0)).rstrip() + ELLIPSIS
        text = lead_text(dataclasses.replace(lead, message=shorter), lead_id, created_at)
    # The form keeps every other answer short; a lead from elsewhere is cut rather than refused forever.
    return (
        text
        if utf16_length(text) <= MAX_MESSAGE_LENGTH
        else utf16_cut(text, MAX_MESSAGE_LENGTH - 1) + ELLIPSIS
    )


def _summary(error: NetworkError | Forbidden | RetryAfter) -> str:
    return telegram_error(error)[:MAX_ERROR_SUMMARY]
