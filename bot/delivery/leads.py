"""From a completed interest form in the chat to the outbox, and from the outbox to staff's inbox."""

from __future__ import annotations

import datetime as dt

from bot.delivery.email import Lead, SmtpConfig
from bot.engine.form import ACTOR_KINDS
from bot.engine.model import SubmitLead
from bot.settings import ServeSettings
from bot.storage.outbox import LeadOutbox


class OutboxLeads:
    """The Telegram adapter's LeadInbox: a lead is stored durably before the reader is thanked."""

    def __init__(self, outbox: LeadOutbox) -> None:
        self._outbox = outbox

    async def submit(self, lead: SubmitLead, now: dt.datetime) -> None:
        """Enqueue the form's answers; the delivery worker sends them."""
        form = lead.form
        actor_kind = next((k for k in ACTOR_KINDS if k == form.get("actor_kind")), None)
        if actor_kind is None:
            raise ValueError("the form's kind of actor is not one the e-mail knows")
        await self._outbox.enqueue(
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
        )


def smtp_config(settings: ServeSettings, default_recipient: str) -> SmtpConfig | None:
    """The SMTP settings, or None when no delivery is configured (then the form is not offered)."""
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
