"""The `balansebot` command line: help with exit codes everywhere, --version, and `migrate`."""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from bot.cli import COMMANDS, main
from tests.conftest import ROOT


def test_balansebot_alone_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage: balansebot")
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
    """build_parser refuses a command without an entry in COMMANDS, so this covers every command."""
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
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
    assert line.startswith("balansebot migrate: the database cannot be used (connection failed:")
    assert "hidden-pw" not in line
