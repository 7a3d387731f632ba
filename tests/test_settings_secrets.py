"""Secrets from files: `BOT_TOKEN_FILE` and the like, and Docker/compose secrets in /run/secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import ServeSettings, describe_settings_error

TOKEN = "123456789:AAFakeTokenForOfflineTestsOnly_abcdefgh"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BOT_TOKEN", "BOT_TOKEN_FILE", "WEBHOOK_SECRET", "WEBHOOK_SECRET_FILE", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    monkeypatch.setenv("PSEUDONYM_KEY", "k" * 40)


def secret_file(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content + "\n", encoding="utf-8")  # as `echo … > file` writes it
    path.chmod(0o600)
    return path


def test_a_secret_from_the_file_its_variable_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BOT_TOKEN_FILE", str(secret_file(tmp_path, "token", TOKEN)))
    monkeypatch.setenv("WEBHOOK_SECRET_FILE", str(secret_file(tmp_path, "hook", "s" * 40)))
    settings = ServeSettings()
    assert settings.bot_token.get_secret_value() == TOKEN
    assert settings.webhook_secret is not None and settings.webhook_secret.get_secret_value() == "s" * 40


def test_the_variable_wins_over_its_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("BOT_TOKEN_FILE", str(secret_file(tmp_path, "token", "987654321:" + "B" * 35)))
    assert ServeSettings().bot_token.get_secret_value() == TOKEN


def test_a_missing_secret_file_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BOT_TOKEN_FILE", str(tmp_path / "nowhere"))
    with pytest.raises(ValidationError) as refused:
        ServeSettings()
    assert describe_settings_error(refused.value) == f"BOT_TOKEN_FILE {tmp_path / 'nowhere'} does not exist"


def test_compose_secrets_in_a_secrets_folder(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    folder.mkdir()
    secret_file(folder, "bot_token", TOKEN)
    settings = ServeSettings(_secrets_dir=folder)
    assert settings.bot_token.get_secret_value() == TOKEN
