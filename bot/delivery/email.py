"""Leads as e-mails to staff: the SMTP settings, the text in Bokmål, and the e-mail channel."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import aiosmtplib
from babel import Locale, UnknownLocaleError

from bot.engine.lead import Lead
from bot.staff_words import StaffWords, marked, words_in
from bot.storage.outbox import OutboxItem

# The e-mail is read by staff in Bokmål, whatever language the staff tools speak.
LEAD_LANGUAGE = "nb"
ACTOR_LABELS: dict[str, str] = {
    "organising": marked("organiser"),
    "producing": marked("producer"),
    "performing": marked("performer"),
}
STAFF_ZONE = ZoneInfo("Europe/Oslo")
MESSAGE_ID_DOMAIN = "balansebot"
# The same shape the form accepts as an e-mail address (bot.engine.form).
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach staff's mail server, and the addresses of lead e-mails."""

    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    starttls: bool
    use_tls: bool
    sender: str
    recipient: str
    timeout: float = 30.0
    """Seconds for each step of the SMTP conversation."""

    def __post_init__(self) -> None:
        if self.starttls and self.use_tls:
            raise ValueError("choose STARTTLS or implicit TLS, not both")
        if not 0 < self.port < 65536 or self.timeout <= 0:
            raise ValueError("the SMTP port must be 1-65535 and the timeout positive")


def build_message(
    lead: Lead, lead_id: str, config: SmtpConfig, created_at: dt.datetime | None = None
) -> EmailMessage:
    """The e-mail for one lead; the same lead id and created_at always give the same headers."""
    message = EmailMessage()
    words = words_in(LEAD_LANGUAGE)
    message["Subject"] = words.say(
        "Interest in Balansemerket: {organisation}", organisation=_one_line(lead.organisation)
    )
    message["From"] = config.sender
    message["To"] = config.recipient
    reply_to = reply_address(lead.contact)
    if reply_to is not None:
        message["Reply-To"] = reply_to
    message["Message-ID"] = f"<{lead_id}@{MESSAGE_ID_DOMAIN}>"
    message["Date"] = format_datetime(created_at or dt.datetime.now(dt.UTC))
    # Quoted-printable keeps the body 7-bit clean for any server, and æøå readable in the source.
    message.set_content(
        lead_text(lead, lead_id, created_at, can_reply=reply_to is not None, words=words),
        charset="utf-8",
        cte="quoted-printable",
    )
    return message


def reply_address(contact: str) -> Address | None:
    """The contact as an address for Reply-To, or None when it is a phone number or not usable."""
    if not _EMAIL.fullmatch(contact):
        return None
    local, _, domain = contact.rpartition("@")
    if not (local.isascii() and local.isprintable()):
        return None  # would need SMTPUTF8 (or is garbage); staff still find the contact in the body
    try:
        ascii_domain = domain.encode("idna").decode("ascii")  # bærum.no → xn--brum-voa.no
    except UnicodeError:
        return None
    return Address(username=local, domain=ascii_domain)


async def send(message: EmailMessage, config: SmtpConfig) -> None:
    """Hand the message to the mail server; raises aiosmtplib's errors when it is not accepted."""
    await aiosmtplib.send(
        message,
        hostname=config.host,
        port=config.port,
        username=config.username or None,
        password=config.password if config.username else None,
        use_tls=config.use_tls,
        start_tls=config.starttls,
        timeout=config.timeout,
    )


class EmailChannel:
    """Leads as e-mails to staff's mailbox."""

    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, item: OutboxItem) -> None:
        """E-mail the lead; raises aiosmtplib's errors when the mail server does not accept it."""
        await send(build_message(item.lead, item.id, self.config, item.created_at), self.config)

    def describe(self, error: Exception) -> tuple[str, bool] | None:
        """Class and SMTP code (no server text, which may quote addresses), and whether it was a 5xx."""
        if not isinstance(error, aiosmtplib.SMTPException | OSError | TimeoutError):
            return None
        code: int | None = None
        if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
            code = error.recipients[0].code
        elif isinstance(error, aiosmtplib.SMTPResponseException):
            code = error.code
        name = type(error).__name__
        return (name if code is None else f"{name} {code}"), code is not None and 500 <= code < 600


def _in_norwegian(lang: str) -> str:
    """A chat language's name in Bokmål as CLDR writes it ("norsk nynorsk", "engelsk")."""
    try:
        return Locale.parse(lang).get_display_name(LEAD_LANGUAGE) or lang
    except (UnknownLocaleError, ValueError):
        return lang


def lead_text(
    lead: Lead,
    lead_id: str,
    created_at: dt.datetime | None,
    *,
    can_reply: bool = False,
    words: StaffWords | None = None,
) -> str:
    """The lead for staff in Bokmål, as plain text: the e-mail's body, and the staff chat's message."""
    words = words or words_in(LEAD_LANGUAGE)
    message = lead.message.strip() if lead.message else words.say("(none)")
    lines = [
        words.say("An organisation has registered interest in Balansemerket in Balansebot."),
        "",
        words.say("Organisation: {organisation}", organisation=_one_line(lead.organisation)),
        words.say("Kind of actor: {kind}", kind=words.say(ACTOR_LABELS[lead.actor_kind])),
        words.say("About how many people: {size}", size=_one_line(lead.size)),
        words.say("Contact person: {person}", person=_one_line(lead.contact_person)),
        words.say("Contact: {contact}", contact=_one_line(lead.contact)),
        words.say("Message: {message}", message=message),
        words.say("Language of the chat: {language}", language=_in_norwegian(lead.lang)),
    ]
    if created_at is not None:
        sent = created_at.astimezone(STAFF_ZONE)
        lines.append(words.say("Sent in: {date} at {time}", date=f"{sent:%d.%m.%Y}", time=f"{sent:%H:%M}"))
    lines += [
        "",
        words.say(
            "The organisation has agreed that Balansekunst may contact the contact person "
            "about Balansemerket."
        ),
    ]
    if can_reply:
        lines.append(words.say("Reply to this e-mail to write to the contact person."))
    lines += [
        "",
        words.say("Reference: {reference}", reference=lead_id),
        words.say("If you get the same reference twice, it is the same request sent again."),
    ]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    # Line breaks in a header would end it (or start a forged one); in the body they break the list.
    return " ".join(text.split())
