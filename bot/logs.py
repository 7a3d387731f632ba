"""Logging that never carries a person: no chat ids, names or message text, whatever the level."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from types import TracebackType

from telegram import TelegramObject

# These libraries log whole updates or SQL parameters (ids, text, form answers) at DEBUG and INFO;
# we keep only their warnings.
CHATTY_LIBRARIES = (
    "telegram",
    "httpx",
    "httpcore",
    "aiohttp.access",
    "apscheduler",
    "aiosqlite",
    "sqlalchemy",
    "psycopg",
    "alembic",
    "aiosmtplib",
)
REDACTED = "<redacted>"


class PrivacyFilter(logging.Filter):
    """Drops chatty library records below WARNING and redacts Telegram objects passed as arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, with anything that could hold personal data replaced."""
        if record.name.startswith(CHATTY_LIBRARIES) and record.levelno < logging.WARNING:
            return False
        if isinstance(record.args, tuple) and any(isinstance(a, TelegramObject | dict) for a in record.args):
            record.args = tuple(REDACTED if isinstance(a, TelegramObject | dict) else a for a in record.args)
        return True


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
