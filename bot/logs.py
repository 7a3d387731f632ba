"""Logging that never carries a person: no chat ids, names or message text, whatever the level."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import traceback
from types import TracebackType

from aiohttp.http_exceptions import HttpProcessingError
from telegram import TelegramObject
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

# These libraries log whole updates or SQL parameters (ids, text, form answers) at DEBUG and INFO;
# we keep only their warnings.
CHATTY_LIBRARIES = (
    "telegram",
    "httpx",
    "httpcore",
    "aiohttp.access",
    "aiohttp.server",
    "aiohttp.web",
    "apscheduler",
    "aiosqlite",
    "sqlalchemy",
    "psycopg",
    "alembic",
    "aiosmtplib",
)
REDACTED = "<redacted>"
# aiohttp's server logs a request it could not read (or whose handler raised) with the exception's
# message, which quotes the request's bytes: a whole update, chat id, name and text included.
AIOHTTP_SERVER = ("aiohttp.server", "aiohttp.web")


class PrivacyFilter(logging.Filter):
    """Drops chatty library records below WARNING and redacts Telegram objects passed as arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, with anything that could hold personal data replaced."""
        if record.name.startswith(CHATTY_LIBRARIES) and record.levelno < logging.WARNING:
            return False
        if record.name.startswith(AIOHTTP_SERVER):
            _without_request(record)
        if isinstance(record.args, tuple) and any(isinstance(a, TelegramObject | dict) for a in record.args):
            record.args = tuple(REDACTED if isinstance(a, TelegramObject | dict) else a for a in record.args)
        return True


def _without_request(record: logging.LogRecord) -> None:
    """Keep of an aiohttp server record only what it was: the exception's class and, for a bug in
    a handler, where it was raised (never the message, nor the peer's address)."""
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, HttpProcessingError):
        record.msg, record.args = "refused a malformed HTTP request (%s)", (type(error).__name__,)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
    elif error is not None:
        frames = "".join(traceback.format_tb(error.__traceback__))
        record.msg, record.args = (
            "%s while handling a request (its message withheld)\n%s",
            (
                type(error).__name__,
                frames.rstrip(),
            ),
        )
    else:
        record.msg, record.args = "%s", (record.msg if isinstance(record.msg, str) else REDACTED,)
    record.exc_info, record.exc_text = None, None


# The starts of Telegram's error descriptions the bot meets (as PTB gives them: "Bad Request: "
# dropped, capitalised). Only these are logged; any other description, which could quote what was
# sent (a lead's contact details, say), is left out.
KNOWN_TELEGRAM_ERRORS = (
    "Message is not modified",
    "Message to edit not found",
    "Message to delete not found",
    "Message can't be deleted",
    "Message can't be edited",
    "Message is too long",
    "Message text is empty",
    "Can't parse entities",
    "Chat not found",
    "Query is too old",
    "Button_data_invalid",
    "Reply markup is too long",
    "Too many requests",
    "Forbidden: bot was blocked by the user",
    "Forbidden: user is deactivated",
    "Forbidden: bot can't initiate conversation with a user",
    "Forbidden: bot is not a member",
    "Forbidden: bot was kicked",
    "Not enough rights",
)
TELEGRAM_CODES = {
    "BadRequest": 400,
    "InvalidToken": 401,
    "Forbidden": 403,
    "EndPointNotFound": 404,
    "Conflict": 409,
}


def telegram_error(error: TelegramError) -> str:
    """An error from Telegram as a log may show it, on one line: the HTTP code (or the error's class)
    and the known start of its description. A network error's own message (PTB's or the
    transport's, never Telegram's; a 429's wait) is kept, its line breaks escaped."""
    if isinstance(error, NetworkError | RetryAfter) and not isinstance(error, BadRequest):
        return f"{type(error).__name__}: {error.message}".replace("\r", "\\r").replace("\n", "\\n")
    code = TELEGRAM_CODES.get(type(error).__name__, type(error).__name__)
    lowered = error.message.lower()
    known = next((start for start in KNOWN_TELEGRAM_ERRORS if lowered.startswith(start.lower())), None)
    return f"{code} {known}" if known is not None else f"{code} (description withheld)"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors: timestamp (UTC), level, logger, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (newlines in a message or traceback are escaped)."""
        moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
        entry = {
            "timestamp": moment.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, *, json_logs: bool) -> None:
    """Log to stderr at `level`, through the privacy filter; as JSON lines with `json_logs`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(PrivacyFilter())
    handler.setFormatter(
        JsonFormatter() if json_logs else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    logging.captureWarnings(True)  # library warnings go through the same handler, not raw to stderr
    if json_logs:
        # A crash's traceback becomes one more JSON line instead of lines a collector cannot parse.
        sys.excepthook = _log_uncaught
    root.setLevel(level)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """sys.excepthook: an uncaught exception (Ctrl-C aside) is logged like any other error."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("balansebot").critical("uncaught %s", kind.__name__, exc_info=(kind, error, trace))
