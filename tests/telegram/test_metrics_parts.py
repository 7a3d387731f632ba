"""The metrics' parts on their own: labels, counting transport and rate limiter, /metrics, JSON logs."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError
from telegram import Bot, Update, User
from telegram.error import NetworkError, TimedOut
from telegram.ext import ExtBot

from bot.engine.lead import Lead
from bot.live_scripts import ReloadOutcome
from bot.logs import configure_logging
from bot.settings import ServeSettings
from bot.storage import migrate
from bot.storage.database import create_engine
from bot.storage.outbox import LeadOutbox
from bot.telegram import metrics_http
from bot.telegram.metrics import BotMetrics
from bot.telegram.outbound import PacedRetries, Pacing
from bot.telegram.transport import AiohttpRequest, api_method, api_outcome
from tests.support import updates as ub
from tests.support.fake_bot_api import FakeBotApi

KARI = ub.user(700_000_123, "Kari", username="kari_test")
NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
TOKEN = "0123456789abcdef-token"


def sample(metrics: BotMetrics, name: str, **labels: str) -> float:
    """A sample's value in the registry (0 when absent)."""
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def as_update(data: dict[str, Any]) -> Update:
    """An Update as PTB parses it from Telegram's JSON."""
    update = Update.de_json(data, None)
    assert update is not None
    return update


@pytest.mark.parametrize(
    ("url", "method"),
    [
        ("https://api.telegram.org/bot123:ABC/sendMessage", "sendMessage"),
        ("http://127.0.0.1:1/bot123:ABC/getUpdates?offset=3", "getUpdates"),
        ("https://api.telegram.org/file/bot123:ABC/photos/file_1.jpg", "other"),
        ("https://api.telegram.org/bot123:ABC/", "other"),
        ("https://api.telegram.org/bot123:ABC/" + "a" * 65, "other"),
    ],
)
def test_api_method_never_carries_the_token_or_a_path(url: str, method: str) -> None:
    assert api_method(url) == method


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "ok"), (204, "ok"), (400, "4xx"), (403, "4xx"), (429, "429"), (502, "5xx"), (302, "other")],
)
def test_api_outcomes(status: int, outcome: str) -> None:
    assert api_outcome(status) == outcome


def test_two_bots_in_one_process_count_apart() -> None:
    first, second = BotMetrics(), BotMetrics()
    first.count_update("text")
    first.count_reload(ReloadOutcome("refused", "abc"))
    assert sample(first, "balansebot_updates_total", kind="text") == 1
    assert sample(second, "balansebot_updates_total", kind="text") == 0
    assert sample(second, "balansebot_updates_total", kind="membership") == 0, "every kind from the start"
    assert sample(first, "balansebot_script_reloads_total", outcome="refused") == 1
    assert sample(second, "process_cpu_seconds_total") > 0
    assert BotMetrics(process_metrics=False).registry.get_sample_value("process_cpu_seconds_total") is None


async def test_the_transport_counts_each_call_by_method_and_outcome() -> None:
    metrics = BotMetrics(process_metrics=False)
    async with FakeBotApi() as fake:
        bot = Bot(
            fake.token,
            base_url=fake.base_url,
            request=AiohttpRequest(read_timeout=2, count=metrics.count_api_call),
        )
        async with bot:
            fake.fail_next("sendMessage", 400, "Bad Request: chat not found")
            with pytest.raises(Exception, match=r"[Cc]hat not found"):
                await bot.send_message(1, "hei")
            fake.drop_connection("getMe")
            with pytest.raises(NetworkError):
                await bot.get_me()
            fake.server_error("getMe", 502)
            with pytest.raises(NetworkError):
                await bot.get_me()
            await bot.get_me()
    assert (
        sample(metrics, "balansebot_bot_api_calls_total", method="getMe", outcome="ok") == 2
    )  # and one at init
    assert sample(metrics, "balansebot_bot_api_calls_total", method="getMe", outcome="network") == 1
    assert sample(metrics, "balansebot_bot_api_calls_total", method="getMe", outcome="5xx") == 1
    assert sample(metrics, "balansebot_bot_api_calls_total", method="sendMessage", outcome="4xx") == 1


