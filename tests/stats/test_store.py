"""Recording, flushing and reading statistics on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from bot.engine.model import ChatState, Outcome, RouteKind
from bot.stats.counter import FALLBACK_KEY
from bot.stats.recorder import StatsRecorder
from bot.stats.report import DayCounts, read_report, report_as_json
from bot.stats.store import SqlStatsStore
from bot.storage import migrate
from bot.storage.database import create_engine, sync_url
from bot.storage.tables import STATS_TABLE
from tests.databases import fresh_database

NOON = dt.datetime(2026, 12, 14, 11, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 14)
RETENTION_DAYS = 400


def shown(*nodes: str, route: RouteKind | None = "node") -> Outcome:
    """An engine outcome that showed `nodes`."""
    return Outcome((), ChatState(), route=route, nodes=nodes)


@dataclass
class Clock:
    """A clock the test moves."""

    now: dt.datetime = NOON

    def __call__(self) -> dt.datetime:
        """The current test time."""
        return self.now


@dataclass
class Stats:
    """A migrated database, a recorder on it and its clock."""

    url: str
    recorder: StatsRecorder
    clock: Clock

    def record(self, outcome: Outcome, times: int = 1) -> None:
        """Count `outcome` as if the bot had answered it `times` times now."""
        for _ in range(times):
            self.recorder.counter.record(outcome, self.clock())

    async def report(self, days: int = 7, today: dt.date = TODAY) -> list[DayCounts]:
        """What `balansebot stats` would show."""
        return await read_report(self.url, days, today)


@pytest.fixture(params=["sqlite", "postgresql"])
async def stats(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stats]:
    """A recorder on a migrated, empty database of each kind."""
    with fresh_database(request.param, tmp_path) as url:
        migrate.upgrade(url)
        clock = Clock()
        recorder = StatsRecorder(SqlStatsStore(create_engine(url)), RETENTION_DAYS, clock)
        yield Stats(url, recorder, clock)
        await recorder._store.close()


def stored_rows(url: str) -> list[tuple[dt.date, str, int]]:
    """The stats table exactly as stored."""
    engine = create_sync_engine(sync_url(url))
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT day, node, count FROM daily_stats ORDER BY day, node").all()
    engine.dispose()
    return [(d if isinstance(d, dt.date) else dt.date.fromisoformat(d), n, c) for d, n, c in rows]


async def test_record_flush_report_round_trip(stats: Stats) -> None:
    stats.record(shown("start"), 7)
    stats.record(shown("telefon"), 5)
    stats.record(shown("merket"), 2)
    stats.record(shown("ikke_forstatt", route="fallback"), 6)
    await stats.recorder.flush()
    (today,) = await stats.report()
    assert today == DayCounts(TODAY, {"merket": None, "start": 7, "telefon": 5}, fallbacks=6)
    assert stored_rows(stats.url) == [
        (TODAY, FALLBACK_KEY, 6),
        (TODAY, "merket", 2),
        (TODAY, "start", 7),
        (TODAY, "telefon", 5),
    ], "the database keeps exact counts; only what is shown is suppressed"


async def test_counts_under_five_are_suppressed_and_five_is_shown(stats: Stats) -> None:
    stats.record(shown("four"), 4)
    stats.record(shown("five"), 5)
    stats.record(shown("one"), 1)
    stats.record(shown("x", route="fallback"), 4)
    await stats.recorder.flush()
    (today,) = await stats.report()
    assert today.nodes == {"five": 5, "four": None, "one": None}
    assert today.fallbacks is None
    assert (await read_report(stats.url, 7, TODAY, minimum=2))[0].nodes == {"five": 5, "four": 4, "one": None}


async def test_several_flushes_add_up(stats: Stats) -> None:
    for _ in range(3):
        stats.record(shown("start"), 2)
        await stats.recorder.flush()
    stats.record(shown("start"))
    await stats.recorder.flush()
    await stats.recorder.flush()  # nothing new: changes nothing
    assert stored_rows(stats.url) == [(TODAY, "start", 7)]


async def test_days_run_from_when_counting_began_with_zeros_for_quiet_ones(stats: Stats) -> None:
    stats.clock.now = NOON - dt.timedelta(days=2)
    stats.record(shown("start"), 5)
    await stats.recorder.flush()
    stats.clock.now = NOON
    stats.record(shown("telefon"), 9)
    stats.record(shown("x", route="fallback"), 5)
    await stats.recorder.flush()
    report = await stats.report(days=7)
    assert [d.day for d in report] == [TODAY - dt.timedelta(days=n) for n in (2, 1, 0)]
    assert [dict(d.nodes) for d in report] == [
        {"start": 5, "telefon": 0},
        {"start": 0, "telefon": 0},
        {"start": 0, "telefon": 9},
    ]
    assert [d.fallbacks for d in report] == [0, 0, 5]
    assert [d.day for d in await stats.report(days=2)] == [TODAY - dt.timedelta(days=1), TODAY]
    quiet = TODAY - dt.timedelta(days=1)
    assert await stats.report(days=1, today=quiet) == [DayCounts(quiet, {}, 0)], "a quiet day is no error"
    assert await stats.report(days=7, today=TODAY - dt.timedelta(days=3)) == [], "before counting began"


async def test_old_days_expire_at_flush_even_without_new_counts(stats: Stats) -> None:
    oldest_kept = TODAY - dt.timedelta(days=RETENTION_DAYS)
    for age in (RETENTION_DAYS + 1, RETENTION_DAYS):
        stats.clock.now = NOON - dt.timedelta(days=age)
        stats.record(shown("start"), 5)
        # Flushing back then must not delete what it has just written.
        await stats.recorder.flush()
    stats.clock.now = NOON - dt.timedelta(days=RETENTION_DAYS)
    assert len(stored_rows(stats.url)) == 2
    stats.clock.now = NOON
    await stats.recorder.flush()
    assert stored_rows(stats.url) == [(oldest_kept, "start", 5)]
    stats.clock.now = NOON + dt.timedelta(days=1)
    await stats.recorder.flush()
    assert stored_rows(stats.url) == []


async def test_counts_are_kept_when_a_flush_fails_and_stored_by_the_next(
    tmp_path: Path, stats: Stats
) -> None:
    broken = StatsRecorder(
        SqlStatsStore(create_engine(f"sqlite:///{tmp_path / 'not-migrated.db'}")), RETENTION_DAYS
    )
    broken.counter.record(shown("start"), NOON)
    with pytest.raises(SQLAlchemyError):
        await broken.flush()
    await broken._store.close()
    assert broken.counter.take() == {(TODAY, "start"): 1}, "nothing was lost"

    stats.record(shown("start"), 5)
    await stats.recorder._store.close()  # the next flush reconnects
    await stats.recorder.flush()
    assert stored_rows(stats.url) == [(TODAY, "start", 5)]


async def test_close_stores_what_is_left(stats: Stats) -> None:
    stats.record(shown("meny"), 3)
    await stats.recorder.close()
    assert stored_rows(stats.url) == [(TODAY, "meny", 3)]


async def test_the_table_holds_day_node_and_count_only(stats: Stats) -> None:
    engine = create_sync_engine(sync_url(stats.url))
    with engine.connect() as conn:
        columns = {c["name"]: c for c in inspect(conn).get_columns(STATS_TABLE)}
        primary_key = inspect(conn).get_pk_constraint(STATS_TABLE)["constrained_columns"]
    engine.dispose()
    assert set(columns) == {"day", "node", "count"}
    assert type(columns["day"]["type"]).__name__ in ("DATE", "Date")
    assert columns["node"]["type"].length == 64
    assert "INT" in str(columns["count"]["type"]).upper()
    assert sorted(primary_key) == ["day", "node"], "one row per day and node: no row per person"


async def test_report_as_json(stats: Stats) -> None:
    stats.record(shown("start"), 5)
    stats.record(shown("telefon"), 1)
    await stats.recorder.flush()
    payload = report_as_json(await stats.report())
    assert payload == [{"day": "2026-12-14", "nodes": {"start": 5, "telefon": None}, "fallbacks": 0}]
    assert json.loads(json.dumps(payload)) == payload


async def test_an_empty_database_has_no_report(stats: Stats) -> None:
    assert await stats.report() == []


async def test_a_database_without_the_table_or_file_has_no_report(tmp_path: Path) -> None:
    missing = tmp_path / "never-served.db"
    assert await read_report(f"sqlite:///{missing}", 7, TODAY) == []
    assert not missing.exists(), "reading must not create a database"
    old = tmp_path / "old.db"
    old.touch()
    assert await read_report(f"sqlite:///{old}", 7, TODAY) == []


async def test_days_must_be_positive(stats: Stats) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await stats.report(days=0)


def test_the_migration_creates_what_the_model_describes(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    url = f"sqlite:///{tmp_path / 'schema.db'}"
    migrate.upgrade(url)
    engine = create_sync_engine(sync_url(url))
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert [d for d in differences if STATS_TABLE in repr(d)] == []


async def test_flushing_in_the_background_then_stopping_stores_every_count_once(stats: Stats) -> None:
    task = asyncio.create_task(stats.recorder.flush_forever(0.01))
    for _ in range(20):
        stats.record(shown("start"))
        await asyncio.sleep(0.005)
    task.cancel()  # as Runtime.stop() cancels its background tasks …
    with contextlib.suppress(asyncio.CancelledError):
        await task
    stats.record(shown("start"), 5)  # … and updates still in flight are answered …
    await stats.recorder.close()  # … before the last flush
    assert stored_rows(stats.url) == [(TODAY, "start", 25)]
