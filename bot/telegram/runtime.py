"""The running bot, built whole or not at all: database, Bot API client, answerer, background work.

`running_bot` enters every part on one AsyncExitStack, so a part that fails to start closes
the ones started before it, and they are closed in reverse order at the end; what it yields has
all its parts. `taking_updates` then registers the webhook or starts long polling.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram.ext import ExtBot

from bot.content.languages import LanguageList
from bot.content.opening_hours import norwegian_public_holidays
from bot.content.scripts import SOURCE_LANGUAGE
from bot.delivery import worker as delivery
from bot.delivery.leads import OutboxLeads, lead_channels
from bot.i18n import Catalogs
from bot.live_scripts import LiveScripts
from bot.settings import ServeSettings
from bot.stats.recorder import StatsRecorder
from bot.storage import migrate
from bot.storage.batching import BatchingChatStore
from bot.storage.cache import CachedChatStore
from bot.storage.database import check_connection_budget, create_engine, is_sqlite
from bot.storage.grouped_turns import chat_turns
from bot.storage.outbox import LeadOutbox
from bot.storage.pseudonym import Pseudonymizer
from bot.storage.store import ChatStore, ExpiryRules, SqlChatStore
from bot.storage.turns import ChatTurns
from bot.telegram.answering import Answerer, ChatOrder
from bot.telegram.auto_delete import AutoDeleter, auto_delete_forever
from bot.telegram.command_menu import command_menu
from bot.telegram.conversations import Conversations, Retention
from bot.telegram.flood import FloodBuckets, FloodGuard
from bot.telegram.metrics import BotMetrics
from bot.telegram.outbound import BotApiConfig, Pacing, bot_api
from bot.telegram.polling import ALLOWED_UPDATES, polling
from bot.web.app import WebChat
from bot.web.conversation import WebConversations

log = logging.getLogger(__name__)
HEALTH_TIMEOUT_SECONDS = 2.0
HANDLED_UPDATES_KEPT = dt.timedelta(days=2)  # Telegram gives up redelivering an update after 24 hours
LEAD_OVERDUE_AFTER = dt.timedelta(hours=24)  # an undelivered lead this old raises an alarm (log, metric)


class Gate:
    """Whether updates are taken now: open once live, closed again when stopping (then 503)."""

    def __init__(self) -> None:
        self.open = False


@dataclass(frozen=True)
class Runtime:
    """Every part `balansebot serve` runs, all started."""

    scripts: LiveScripts
    catalogs: Catalogs
    bot: ExtBot[None]
    answerer: Answerer
    store: ChatStore
    metrics: BotMetrics
    gate: Gate
    web: WebChat | None = None
    """The anonymous web chat's parts (WEB_CHAT=true), on the same turns as Telegram's chats."""

    async def database_answers(self) -> bool:
        """Whether the database answers in time."""
        try:
            await asyncio.wait_for(self.store.ping(), HEALTH_TIMEOUT_SECONDS)
        except (TimeoutError, OSError, SQLAlchemyError) as error:
            log.warning("health check: database unreachable (%s)", type(error).__name__)
            return False
        return True

    async def healthy(self) -> bool:
        """Taking updates, and the database answers in time."""
        return self.gate.open and await self.database_answers()


@asynccontextmanager
async def running_bot(
    settings: ServeSettings, scripts: LiveScripts, catalogs: Catalogs, metrics: BotMetrics
) -> AsyncIterator[Runtime]:
    """Migrate, open the database, start the Bot API client and the background work (not yet live)."""
    async with AsyncExitStack() as parts:
        database = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        parts.push_async_callback(database.dispose)  # when start is refused; the store disposes it too
        await check_connection_budget(
            database, settings.database_replicas, settings.database_pool_size, settings.database_max_overflow
        )
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
        batched: ChatStore = BatchingChatStore(SqlChatStore(database))
        store = CachedChatStore(batched) if is_sqlite(settings.database_url) else batched
        parts.push_async_callback(store.close)  # disposes of the database's connections too
        # Norway's holiday rules load lazily, a large import: load them now, off the event loop,
        # rather than while the first person asking about the phone line waits.
        await asyncio.to_thread(norwegian_public_holidays, dt.datetime.now(dt.UTC).year)
        bot = bot_api(bot_api_config(settings), metrics)
        await parts.enter_async_context(bot)  # checks the token (getMe)

        def retention() -> Retention:
            # From the facts file, as /personvern says, read afresh each time: a figure staff
            # change there takes effect without a restart.
            return Retention.from_scripts(scripts.engine.scripts)

        channels = lead_channels(settings, bot, str(scripts.engine.scripts.facts.values["contact.email"]))
        outbox = LeadOutbox(database) if channels else None
        leads = None if outbox is None else OutboxLeads(outbox, channels)
        pseudonyms = Pseudonymizer(settings.chat_key)
        stats = StatsRecorder.for_database(database, lambda: retention().stats.days)
        parts.push_async_callback(stats.close)  # closed after the updates in flight: their counts are kept
        turns = chat_turns(store, database)
        parts.push_async_callback(turns.close)  # after the updates in flight, before the store
        conversations = Conversations(
            lambda: scripts.engine, turns, pseudonyms, leads=leads, stats=stats.counter
        )
        answerer = Answerer(
            bot,
            conversations,
            FloodGuard.from_settings(settings, lambda: scripts.engine, catalogs, metrics),
            catalogs,
            metrics,
            staff_chat_id=settings.staff_chat_id,
        )
        scripts.subscribe(metrics.count_reload)
        metrics.watch_scripts(scripts)
        gate = Gate()
        web_chat = None
        if settings.web_chat:
            web_chat = WebChat(
                WebConversations(lambda: scripts.engine, turns, pseudonyms, leads=leads, stats=stats.counter),
                FloodGuard.from_settings(settings, lambda: scripts.engine, catalogs, metrics),
                FloodBuckets(settings.web_chat_address_burst, settings.web_chat_address_per_second),
                catalogs,
                metrics,
                lambda: gate.open,
                ChatOrder(),
            )

        async def start(work: Coroutine[Any, Any, None], name: str) -> None:
            await parts.enter_async_context(_running(work, name))

        if outbox is not None:
            metrics.watch_outbox(outbox.depth_by_channel, [channel.name for channel in channels])
            await start(
                delivery.run_forever(
                    outbox,
                    channels,
                    settings.delivery_interval_seconds,
                    lambda: dt.datetime.now(dt.UTC),
                ),
                "lead delivery",
            )
        await start(
            _expire_forever(
                store, turns, LeadOutbox(database), metrics, scripts, settings.expiry_interval_seconds
            ),
            "expiry",
        )
        deleter = AutoDeleter(bot, store, database, pseudonyms, answerer.order, retention)
        await start(auto_delete_forever(deleter, settings.auto_delete_interval_seconds), "auto-delete")
        await start(stats.flush_forever(settings.stats_flush_seconds), "statistics")
        if settings.watch_dialogues:
            await start(scripts.watch(), "script watcher")
        yield Runtime(scripts, catalogs, bot, answerer, store, metrics, gate, web_chat)


def command_languages(languages: LanguageList) -> list[tuple[str | None, str]]:
    """(Telegram language code, language) for each command menu: the default (None) in `other`,
    and each code languages.yaml gives another language."""
    menus: list[tuple[str | None, str]] = [(None, languages.other)]
    menus.extend((code, lang) for code, lang in languages.telegram_codes().items() if lang != languages.other)
    return menus


@asynccontextmanager
async def taking_updates(runtime: Runtime, settings: ServeSettings) -> AsyncIterator[None]:
    """Register the webhook (our server listens by now) or poll; stop taking updates when the block ends."""
    bot = runtime.bot
    scripts = runtime.scripts.engine.scripts
    # Telegram shows each user the list for their app's language; everyone else gets `other`'s.
    for language_code, lang in command_languages(scripts.language_list):
        shown = lang if lang in scripts.languages else SOURCE_LANGUAGE
        await bot.set_my_commands(command_menu(runtime.catalogs, shown), language_code=language_code)
    async with AsyncExitStack() as live:
        if settings.webhook_url is not None:
            secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
            await bot.set_webhook(
                str(settings.webhook_url),
                secret_token=secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=100,
            )
        else:
            await bot.delete_webhook()
            await live.enter_async_context(
                polling(bot, runtime.answerer, runtime.database_answers, settings.max_concurrent_updates)
            )
        runtime.gate.open = True
        live.callback(setattr, runtime.gate, "open", False)  # first thing on the way out
        log.info(
            "ready: scripts %s, %s",
            runtime.scripts.engine.scripts.version,
            "webhook" if settings.webhook_url else "long polling",
        )
        yield


def bot_api_config(settings: ServeSettings) -> BotApiConfig:
    """The Bot API client's part of the settings."""
    return BotApiConfig(
        token=settings.bot_token.get_secret_value(),
        base_url=settings.bot_api_url,
        timeout_seconds=settings.bot_api_timeout_seconds,
        connections=settings.max_concurrent_updates,
        pacing=Pacing(
            messages_per_second=settings.bot_api_messages_per_second,
            chat_burst=settings.bot_api_chat_burst,
            chat_per_second=settings.bot_api_chat_per_second,
            longest_flood_wait=settings.bot_api_longest_flood_wait_seconds,
        ),
    )


