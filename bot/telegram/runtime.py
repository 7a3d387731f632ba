"""The running bot: database, python-telegram-bot application, expiry — started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
)

from bot.content.opening_hours import norwegian_public_holidays
from bot.content.scripts import SOURCE_LANGUAGE
from bot.delivery import worker as delivery
from bot.delivery.leads import OutboxLeads, lead_channels
from bot.engine.engine import Engine
from bot.i18n import Catalogs
from bot.live_scripts import LiveScripts
from bot.settings import ServeSettings
from bot.stats.recorder import StatsRecorder
from bot.storage import migrate
from bot.storage.batching import BatchingChatStore
from bot.storage.cache import CachedChatStore
from bot.storage.database import create_engine, is_sqlite
from bot.storage.outbox import LeadOutbox
from bot.storage.pseudonym import Pseudonymizer
from bot.storage.store import ChatStore, ExpiryRules, SqlChatStore
from bot.storage.turns import ChatTurns, chat_turns
from bot.telegram import handlers
from bot.telegram.answering import Answerer
from bot.telegram.application import StatelessApplication
from bot.telegram.bot_api import FLOOD_RETRIES, WEBHOOK_FLOOD_WAIT_SECONDS, BotApi
from bot.telegram.command_menu import command_menu
from bot.telegram.conversations import Conversations, Incoming, Retention
from bot.telegram.flood import FloodGuard
from bot.telegram.handlers import PtbApplication
from bot.telegram.instrumented import MeasuredRateLimiter, MeasuredRequest, MeasuredUpdateProcessor
from bot.telegram.metrics import BotMetrics
from bot.telegram.ordering import ChatOrderedUpdateProcessor

log = logging.getLogger(__name__)
COMMAND_LANGUAGES = ((None, "en"), ("nb", "nb"), ("no", "nb"), ("nn", "nn"))
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
HEALTH_TIMEOUT_SECONDS = 2.0
POLLING_GUARD_SECONDS = 1.0  # how often long polling checks that the database is there
HANDLED_UPDATES_KEPT = dt.timedelta(days=2)  # Telegram gives up redelivering an update after 24 hours
LEAD_OVERDUE_AFTER = dt.timedelta(hours=24)  # an undelivered lead this old raises an alarm (log, metric)


@dataclass
class Runtime:
    """Everything `balansebot serve` runs, with one start and one stop."""

    settings: ServeSettings
    scripts: LiveScripts
    catalogs: Catalogs
    store: ChatStore | None = None
    database: AsyncEngine | None = None
    turns: ChatTurns | None = None
    application: PtbApplication | None = None
    answerer: Answerer | None = None
    stats: StatsRecorder | None = None
    ready: bool = False
    metrics: BotMetrics = field(default_factory=BotMetrics)  # this bot's own registry
    _background: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def engine(self) -> Engine:
        """The engine for the scripts being served now (replaced by live reload)."""
        return self.scripts.engine

    async def start(self) -> None:
        """Migrate, open the database and start python-telegram-bot (not yet taking updates)."""
        settings = self.settings
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
        database = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        self.database = database
        store: ChatStore = BatchingChatStore(SqlChatStore(database))
        self.store = CachedChatStore(store) if is_sqlite(settings.database_url) else store
        # Norway's holiday rules load lazily, a large import: load them now, off the event loop,
        # rather than while the first person asking about the phone line waits.
        await asyncio.to_thread(norwegian_public_holidays, dt.datetime.now(dt.UTC).year)
        request = self._measured_request(settings.max_concurrent_updates)
        self.application = self._build_application(request)
        default_recipient = str(self.engine.scripts.facts.values["contact.email"])
        channels = lead_channels(settings, self.application.bot, default_recipient)
        outbox = LeadOutbox(database) if channels else None
        leads = None if outbox is None else OutboxLeads(outbox, [channel.name for channel in channels])
        pseudonyms = Pseudonymizer(settings.chat_key)
        # How long things are kept comes from the facts file, as /personvern says, read afresh each
        # time: a figure staff change there takes effect without a restart.
        self.stats = StatsRecorder.for_database(
            database, lambda: Retention.from_scripts(self.engine.scripts).stats.days
        )
        self.turns = chat_turns(self.store, database)
        conversations = Conversations(
            lambda: self.engine, self.turns, pseudonyms, leads=leads, stats=self.stats.counter
        )
        if settings.staff_chat_id is not None:
            handlers.register_staff_chat(self.application, settings.staff_chat_id)
        application = self.application
        self.answerer = Answerer(
            BotApi(request, application.bot.base_url, max_flood_wait=self._webhook_flood_wait),
            conversations,
            running=lambda: application.running,
            flood=FloodGuard.from_settings(settings, lambda: self.engine, self.catalogs, self.metrics),
            metrics=self.metrics,
        )
        handlers.register(application, self.answerer, self.catalogs)
        self.scripts.subscribe(self.metrics.count_reload)
        if outbox is not None:
            self.metrics.watch_outbox(outbox.depth_by_channel, [channel.name for channel in channels])
        await self.application.initialize()
        await self.application.start()
        if outbox is not None:
            # Only now: the staff chat's channel sends with the application's bot, initialised above.
            self._background.append(
                asyncio.create_task(
                    delivery.run_forever(
                        outbox,
                        channels,
                        settings.delivery_interval_seconds,
                        lambda: dt.datetime.now(dt.UTC),
                    ),
                    name="lead delivery",
                )
            )
        self._background.append(asyncio.create_task(self._expire_forever(), name="expiry"))
        self._background.append(
            asyncio.create_task(self.stats.flush_forever(settings.stats_flush_seconds), name="statistics")
        )
        if settings.watch_dialogues:
            self._background.append(asyncio.create_task(self.scripts.watch(), name="script watcher"))

    async def go_live(self) -> None:
        """Start taking updates: register the webhook (our server listens by now) or start polling."""
        settings = self.settings
        assert self.application is not None  # noqa: S101 - start() came first
        # Telegram shows each user the list for their app's language; everyone else gets English.
        for language_code, lang in COMMAND_LANGUAGES:
            shown = lang if lang in self.engine.scripts.languages else SOURCE_LANGUAGE
            await self.application.bot.set_my_commands(
                command_menu(self.catalogs, shown), language_code=language_code
            )
        if settings.webhook_url is not None:
            secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
            await self.application.bot.set_webhook(
                str(settings.webhook_url),
                secret_token=secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=100,
            )
        else:
            await self.application.bot.delete_webhook()
            assert self.application.updater is not None  # noqa: S101 - built with an updater for polling
            await self.application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
            self._background.append(
                asyncio.create_task(self._pause_polling_while_database_is_away(), name="polling guard")
            )
        self.ready = True
        log.info(
            "ready: scripts %s, %s",
            self.engine.scripts.version,
            "webhook" if settings.webhook_url else "long polling",
        )

    async def stop(self) -> None:
        """Stop taking updates, finish those in flight, close everything."""
        self.ready = False
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.application is not None:
            if self.application.updater is not None and self.application.updater.running:
                await self.application.updater.stop()
            if self.application.running:
                await self.application.stop()
            await self.application.shutdown()
        if self.stats is not None:  # after the updates in flight, so their counts are stored too
            await self.stats.close()
        if self.store is not None:
            await self.store.close()

    async def healthy(self) -> bool:
        """Ready, and the database answers in time."""
        if not self.ready or self.store is None:
            return False
        try:
            await asyncio.wait_for(self.store.ping(), HEALTH_TIMEOUT_SECONDS)
        except (TimeoutError, OSError, SQLAlchemyError) as error:
            log.warning("health check: database unreachable (%s)", type(error).__name__)
            return False
        return True

    async def _pause_polling_while_database_is_away(self) -> None:
        """Long polling: stop fetching while the database is unreachable, and start again after.

        Updates already fetched are retried in the process (see handlers); new ones stay with
        Telegram, which keeps them for 24 hours, instead of piling up in memory.
        """
        assert self.application is not None  # noqa: S101 - started before this task
        updater = self.application.updater
        assert updater is not None  # noqa: S101 - built with an updater for polling
        while True:
            await asyncio.sleep(POLLING_GUARD_SECONDS)
            reachable = await self.healthy()
            if not reachable and updater.running:
                log.warning("database unreachable: long polling paused")
                await updater.stop()
            elif reachable and not updater.running:
                log.info("database reachable again: long polling resumed")
                await updater.start_polling(allowed_updates=ALLOWED_UPDATES)

    async def process(self, update: Update) -> None:
        """Handle one webhook update through PTB, in its chat's order (errors go to the error handler)."""
        assert self.application is not None  # noqa: S101 - only called while running
        await self.application.update_processor.process_update(
            update, self.application.process_update(update)
        )

    async def answer(self, incoming: Incoming) -> None:
        """Handle an ordinary webhook update directly, in its chat's order, failing as PTB's path does."""
        assert self.application is not None  # noqa: S101 - only called while running
        assert self.answerer is not None  # noqa: S101 - set up with the application
        await self.application.update_processor.process_update(incoming, self._answer_or_fail(incoming))

    async def _answer_or_fail(self, incoming: Incoming) -> None:
        assert self.answerer is not None  # noqa: S101 - set up with the application
        try:
            await self.answerer.answer(incoming)
        except Exception as error:  # as PTB's dispatch does: the error handler decides
            self.answerer.failed(error)

    @property
    def _webhook_flood_wait(self) -> float | None:
        """With a webhook, 429s are waited out only as long as Telegram waits for its answer."""
        return WEBHOOK_FLOOD_WAIT_SECONDS if self.settings.webhook_url is not None else None

    def _measured_request(self, pool_size: int) -> MeasuredRequest:
        """The aiohttp transport, counted in the metrics."""
        # getUpdates waits its long-poll timeout on top of this (PTB adds it to the read timeout).
        timeout = self.settings.bot_api_timeout_seconds
        return MeasuredRequest(
            self.metrics,
            connection_pool_size=pool_size,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
        )

    def _build_application(self, request: MeasuredRequest) -> PtbApplication:
        settings = self.settings
        builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
            Application.builder()
            .application_class(StatelessApplication)  # no per-chat memory growth, see its module
            .token(settings.bot_token.get_secret_value())
            .base_url(settings.bot_api_url)
            .request(request)  # shared with the conversations' BotApi
            .get_updates_request(self._measured_request(2))
            # Only 429 handling: Telegram's flood limits are per chat, and answers must not queue here.
            .rate_limiter(
                MeasuredRateLimiter(
                    self.metrics,
                    max_wait=self._webhook_flood_wait,
                    overall_max_rate=0,
                    group_max_rate=0,
                    max_retries=FLOOD_RETRIES,
                )
            )
            .concurrent_updates(
                MeasuredUpdateProcessor(
                    ChatOrderedUpdateProcessor(settings.max_concurrent_updates), self.metrics
                )
            )
        )
        if settings.webhook_url is not None:
            builder = builder.updater(None)
        return builder.build()

    async def _expire_forever(self) -> None:
        """Delete what has outlived its time, now and then, for as long as the bot runs."""
        while True:
            retention = Retention.from_scripts(self.engine.scripts)
            assert self.store is not None  # noqa: S101 - started before this task
            assert self.turns is not None  # noqa: S101 - started before this task
            now = dt.datetime.now(dt.UTC)
            try:
                rules = ExpiryRules(retention.chat, retention.message_ids, retention.form_abandoned)
                report = await self.store.expire(now, rules)
                await self.turns.expire(now - HANDLED_UPDATES_KEPT)
                await self._expire_leads(now, retention)
            except (OSError, SQLAlchemyError):  # a database hiccup must not stop expiry for good
                log.exception("expiry failed; trying again later")
            else:
                if report.chats_deleted or report.message_lists_cleared or report.forms_emptied:
                    log.info(
                        "expired %d chats, %d message lists and %d unfinished forms",
                        report.chats_deleted,
                        report.message_lists_cleared,
                        report.forms_emptied,
                    )
            await asyncio.sleep(self.settings.expiry_interval_seconds)

    async def _expire_leads(self, now: dt.datetime, retention: Retention) -> None:
        """Leads' bounded life, whatever channels are configured now: records of delivered leads
        go after their time, undelivered ones raise an alarm after a day and go after theirs."""
        assert self.database is not None  # noqa: S101 - started before this task
        outbox = LeadOutbox(self.database)
        overdue = await outbox.overdue_by_channel(now - LEAD_OVERDUE_AFTER)
        self.metrics.set_overdue_leads(overdue)
        for channel, count in sorted(overdue.items()):
            log.error(
                "%d lead(s) for %s not delivered after %d hours; check its settings (SMTP_*, or "
                "STAFF_CHAT_ID and the bot's membership there). Deleted %d days after they were sent",
                count,
                channel,
                int(LEAD_OVERDUE_AFTER.total_seconds() // 3600),
                retention.leads_undelivered.days,
            )
        expired = await outbox.expire(now, retention.leads, retention.leads_undelivered)
        if expired.undelivered:
            self.metrics.leads_lost.inc(expired.undelivered)
            log.error("%d undelivered lead(s) deleted: staff never received them", expired.undelivered)
        if expired.delivered:
            log.info("deleted the records of %d delivered leads", expired.delivered)
