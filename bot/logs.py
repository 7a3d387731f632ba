"""Logging that never carries a person: no chat ids, names or message text, whatever the level."""

from __future__ import annotations

import json
import logging
import sys

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
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, *, json_logs: bool) -> None:
    """Log to stderr at `level`, through the privacy filter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(PrivacyFilter())
    handler.setFormatter(
        JsonFormatter() if json_logs else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