@asynccontextmanager
async def _running(work: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    """Run `work` in the background for the block; cancelled when it ends."""
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:  # it ended by itself before: say so, and close the other parts still
            log.exception("%s had stopped with an error", name)


async def _expire_forever(
    store: ChatStore,
    turns: ChatTurns,
    outbox: LeadOutbox,
    metrics: BotMetrics,
    scripts: LiveScripts,
    interval: float,
) -> None:
    """Delete what has outlived its time, now and then, for as long as the bot runs."""
    while True:
        retention = Retention.from_scripts(scripts.engine.scripts)
        now = dt.datetime.now(dt.UTC)
        try:
            rules = ExpiryRules(retention.chat, retention.message_ids, retention.form_abandoned)
            report = await store.expire(now, rules)
            await turns.expire(now - HANDLED_UPDATES_KEPT)
            await _expire_leads(outbox, metrics, now, retention)
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
        await asyncio.sleep(interval)


async def _expire_leads(
    outbox: LeadOutbox, metrics: BotMetrics, now: dt.datetime, retention: Retention
) -> None:
    """Leads' bounded life, whatever channels are configured now: records of delivered leads go
    after their time, undelivered ones raise an alarm after a day and go after theirs."""
    overdue = await outbox.overdue_by_channel(now - LEAD_OVERDUE_AFTER)
    metrics.set_overdue_leads(overdue)
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
        metrics.leads_lost.inc(expired.undelivered)
        log.error("%d undelivered lead(s) deleted: staff never received them", expired.undelivered)
    if expired.delivered:
        log.info("deleted the records of %d delivered leads", expired.delivered)
