"""Keyed pseudonyms: a chat is stored under HMAC-SHA256(key, chat id), never under its Telegram id.

The key never goes into the database, so a leaked database cannot be turned back into chat ids by
hashing every possible id.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
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


def load_or_create_key(configured: str | None, key_file: Path) -> bytes:
    """PSEUDONYM_KEY when set; otherwise a random key kept in an owner-only file, made on first use."""
    if configured:
        return configured.encode()
    if key_file.exists():
        mode = stat.S_IMODE(key_file.stat().st_mode)
        if mode & 0o077:
            log.warning(
                "pseudonym key file %s is readable by others (mode %o); run chmod 600 on it", key_file, mode
            )
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key + b"\n")
    log.warning(
        "PSEUDONYM_KEY is not set: generated a random key in %s. Keep that file with the data "
        "(losing it orphans stored chats) and set PSEUDONYM_KEY when running several replicas.",
        key_file,
    )
    return key
