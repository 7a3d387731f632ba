"""`balansebot stats` as staff run it: a table, a friendly empty answer, one-line errors."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from bot.engine.model import ChatState, Outcome
from bot.stats.counter import stats_day
from bot.stats.recorder import StatsRecorder
from bot.stats.store import SqlStatsStore
from bot.storage import migrate
from bot.storage.database import create_engine
from tests.conftest import run_balansebot
from tests.databases import fresh_postgres

pytestmark = [pytest.mark.slow, pytest.mark.own_database]  # each case starts `balansebot` itself
PATH = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


async def store_counts(url: str, counts: dict[str, int]) -> None:
    """Count answers now, as `serve` would, and flush them."""
    recorder = StatsRecorder(SqlStatsStore(create_engine(url)), 400)
    now = dt.datetime.now(dt.UTC)
    for node, times in counts.items():
        route = "fallback" if node == "fallback" else "node"
        for _ in range(times):
            recorder.counter.record(Outcome((), ChatState(), route=route, nodes=(node,)), now)
    await recorder.close()
    await recorder._store.close()


def test_no_database_yet_is_friendly_and_creates_nothing(tmp_path: Path) -> None:
    result = run_balansebot("stats", env=PATH, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Ingen statistikk ennå")
    assert result.stderr == ""
    assert list(tmp_path.iterdir()) == [], "the default balansebot.db was not created"


def test_a_migrated_empty_database_is_friendly_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url)
    result = run_balansebot("stats", env={**PATH, "DATABASE_URL": url}, cwd=tmp_path)
    assert (result.returncode, result.stdout.splitlines()[0][:21]) == (0, "Ingen statistikk ennå")


async def test_table_and_json_from_database_url_in_the_environment_or_the_option(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url)
    await store_counts(url, {"start": 9, "telefon": 3, "fallback": 5})
    today = stats_day(dt.datetime.now(dt.UTC))
    for result in (
        run_balansebot("stats", env={**PATH, "DATABASE_URL": url}, cwd=tmp_path),
        run_balansebot("stats", "--database-url", url, env=PATH, cwd=tmp_path),
    ):
        assert result.returncode == 0, result.stderr
        rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line.strip()}
        assert rows["start"] == ["9", "9"]
        assert rows["telefon"] == ["<5", "≥1"]
        assert rows["(ikke"] == ["forstått)", "5", "5"]
        assert rows["totalt"] == ["≥15", "≥15"]
        assert today.strftime("%m-%d") in rows["node"]
        assert "3" not in result.stdout.split(), "the exact small count is never shown"
    as_json = run_balansebot("stats", "--json", "--days", "3", "--database-url", url, env=PATH)
    assert json.loads(as_json.stdout) == [
        {"day": today.isoformat(), "nodes": {"start": 9, "telefon": None}, "fallbacks": 5}
    ]


def test_a_bad_database_url_is_a_one_line_error(tmp_path: Path) -> None:
    for url, code, message in (
        ("mysql://db/bot", 2, "DATABASE_URL må være en sqlite:///- eller postgresql://-URL"),
        ("no url at all", 2, "DATABASE_URL er ikke en database-URL"),
        ("postgresql://nobody@127.0.0.1:1/bot", 1, "kan ikke lese statistikken: connection failed"),
    ):
        result = run_balansebot("stats", env={**PATH, "DATABASE_URL": url}, cwd=tmp_path)
        assert result.returncode == code, result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert message in result.stderr
        assert result.stdout == ""
    option = run_balansebot("stats", "--database-url", "mysql://db/bot", env=PATH, cwd=tmp_path)
    assert option.stderr.startswith("balansebot: --database-url må være")


def test_a_file_that_is_not_a_database_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("not a database, just notes\n" * 100)
    result = run_balansebot("stats", "--database-url", f"sqlite:///{tmp_path / 'notes.db'}", env=PATH)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["balansebot: kan ikke lese statistikken: file is not a database"]


def test_the_password_never_appears_in_an_error() -> None:
    with fresh_postgres() as url:
        wrong = url.replace("postgres@", "postgres:hunter2-secret@").rsplit("/", 1)[0] + "/no_such_db_x"
        result = run_balansebot("stats", "--database-url", wrong, env=PATH)
    assert result.returncode == 1
    assert "hunter2" not in result.stderr + result.stdout
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_days_must_be_a_positive_whole_number() -> None:
    for days in ("0", "two"):
        result = run_balansebot("stats", "--days", days, env=PATH)
        assert result.returncode == 2
        assert "--days" in result.stderr
