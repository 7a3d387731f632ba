"""The `balansebot` command line: help with exit codes everywhere, --version, and `migrate`."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from pydantic import ValidationError

from bot.cli import COMMANDS, main
from bot.settings import ServeSettings, describe_settings_error
from tests.conftest import ROOT


def test_balansebot_alone_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("bruk: balansebot")
    assert "serve" in shown and "migrate" in shown


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"balansebot {version('balansebot')}\n"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_describes_itself_and_its_exit_codes(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """build_parser refuses a command without an entry in COMMANDS, so this covers every command.

    In English here; tests/test_staff_words.py has the Bokmål of every one.
    """
    with pytest.raises(SystemExit) as exited:
        main(["--lang", "en", name, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    description = shown.split("\n\n")[1]
    assert description.replace("\n", " ") == COMMANDS[name][0], name
    codes = shown.split("exit codes:\n", 1)[1]
    assert re.search(r"^  0  ", codes, re.MULTILINE), f"{name}: no exit code 0"
    assert re.search(r"^  1  ", codes, re.MULTILINE), f"{name}: no exit code 1"


def test_migrate_upgrades_tells_and_steps_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out.strip().endswith("(head)")
    assert main(["migrate", "downgrade"]) == 0
    below_head = capsys.readouterr().out.strip()
    assert re.fullmatch(r"\d{4}", below_head), below_head
    # alembic.ini works for Alembic's own command line, on the same DATABASE_URL.
    command.current(Config(ROOT / "alembic.ini", stdout=sys.stdout))
    assert capsys.readouterr().out.strip() == below_head
    assert main(["migrate", "upgrade"]) == 0
    assert capsys.readouterr().out.strip().endswith("(head)")


def test_migrate_on_a_database_that_is_down_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://balansebot:hidden-pw@127.0.0.1:9/balansebot")
    assert main(["migrate", "current"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("balansebot migrate: databasen kan ikke brukes (connection failed:")
    assert line.endswith(
        "sjekk at den kjører, og at DATABASE_URL peker på den (vert, port, database, bruker og passord)"
    )
    assert "hidden-pw" not in line


def test_uv_run_does_not_compile_every_time() -> None:
    """Bytecode is compiled where packages are installed (CI's sync, the image), not on each `uv run`."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "compile-bytecode" not in pyproject.get("tool", {}).get("uv", {})
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "UV_COMPILE_BYTECODE=1 uv sync --locked" in ci


def test_the_placeholder_token_of_env_example_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BOT_TOKEN", "PSEUDONYM_KEY", "PSEUDONYM_KEY_FILE", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PSEUDONYM_KEY", "k" * 40)
    with pytest.raises(ValidationError) as refused:
        ServeSettings(_env_file=ROOT / ".env.example")
    assert describe_settings_error(refused.value) == (
        "BOT_TOKEN is still the placeholder from .env.example; put the token from @BotFather there"
    )