async def test_a_timeout_is_counted_as_one() -> None:
    metrics = BotMetrics(process_metrics=False)
    async with FakeBotApi() as fake:
        request = AiohttpRequest(read_timeout=0.2, count=metrics.count_api_call)
        async with Bot(fake.token, base_url=fake.base_url, request=request) as bot:
            fake.hang("getChat")
            with pytest.raises(TimedOut):
                await bot.get_chat(1)
            fake.release_hangs()
    assert sample(metrics, "balansebot_bot_api_calls_total", method="getChat", outcome="timeout") == 1


async def test_the_rate_limiter_counts_its_retries_after_429() -> None:
    metrics = BotMetrics(process_metrics=False)
    async with FakeBotApi() as fake:
        limiter = PacedRetries(Pacing(), metrics.count_retry)
        bot = ExtBot(
            fake.token,
            base_url=fake.base_url,
            request=AiohttpRequest(count=metrics.count_api_call),
            rate_limiter=limiter,
        )
        async with bot:
            await bot.get_me()
            fake.rate_limit("getMe", retry_after=1)
            assert isinstance(await bot.get_me(), User)
    assert sample(metrics, "balansebot_bot_api_retries_total", reason="flood") == 1
    assert sample(metrics, "balansebot_bot_api_calls_total", method="getMe", outcome="429") == 1
    assert (
        sample(metrics, "balansebot_bot_api_calls_total", method="getMe", outcome="ok") == 3
    )  # and one at init


def settings(**values: Any) -> ServeSettings:
    """Serve settings as the environment would give them."""
    return ServeSettings(
        bot_token="123456789:AAFakeTokenForOfflineTestsOnly_abcdefgh", pseudonym_key="k" * 40, **values
    )


@pytest.fixture
async def served_app() -> AsyncIterator[tuple[TestClient[web.Request, web.Application], BotMetrics]]:
    """/metrics behind a token, and a stand-in webhook at /hook answering by its query."""
    metrics = BotMetrics(process_metrics=False)
    app = web.Application(client_max_size=1024)

    async def hook(request: web.Request) -> web.Response:
        what = request.query.get("do", "ok")
        if what == "read":
            await request.read()
        if what == "crash":
            raise ValueError("a bug")
        return web.json_response({}, status=503 if what == "busy" else 200)

    app.router.add_post("/hook", hook)
    app.router.add_get("/other", hook)
    metrics_http.install(
        app,
        metrics,
        settings(metrics_token=TOKEN, webhook_url="https://x.example/hook", webhook_secret="s" * 32),
    )
    async with TestClient(TestServer(app)) as client:
        yield client, metrics


async def test_metrics_want_the_bearer_token(
    served_app: tuple[TestClient[web.Request, web.Application], BotMetrics],
) -> None:
    client, metrics = served_app
    metrics.count_update("text")
    for header in (
        {},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer x"},
    ):
        response = await client.get("/metrics", headers=header)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "balansebot" not in await response.text()
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(await response.text())}
    assert families["balansebot_updates"].type == "counter"
    assert families["balansebot_update_handling_seconds"].type == "histogram"
    openmetrics = await client.get(
        "/metrics",
        headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/openmetrics-text; version=1.0.0"},
    )
    assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
    assert (await openmetrics.text()).rstrip().endswith("# EOF")


async def test_metrics_are_open_without_a_token() -> None:
    metrics = BotMetrics(process_metrics=False)
    app = web.Application()
    metrics_http.install(app, metrics, settings())
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        assert "balansebot_updates_total" in await response.text()
        assert len(app.middlewares) == 0, "no webhook, nothing to count"


