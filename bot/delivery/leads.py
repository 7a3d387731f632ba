"""From a completed interest form in the chat to the outbox, and which channels take it to staff."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from telegram import Bot

from bot.delivery.email import EmailChannel, SmtpConfig
from bot.delivery.telegram_chat import TelegramChannel
from bot.delivery.worker import Channel
from bot.engine.form import ACTOR_KINDS
from bot.engine.lead import Lead
from bot.engine.model import SubmitLead
from bot.settings import ServeSettings
from bot.storage.outbox import LeadOutbox


class OutboxLeads:
    """The Telegram adapter's LeadInbox: a lead is stored durably before the reader is thanked."""

    def __init__(self, outbox: LeadOutbox, channels: Sequence[Channel]) -> None:
        if not channels:
            raise ValueError("leads need at least one channel to staff")
        self._outbox = outbox
        # Only the names of channels a worker serves: a copy for any other would wait forever.
        self._channels = tuple(channel.name for channel in channels)

    async def submit(self, lead: SubmitLead, now: dt.datetime, once_per: str | None = None) -> None:
        """Enqueue the form's answers once per channel (and once per `once_per`); workers send each."""
        form = lead.form
        actor_kind = next((k for k in ACTOR_KINDS if k == form.get("actor_kind")), None)
        if actor_kind is None:
            raise ValueError("the form's kind of actor is not one the e-mail knows")
        await self._outbox.enqueue_each(
            Lead(
                organisation=form.get("organisation"),
                actor_kind=actor_kind,
                size=form.get("size"),
                contact_person=form.contact_person,
                contact=form.contact,
                message=form.get("message") or None,
                lang=lead.lang,
            ),
            now,
            self._channels,
            once_per=once_per,
        )


def lead_channels(settings: ServeSettings, bot: Bot, default_recipient: str) -> list[Channel]:
    """The channels configured to take leads to staff: e-mail, the staff chat, both or none."""
    channels: list[Channel] = []
    smtp = smtp_config(settings, default_recipient)
    if smtp is not None:
        channels.append(EmailChannel(smtp))
    if settings.staff_chat_id is not None:
        channels.append(TelegramChannel(bot, settings.staff_chat_id))
    return channels


def smtp_config(settings: ServeSettings, default_recipient: str) -> SmtpConfig | None:
    """The SMTP settings, or None when leads are not e-mailed."""
    if settings.smtp_host is None or settings.leads_email_from is None:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
        use_tls=settings.smtp_tls,
        sender=settings.leads_email_from,
        recipient=settings.leads_email_to or default_recipient,
        timeout=settings.smtp_timeout_seconds,
    )
