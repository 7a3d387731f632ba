"""The bot's Prometheus metrics: one set per running bot, on its own registry.

Why not prometheus_client's module-level metrics on its global default registry: that registry is
shared by the whole process and refuses a second metric of the same name, so two bots in one
process (the tests start many) would clash, and counts would leak from one to the next. Each
`BotMetrics` therefore creates its own `CollectorRegistry` and its metrics on it, and is handed
to the parts that count (transport, update processor, handlers, web app) rather than imported.

No label ever carries a person: kinds of update, Bot API method names, outcome classes, HTTP
statuses and channel names only — never a chat id, name or text. Nor is there a count per script
node: on a quiet bot, whoever knows when a person wrote could read off what they were shown (the
anonymous daily counts, `balansebot stats`, serve staff instead).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from sqlalchemy.exc import SQLAlchemyError

from bot.live_scripts import LiveScripts, ReloadOutcome

log = logging.getLogger(__name__)
# From a cached /start (about a millisecond) to a reply held up by Telegram's retries (seconds).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UPDATE_KINDS = ("text", "command", "callback", "edited", "other", "group", "membership")
# Web chat messages, counted beside Telegram's updates (a message sent again after a lost answer apart).
WEB_KINDS = ("web_text", "web_command", "web_press", "web_resent")
FLOOD_ACTIONS = ("notified", "ignored", "acute_answered", "command_answered", "quick_exit_answered")
DEPTH_TIMEOUT_SECONDS = 2.0  # a scrape must not hang on a slow database

DepthSource = Callable[[], Awaitable[Mapping[str, int]]]


class BotMetrics:
    """Every metric `balansebot serve` exports, registered on a registry of its own."""

    def __init__(self, *, process_metrics: bool = True) -> None:
        """Create the registry and the metrics (with the process' CPU, memory, GC, Python version)."""
        # No `_created` series: on a quiet bot the moment a counter first moved tells when someone
        # wrote. prometheus_client keeps this switch for the whole process; it is only ever turned off.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client
        self.registry = CollectorRegistry()
        registry = self.registry
        self.updates = Counter(
            "balansebot_updates",
            "Telegram updates and web chat messages received, by kind (web_*: the web chat).",
            ["kind"],
            registry=registry,
        )
        self.update_seconds = Histogram(
            "balansebot_update_handling_seconds",
            "Time to handle one update (answer sent and chat saved), excluding the wait behind the "
            "same chat's earlier updates.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.update_errors = Counter(
            "balansebot_update_errors",
            "Updates whose handling failed (logged; a webhook delivery is answered 503 if a retry can help).",
            registry=registry,
        )
        self.api_calls = Counter(
            "balansebot_bot_api_calls",
            "Bot API requests, by method and outcome (ok, 429, 4xx, 5xx, network, timeout, other).",
            ["method", "outcome"],
            registry=registry,
        )
        self.api_retries = Counter(
            "balansebot_bot_api_retries",
            "Bot API calls repeated after a failure: network/timeout (with backoff) or flood (429).",
            ["reason"],
            registry=registry,
        )
        self.webhook_responses = Counter(
            "balansebot_webhook_responses",
            "Answers to requests on the webhook path, by HTTP status.",
            ["status"],
            registry=registry,
        )
        self.script_reloads = Counter(
            "balansebot_script_reloads",
            "Reloads of the dialogue scripts, by outcome (reloaded, unchanged, refused).",
            ["outcome"],
            registry=registry,
        )
        self.scripts_refused = Gauge(
            "balansebot_scripts_refused",
            "1 while the dialogue files on disk are refused (broken) and the last good version is "
            "served instead, 0 when the files being served are the ones on disk.",
            registry=registry,
        )
        self.outbox_depth = Gauge(
            "balansebot_outbox_depth",
            "Leads not yet delivered, by channel (read from the shared database when scraped).",
            ["channel"],
            registry=registry,
        )
        self.leads_overdue = Gauge(
            "balansebot_leads_overdue",
            "Leads not delivered a day after they were sent, by channel (set by each expiry run). "
            "Above 0: staff are not getting organisations' forms; check the channel's settings.",
            ["channel"],
            registry=registry,
        )
        self.leads_lost = Counter(
            "balansebot_leads_deleted_undelivered",
            "Leads deleted because no channel accepted them within privacy.leads_undelivered_days.",
            registry=registry,
        )
        self.flood_throttled = Counter(
            "balansebot_flood_throttled",
            "Updates over their chat's flood limit, by what was done: notified (the one 'send it "
            "again' reply), ignored, acute_answered, command_answered or quick_exit_answered (answered "
            "anyway).",
            ["action"],
            registry=registry,
        )
        self.unauthorized = Counter(
            "balansebot_unauthorized_requests",
            "Requests refused with 401 (wrong or missing secret), by endpoint: webhook or metrics. "
            "A steady rate means someone is guessing.",
            ["endpoint"],
            registry=registry,
        )
        for endpoint in ("webhook", "metrics"):
            self.unauthorized.labels(endpoint=endpoint)
        for action in FLOOD_ACTIONS:
            self.flood_throttled.labels(action=action)
        for kind in (
            *UPDATE_KINDS,
            *WEB_KINDS,
        ):  # every kind shows from the start, at 0, so rates work at once
            self.updates.labels(kind=kind)
        if process_metrics:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        self._depth: DepthSource | None = None
        self._channels: tuple[str, ...] = ()

    def count_update(self, kind: str) -> None:
        """One update of this kind arrived."""
        self.updates.labels(kind=kind).inc()

    def count_unauthorized(self, endpoint: str) -> None:
        """A request to `endpoint` was refused for a wrong or missing secret."""
        self.unauthorized.labels(endpoint=endpoint).inc()

    def set_overdue_leads(self, overdue: Mapping[str, int]) -> None:
        """The overdue leads per channel as the last expiry run found them (none: no series)."""
        self.leads_overdue.clear()
        for channel, count in overdue.items():
            self.leads_overdue.labels(channel=channel).set(count)

    def count_api_call(self, method: str, outcome: str) -> None:
        """One Bot API request ended like this."""
        self.api_calls.labels(method=method, outcome=outcome).inc()

    def count_retry(self, reason: str) -> None:
        """A Bot API call is about to be repeated."""
        self.api_retries.labels(reason=reason).inc()

    def count_reload(self, outcome: ReloadOutcome) -> None:
        """A `LiveScripts` listener: count the reload's outcome."""
        self.script_reloads.labels(outcome=outcome.status).inc()

    def watch_scripts(self, live: LiveScripts) -> None:
        """Read whether the scripts on disk are refused from `live` on every scrape."""
        self.scripts_refused.set_function(lambda: 0 if live.refused is None else 1)

    def watch_outbox(self, depth: DepthSource, channels: Sequence[str]) -> None:
        """Read the outbox's depth per channel from `depth` on every scrape."""
        self._depth = depth
        self._channels = tuple(channels)

    async def refresh(self) -> None:
        """Update what is read at scrape time (the outbox depth) before the metrics are rendered."""
        if self._depth is None:
            return
        try:
            async with asyncio.timeout(DEPTH_TIMEOUT_SECONDS):
                depths = await self._depth()
        except (TimeoutError, OSError, SQLAlchemyError) as error:
            # An unknown depth is left out rather than reported stale.
            log.warning("metrics: could not read the outbox depth (%s)", type(error).__name__)
            self.outbox_depth.clear()
            return
        for channel in {*self._channels, *depths}:
            self.outbox_depth.labels(channel=channel).set(depths.get(channel, 0))
