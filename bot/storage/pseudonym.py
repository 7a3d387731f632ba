"""Keyed pseudonyms: a chat is stored under HMAC-SHA256(key, chat id), never under its Telegram id.

The key never goes into the database or its folder (`serve` refuses to start otherwise), so a leaked
database or backup cannot be turned back into chat ids by hashing every possible id.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import stat
from pathlib import Path

log = logging.getLogger(__name__)
MIN_KEY_LENGTH = 32


class Pseudonymizer:
    """Turns Telegram chat ids into stable, keyed, irreversible storage keys."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_LENGTH:
            raise ValueError(f"the pseudonym key must be at least {MIN_KEY_LENGTH} bytes")
        self._key = key

    def chat_key(self, chat_id: int) -> str:
        """The storage key of a chat (64 hex characters)."""
        return hmac.new(self._key, f"chat:{chat_id}".encode(), hashlib.sha256).hexdigest()

    def web_chat_key(self, session: str) -> str:
        """The storage key of a web chat: its own domain ("web:"), so it never equals a Telegram chat's."""
        return hmac.new(self._key, f"web:{session}".encode(), hashlib.sha256).hexdigest()

    def web_turn_id(self, session: str, turn: str) -> int:
        """A web message's number among handled updates: negative, so it never meets Telegram's.

        Telegram's update ids are positive; these are 63 keyed bits below zero, so a resent
        message (the same session and turn) is known as the same update, and says nothing itself.
        """
        digest = hmac.new(self._key, f"web-turn:{session}:{turn}".encode(), hashlib.sha256).digest()
        return -1 - (int.from_bytes(digest[:8], "big") >> 1)


def read_key_file(key_file: Path, database_file: Path | None) -> str:
    """The key in `key_file`, which must lie outside the SQLite database's folder; ValueError says why not.

    Whoever has the database and the key can tell whether a given Telegram id used the bot (one
    HMAC), or try every id offline; so the key is never kept where the data and its backups are.
    """
    if database_file is not None:
        folder = database_file.resolve().parent
        if key_file.resolve().is_relative_to(folder):
            raise ValueError(
                f"PSEUDONYM_KEY_FILE {key_file} is in the database's folder {folder}: whoever copies the "
                "data or a backup of it would have the key too; keep it elsewhere (see docs/operations.md)"
            )
    try:
        key = key_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ValueError(
            f"PSEUDONYM_KEY_FILE {key_file} does not exist (make one: "
            f"umask 077; openssl rand -hex 32 > {key_file})"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"PSEUDONYM_KEY_FILE {key_file} cannot be read ({type(error).__name__})") from None
    mode = stat.S_IMODE(key_file.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "pseudonym key file %s is readable by others (mode %o); run chmod 600 on it", key_file, mode
        )
    return key
