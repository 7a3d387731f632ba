"""The running bot: database, python-telegram-bot application, expiry — started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
)

from bot.content.scripts import SOURCE_LANGUAGE
from bot.delivery import worker as delivery
from bot.delivery.leads import OutboxLeads, lead_channels
from bot.engine.engine import Engine
from bot.i18n import Catalogs
from bot.settings import ServeSettings
from bot.storage import migrate
from bot.storage.batching import BatchingChatStore
from bot.storage.cache import CachedChatStore
from bot.storage.database import create_engine, is_sqlite
from bot.storage.outbox import LeadOutbox
from bot.storage.pseudonym import Pseudonymizer, load_or_create_key
from bot.storage.store import ChatStore, SqlChatStore
from bot.telegram import handlers
from bot.telegram.command_menu import command_menu
from bot.telegram.conversations import Conversations, Retention
from bot.telegram.handlers import PtbApplication
from bot.telegram.ordering import ChatOrderedUpdateProcessor
from bot.telegram.transport import AiohttpRequest

log = logging.getLogger(__name__)
COMMAND_LANGUAGES = ((None, "en"), ("nb", "nb"), ("no", "nb"), ("nn", "nn"))
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
RATE_LIMIT_RETRIES = 5
HEALTH_TIMEOUT_SECONDS = 2.0


@dataclass
class Runtime:
    """Everything `balansebot serve` runs, with one start and one stop."""

    settings: ServeSettings
    engine: Engine
    catalogs: Catalogs
    store: ChatStore | None = None
    application: PtbApplication | None = None
    ready: bool = False
    _background: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Migrate, open the database and start python-telegram-bot (not yet taking updates)."""
        settings = self.settings
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
        database = create_engine(settings.database_url)
        store: ChatStore = BatchingChatStore(SqlChatStore(database))
        self.store = CachedChatStore(store) if is_sqlite(settings.database_url) else store
        self.application = self._build_application()
        default_recipient = str(self.engine.scripts.facts.values["contact.email"])
        channels = lead_channels(settings, self.application.bot, default_recipient)
        outbox = LeadOutbox(database) if channels else None
        leads = None if outbox is None else OutboxLeads(outbox, [channel.name for channel in channels])
        key = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None
        pseudonyms = Pseudonymizer(load_or_create_key(key, settings.key_file))
        conversations = Conversations(lambda: self.engine, self.store, pseudonyms, leads=leads)
        if settings.staff_chat_id is not None:
            handlers.register_staff_chat(self.application, settings.staff_chat_id)
        handlers.register(self.application, conversations, self.catalogs)
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
                        keep_delivered=dt.timedelta(days=settings.leads_retention_days),
                    ),
                    name="lead delivery",
                )
            )
        self._background.append(asyncio.create_task(self._expire_forever(), name="expiry"))

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

    async def process(self, update: Update) -> None:
        """Handle one webhook update in its chat's order (errors go to the error handler)."""
        assert self.application is not None  # noqa: S101 - only called while running
        await self.application.update_processor.process_update(
            update, self.application.process_update(update)
        )

    def _build_application(self) -> PtbApplication:
        settings = self.settings
        builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
            Application.builder()
            .token(settings.bot_token.get_secret_value())
            .base_url(settings.bot_api_url)
            .request(AiohttpRequest(connection_pool_size=settings.max_concurrent_updates))
            .get_updates_request(AiohttpRequest(connection_pool_size=2))
            # Only 429 handling: Telegram's flood limits are per chat, and answers must not queue here.
            .rate_limiter(
                AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=RATE_LIMIT_RETRIES)
            )
            .concurrent_updates(ChatOrderedUpdateProcessor(settings.max_concurrent_updates))
        )
        if settings.webhook_url is not None:
            builder = builder.updater(None)
        return builder.build()

    async def _expire_forever(self) -> None:
        """Delete what has outlived its time, now and then, for as long as the bot runs."""
        while True:
            retention = Retention.from_scripts(self.engine.scripts)
            assert self.store is not None  # noqa: S101 - started before this task
            try:
                report = await self.store.expire(
                    dt.datetime.now(dt.UTC), retention.chat, retention.message_ids
                )
            except (OSError, SQLAlchemyError):  # a database hiccup must not stop expiry for good
                log.exception("expiry failed; trying again later")
            else:
                if report.chats_deleted or report.message_lists_cleared:
                    log.info(
                        "expired %d chats and %d message lists",
                        report.chats_deleted,
                        report.message_lists_cleared,
                    )
            await asyncio.sleep(self.settings.expiry_interval_seconds)
