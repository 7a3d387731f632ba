"""What must hold for every answer the bot gives, however odd the input: shared by tests and fuzz targets."""

from __future__ import annotations

from bot.content import telegram_html
from bot.content.telegram_html import MAX_CALLBACK_BYTES
from bot.engine.model import CallbackButton, Outcome, Reply
from tests.support.fake_bot_api import MAX_MESSAGE_LENGTH, EntityParseError, parse_html


def reply_violations(reply: Reply) -> list[str]:
    """Everything Telegram would refuse about one reply (empty when it would send it)."""
    found: list[str] = []
    problem = telegram_html.check(reply.text)
    if problem is not None:
        found.append(f"invalid Telegram HTML at {problem.offset}: {problem.message}")
    elif telegram_html.telegram_length(reply.text) > MAX_MESSAGE_LENGTH:
        found.append(f"text of {telegram_html.telegram_length(reply.text)} UTF-16 units is over 4096")
    elif not telegram_html.visible_text(reply.text).strip():
        found.append("the text is empty once tags are removed")
    try:
        # The offline Bot API's port of TDLib's parser is a second, independent judge.
        parse_html(reply.text)
    except EntityParseError as error:
        found.append(f"the Bot API would refuse the HTML: {error}")
    except UnicodeEncodeError:
        found.append("the text holds a lone surrogate, which is not UTF-8")
    for row in reply.keyboard:
        if not row:
            found.append("an empty row of buttons")
        for button in row:
            if not button.text.strip():
                found.append("a button without text")
            if (
                isinstance(button, CallbackButton)
                and not 1 <= len(button.data.encode()) <= MAX_CALLBACK_BYTES
            ):
                found.append(f"callback_data {button.data!r} is not 1-64 bytes")
    return found


def outcome_violations(outcome: Outcome) -> list[str]:
    """Everything wrong with what the engine answered to one event."""
    if not outcome.replies:
        return ["no reply at all"]
    return [f"reply {i}: {v}" for i, reply in enumerate(outcome.replies) for v in reply_violations(reply)]
