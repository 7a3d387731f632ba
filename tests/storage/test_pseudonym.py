"""Keyed pseudonyms: stable, keyed, irreversible without the key; the key file is private."""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import ServeSettings, describe_settings_error
from bot.storage.pseudonym import Pseudonymizer, read_key_file


def test_same_chat_same_key_other_key_other_pseudonym() -> None:
    one = Pseudonymizer(b"k" * 32)
    assert one.chat_key(123456789) == one.chat_key(123456789)
    assert one.chat_key(123456789) != one.chat_key(123456780)
    assert Pseudonymizer(b"x" * 32).chat_key(123456789) != one.chat_key(123456789)
    assert "123456789" not in one.chat_key(123456789)
    assert len(one.chat_key(-1001234567890)) == 64


def test_a_session_is_keyed_in_its_adapters_domain_as_stored_keys_were() -> None:
    key = b"k" * 32
    one = Pseudonymizer(key)
    # The derivation stored web conversations' keys and turn ids have: it must never change.
    assert one.session_key("web", "s1") == hmac.new(key, b"web:s1", hashlib.sha256).hexdigest()
    digest = hmac.new(key, b"web-turn:s1:t1", hashlib.sha256).digest()
    assert one.session_turn_id("web", "s1", "t1") == -1 - (int.from_bytes(digest[:8], "big") >> 1)
    assert one.session_key("web", "12345") != one.chat_key(12345)
    assert one.session_key("web", "s1") != one.session_key("kiosk", "s1")


@pytest.mark.parametrize("domain", ["chat", "", "Web", "web:x", "we b"])
def test_a_session_domain_that_could_meet_another_keys_is_refused(domain: str) -> None:
    one = Pseudonymizer(b"k" * 32)
    with pytest.raises(ValueError, match="lowercase word"):
        one.session_key(domain, "12345")
    with pytest.raises(ValueError, match="lowercase word"):
        one.session_turn_id(domain, "12345", "t1")


def test_a_sealed_chat_id_opens_only_with_its_key_and_for_its_row() -> None:
    one, other = Pseudonymizer(b"k" * 32), Pseudonymizer(b"x" * 32)
    chat_id = 123456789
    row = one.chat_key(chat_id)
    sealed = one.seal(chat_id, row)
    assert one.open(sealed, row) == chat_id
    assert sealed != one.seal(chat_id, row), "a fresh nonce each time: equal ids do not look equal"
    assert str(chat_id) not in sealed and len(sealed) <= 64  # the column's width
    assert other.open(sealed, other.chat_key(chat_id)) is None, "another key"
    assert one.open(sealed, one.chat_key(987654321)) is None, "moved to another chat's row"
    assert one.open(sealed[:-4] + "AAAA", row) is None, "changed"
    assert one.open("not base64 at all!", row) is None


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        Pseudonymizer(b"short")


def test_the_key_file_is_read_from_outside_the_database_folder(tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "pseudonym.key"
    key_file.parent.mkdir()
    key_file.write_text("s" * 40 + "\n", encoding="utf-8")
    key_file.chmod(0o600)
    assert read_key_file(key_file, tmp_path / "data" / "balansebot.db") == "s" * 40


@pytest.mark.parametrize("where", [".", "sub"])
def test_a_key_file_beside_or_below_the_database_is_refused(tmp_path: Path, where: str) -> None:
    key_file = tmp_path / "data" / where / "pseudonym.key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text("s" * 40, encoding="utf-8")
    with pytest.raises(ValueError, match="is in the database's folder"):
        read_key_file(key_file, tmp_path / "data" / "balansebot.db")


def test_a_missing_key_file_says_how_to_make_one_and_none_is_made(tmp_path: Path) -> None:
    key_file = tmp_path / "pseudonym.key"
    with pytest.raises(ValueError, match=r"does not exist.*openssl rand -hex 32"):
        read_key_file(key_file, None)
    assert not key_file.exists()


def test_readable_key_file_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key_file = tmp_path / "pseudonym.key"
    key_file.write_bytes(b"z" * 64)
    key_file.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert read_key_file(key_file, None) == "z" * 64
    assert "readable by others" in caplog.text


def serve_settings(monkeypatch: pytest.MonkeyPatch, **environment: str) -> ServeSettings:
    """ServeSettings from exactly this environment (and a token)."""
    for name in ("PSEUDONYM_KEY", "PSEUDONYM_KEY_FILE", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_TOKEN", "123456:" + "A" * 35)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return ServeSettings(_env_file=None)  # type: ignore[call-arg]


def test_serve_without_a_key_refuses_and_points_at_an_old_generated_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'data' / 'balansebot.db'}"
    with pytest.raises(ValidationError) as refused:
        serve_settings(monkeypatch, DATABASE_URL=database)
    (line,) = describe_settings_error(refused.value).splitlines()
    assert line.startswith("PSEUDONYM_KEY or PSEUDONYM_KEY_FILE must be set: the key that turns chat ids")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pseudonym.key").write_text("k" * 64, encoding="utf-8")
    with pytest.raises(ValidationError, match="made by an older version: move it out"):
        serve_settings(monkeypatch, DATABASE_URL=database)
    with pytest.raises(ValidationError, match="is in the database's folder"):
        serve_settings(
            monkeypatch, DATABASE_URL=database, PSEUDONYM_KEY_FILE=str(tmp_path / "data" / "pseudonym.key")
        )


def test_serve_takes_the_key_from_the_environment_or_a_file_apart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key_file = tmp_path / "pseudonym.key"
    key_file.write_text("f" * 64 + "\n", encoding="utf-8")
    database = f"sqlite:///{tmp_path / 'data' / 'balansebot.db'}"
    from_file = serve_settings(monkeypatch, DATABASE_URL=database, PSEUDONYM_KEY_FILE=str(key_file))
    assert from_file.chat_key == b"f" * 64
    assert serve_settings(monkeypatch, PSEUDONYM_KEY="e" * 40).chat_key == b"e" * 40
    key_file.write_text("short", encoding="utf-8")
    with pytest.raises(ValidationError, match="PSEUDONYM_KEY_FILE's key must be at least 32 characters"):
        serve_settings(monkeypatch, DATABASE_URL=database, PSEUDONYM_KEY_FILE=str(key_file))
