"""Keyed pseudonyms: stable, keyed, irreversible without the key; the key file is private."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from bot.storage.pseudonym import Pseudonymizer, load_or_create_key


def test_same_chat_same_key_other_key_other_pseudonym() -> None:
    one = Pseudonymizer(b"k" * 32)
    assert one.chat_key(123456789) == one.chat_key(123456789)
    assert one.chat_key(123456789) != one.chat_key(123456780)
    assert Pseudonymizer(b"x" * 32).chat_key(123456789) != one.chat_key(123456789)
    assert "123456789" not in one.chat_key(123456789)
    assert len(one.chat_key(-1001234567890)) == 64


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        Pseudonymizer(b"short")


def test_generated_key_file_is_owner_only_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "data" / "pseudonym.key"
    with caplog.at_level(logging.WARNING):
        first = load_or_create_key(None, key_file)
    assert "PSEUDONYM_KEY is not set" in caplog.text
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_key(None, key_file) == first
    assert len(first) >= 32


def test_configured_key_wins(tmp_path: Path) -> None:
    assert load_or_create_key("s" * 40, tmp_path / "unused.key") == b"s" * 40
    assert not (tmp_path / "unused.key").exists()


def test_readable_key_file_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key_file = tmp_path / "pseudonym.key"
    key_file.write_bytes(b"z" * 64)
    key_file.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert load_or_create_key(None, key_file) == b"z" * 64
    assert "readable by others" in caplog.text
