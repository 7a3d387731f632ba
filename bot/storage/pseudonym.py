"""Keyed pseudonyms: a chat is stored under HMAC-SHA256(key, chat id), never under its Telegram id.

The key never goes into the database or its folder (`serve` refuses to start otherwise), so a leaked
database or backup cannot be turned back into chat ids by hashing every possible id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.staff_words import say

log = logging.getLogger(__name__)
MIN_KEY_LENGTH = 32
NONCE_BYTES = 12  # AES-GCM's standard nonce; random per seal
CHAT_DOMAIN = "chat"  # chat ids' keys are HMAC("chat:<id>"); no session domain may be it
_DOMAIN = re.compile(r"[a-z]+")


class Pseudonymizer:
    """Turns Telegram chat ids into stable, keyed, irreversible storage keys."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_LENGTH:
            raise ValueError(f"the pseudonym key must be at least {MIN_KEY_LENGTH} bytes")
        self._key = key
        # A key of its own for sealing, derived from the pseudonym key: never the HMAC key itself.
        sealing = HKDF(hashes.SHA256(), 32, salt=None, info=b"balansebot: sealed chat id").derive(key)
        self._seal = AESGCM(sealing)

    def chat_key(self, chat_id: int) -> str:
        """The storage key of a chat (64 hex characters)."""
        return hmac.new(self._key, f"{CHAT_DOMAIN}:{chat_id}".encode(), hashlib.sha256).hexdigest()

    def seal(self, chat_id: int, chat_key: str) -> str:
        """The chat id encrypted (AES-GCM) for the row `chat_key` alone: only the key opens it."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._seal.encrypt(nonce, str(chat_id).encode(), chat_key.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, chat_key: str) -> int | None:
        """The chat id sealed for the row `chat_key`; None when it was sealed with another key or row."""
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
            plain = self._seal.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], chat_key.encode())
            return int(plain.decode())
        except (InvalidTag, ValueError):
            return None

    def session_key(self, domain: str, session: str) -> str:
        """The storage key of a conversation its adapter knows by a session id, within `domain`.

        The adapter's own domain (a lowercase word) keeps the key from ever equalling a chat id's or
        another adapter's; it is part of every stored key, so an adapter never changes it.
        """
        return hmac.new(self._key, f"{_domain(domain)}:{session}".encode(), hashlib.sha256).hexdigest()

    def session_turn_id(self, domain: str, session: str, turn: str) -> int:
        """A session's message's number among handled updates: negative, so it never meets Telegram's.

        Telegram's update ids are positive; these are 63 keyed bits below zero, so a resent
        message (the same session and turn) is known as the same update, and says nothing itself.
        """
        message = f"{_domain(domain)}-turn:{session}:{turn}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return -1 - (int.from_bytes(digest[:8], "big") >> 1)


def _domain(domain: str) -> str:
    """`domain` when an adapter may key its sessions in it; ValueError when not."""
    if not _DOMAIN.fullmatch(domain) or domain == CHAT_DOMAIN:
        raise ValueError(f"a session's domain is a lowercase word other than {CHAT_DOMAIN!r}, not {domain!r}")
    return domain


def read_key_file(key_file: Path, database_file: Path | None) -> str:
    """The key in `key_file`, which must lie outside the SQLite database's folder; ValueError says why not.

    Whoever has the database and the key can tell whether a given Telegram id used the bot (one
    HMAC), or try every id offline; so the key is never kept where the data and its backups are.
    """
    if database_file is not None:
        folder = database_file.resolve().parent
        if key_file.resolve().is_relative_to(folder):
            raise ValueError(
                say(
                    "PSEUDONYM_KEY_FILE {key_file} is in the database's folder {folder}: whoever copies "
                    "the data or a backup of it would have the key too; keep it elsewhere (see "
                    "docs/operations.md)",
                    key_file=key_file,
                    folder=folder,
                )
            )
    try:
        key = key_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ValueError(
            say(
                "PSEUDONYM_KEY_FILE {key_file} does not exist (make one: "
                "umask 077; openssl rand -hex 32 > {key_file})",
                key_file=key_file,
            )
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(
            say(
                "PSEUDONYM_KEY_FILE {key_file} cannot be read ({reason})",
                key_file=key_file,
                reason=type(error).__name__,
            )
        ) from None
    mode = stat.S_IMODE(key_file.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "pseudonym key file %s is readable by others (mode %o); run chmod 600 on it", key_file, mode
        )
    return key