async def test_webhook_answers_are_counted_by_status(
    served_app: tuple[TestClient[web.Request, web.Application], BotMetrics],
) -> None:
    client, metrics = served_app
    assert (await client.post("/hook")).status == 200
    assert (await client.post("/hook?do=busy")).status == 503
    assert (await client.post("/hook?do=read", data=b"x" * 5000)).status == 413
    assert (await client.post("/hook?do=crash")).status == 500
    assert (await client.get("/hook")).status == 405
    assert (await client.get("/other")).status == 200
    assert (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200
    counted = {
        status: sample(metrics, "balansebot_webhook_responses_total", status=status)
        for status in ("200", "503", "413", "500", "405")
    }
    assert counted == {"200": 1, "503": 1, "413": 1, "500": 1, "405": 1}, "other paths are not counted"


async def test_outbox_depth_is_read_per_channel_on_scrape(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'balansebot.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    database = create_engine(url)
    try:
        outbox = LeadOutbox(database)
        lead = Lead(
            organisation="Kulturhuset",
            actor_kind="organising",
            size="25",
            contact_person="Kari Ærlig",
            contact="kari@example.no",
            message="",
            lang="nb",
        )
        metrics = BotMetrics(process_metrics=False)
        metrics.watch_outbox(outbox.depth_by_channel, ["email", "telegram"])
        await metrics.refresh()
        assert sample(metrics, "balansebot_outbox_depth", channel="email") == 0
        assert sample(metrics, "balansebot_outbox_depth", channel="telegram") == 0
        first = await outbox.enqueue_each(lead, NOW, ["email", "telegram"])
        await outbox.enqueue_each(lead, NOW, ["email", "telegram"])
        await outbox.mark_delivered(first[0], NOW)
        await metrics.refresh()
        assert sample(metrics, "balansebot_outbox_depth", channel="email") == 1
        assert sample(metrics, "balansebot_outbox_depth", channel="telegram") == 2
        assert await outbox.depth() == 3
    finally:
        await database.dispose()


@pytest.mark.parametrize("error", [OSError("down"), OperationalError("SELECT", {}, Exception("locked"))])
async def test_an_unreadable_outbox_leaves_the_depth_out_and_the_scrape_works(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = BotMetrics(process_metrics=False)
    depths = [{"email": 4}]

    async def depth() -> dict[str, int]:
        if not depths:
            raise error
        return depths.pop()

    metrics.watch_outbox(depth, ["email"])
    await metrics.refresh()
    assert sample(metrics, "balansebot_outbox_depth", channel="email") == 4
    await metrics.refresh()
    assert metrics.registry.get_sample_value("balansebot_outbox_depth", {"channel": "email"}) is None
    assert "could not read the outbox depth" in caplog.text


@pytest.fixture
def json_logging() -> Iterator[io.StringIO]:
    """configure_logging(json_logs=True) writing into a buffer; logging as it was afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.stderr, sys.excepthook)
    levels = {name: logging.getLogger(name).level for name in ("telegram", "sqlalchemy")}
    buffer = io.StringIO()
    sys.stderr = buffer
    try:
        configure_logging("DEBUG", json_logs=True)
        yield buffer
    finally:
        root.handlers[:], _, sys.stderr, sys.excepthook = saved
        root.setLevel(saved[1])
        logging.captureWarnings(False)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_json_logs_are_one_object_a_line_through_the_privacy_filter(json_logging: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    log.info(
        "two\nlines, æøå and %s",
        as_update(ub.text_message_update(1, message_id=5, date=1, from_user=KARI, text="hemmelig")),
    )
    try:
        raise ValueError("inner\nproblem")
    except ValueError:
        log.exception("it failed")
    logging.getLogger("telegram.ext").debug("an update with %s", "Kari")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("a library warning", UserWarning, stacklevel=1)
    sys.excepthook(RuntimeError, RuntimeError("crash"), None)
    lines = json_logging.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["logger"] for e in entries] == ["bot.test", "bot.test", "py.warnings", "balansebot"]
    first, failure, warning, crash = entries
    assert first["message"] == "two\nlines, æøå and <redacted>"
    assert first["level"] == "INFO"
    assert dt.datetime.fromisoformat(first["timestamp"]).utcoffset() == dt.timedelta(0)
    assert "exception" not in first
    assert failure["level"] == "ERROR"
    assert (
        failure["exception"].startswith("Traceback") and "ValueError: inner\nproblem" in failure["exception"]
    )
    assert "a library warning" in warning["message"] and warning["level"] == "WARNING"
    assert crash["level"] == "CRITICAL" and "RuntimeError: crash" in crash["exception"]
    assert "Kari" not in json_logging.getvalue() and "hemmelig" not in json_logging.getvalue()
