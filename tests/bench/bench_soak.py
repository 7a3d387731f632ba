"""Soak benchmark: memory and latency of one `balansebot serve` (SQLite, webhook) over many chats.

    uv run python -m tests.bench.bench_soak                                # 100,000 chats, 1,000,000 updates
    uv run python -m tests.bench.bench_soak --chats 20000 --updates 100000 # a quicker look

Chats arrive one after another, as new people do: 100 connections (Telegram's max_connections)
each take the next chat and post its conversation — /start, a menu button, typed questions,
commands — one update after another, then take the next chat. New chats therefore keep coming
for the whole run, so anything the bot keeps per chat beyond a bounded cache shows as resident
memory that keeps growing. Per window of updates it samples the bot's VmRSS (/proc/PID/status),
its CPU, the throughput and the latency (POST to answer; the webhook answers once the reply has
reached the Bot API), and at the end says whether RSS was flat over the second half and latency
steady.

The Bot API here is a lean sink in this process, not tests/support/fake_bot_api.py: the strict
fake keeps every call and message for its assertions, which at a million updates would be
gigabytes and most of the CPU in this process rather than a measurement of the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shlex
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.engine import callbacks
from tests.bench.bench_webhook import CONNECTIONS, process_cpu
from tests.conftest import ROOT
from tests.support import updates as ub
from tests.telegram.serving import PSEUDONYM_KEY, UNPACED, WEBHOOK_PATH, WEBHOOK_SECRET, free_port

TOKEN = "123456789:AAbenchmarkSoakTokenxxxxxxxxxxxxxxxxxx"
BOT_ID = 123456789
FIRST_CHAT_ID = 600_000_000
# One conversation: what a reader does in a visit (the number of updates per chat picks a prefix,
# repeating from the top when a chat sends more than this).
CONVERSATION: tuple[tuple[str, str], ...] = (
    ("command", "start"),
    ("button", callbacks.goto("telefon")),
    ("text", "når er telefonen åpen"),
    ("command", "merket"),
    ("text", "hva er seksuell trakassering"),
    ("command", "personvern"),
    ("text", "jeg tror sjefen min har gått over grensen"),
    ("command", "meny"),
    ("text", "hvordan får vi balansemerket"),
    ("command", "hjelp"),
)


class SinkBotApi:
    """Just enough of the Bot API for `serve`: every call succeeds, only counts are kept."""

    def __init__(self) -> None:
        """Not listening until start()."""
        self.replies = 0
        self.calls: dict[str, int] = {}
        self.last_message: dict[int, int] = {}
        """The latest bot message per chat in a conversation (for its buttons); emptied as chats end."""
        self._message_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = free_port()

    @property
    def base_url(self) -> str:
        """What BOT_API_URL is set to."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        """Listen on loopback."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls[method] = self.calls.get(method, 0) + 1
        args: dict[str, Any] = {}
        if request.content_type == "application/json":
            args = await request.json()
        elif request.can_read_body:
            args = dict(await request.post())
        result: object = True
        if method == "getMe":
            result = ub.user(BOT_ID, "Balansebot", username="balansebot_soak_bot", is_bot=True)
        elif method in ("sendMessage", "editMessageText"):
            self.replies += 1
            chat_id = int(args["chat_id"])
            message_id = int(args["message_id"]) if "message_id" in args else next(self._message_ids)
            self.last_message[chat_id] = message_id
            result = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": str(args.get("text", ""))[:20],
            }
        return web.json_response({"ok": True, "result": result})


@dataclass
class Window:
    """What one window of updates measured."""

    updates: int
    """Updates posted by the end of this window."""
    chats: int
    """Distinct chats seen by then."""
    seconds: float
    updates_per_second: float
    p50_ms: float
    p99_ms: float
    rss_mb: float
    bot_cpu_percent: float
    load_1m: float


@dataclass
class Soak:
    """The whole run."""

    chats: int
    updates: int
    rss_before_mb: float
    rss_peak_mb: float = 0.0
    failed: int = 0
    replies: int = 0
    seconds: float = 0.0
    windows: list[Window] = field(default_factory=list)


def rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    """A memory figure of a process from /proc/PID/status, in MB (VmRSS now, VmHWM its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field_name)


def conversation_update(
    kind: str, value: str, chat_id: int, update_id: int, step: int, sink: SinkBotApi
) -> str:
    """One update of a chat's conversation, as Telegram posts it."""
    person = ub.user(chat_id, "Soak", language_code="nb")
    now = int(time.time())
    if kind == "button" and chat_id in sink.last_message:
        pressed = ub.message(
            message_id=sink.last_message[chat_id],
            date=now,
            chat=ub.private_chat(person),
            from_user=ub.user(BOT_ID, "Balansebot", is_bot=True),
            text="…",
        )
        query = ub.callback_query(
            query_id=str(update_id), from_user=person, message_obj=pressed, data=value, chat_instance="1"
        )
        return json.dumps(ub.callback_query_update(update_id, query))
    if kind == "command":
        body = ub.command_update(update_id, message_id=step + 1, date=now, from_user=person, command=value)
    else:
        body = ub.text_message_update(update_id, message_id=step + 1, date=now, from_user=person, text=value)
    return json.dumps(body)


def least_squares_slope(xs: list[float], ys: list[float]) -> float:
    """The slope of the best straight line through the points."""
    if len(xs) < 2:
        return 0.0
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


async def soak(n_chats: int, n_updates: int, n_windows: int, connections: int, command: list[str]) -> Soak:
    """Start the bot, post the load, sample per window, stop the bot."""
    sink = SinkBotApi()
    await sink.start()
    data = Path(tempfile.mkdtemp(prefix="balansebot-soak-"))
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BOT_TOKEN": TOKEN,
        "BOT_API_URL": sink.base_url,
        "DATABASE_URL": f"sqlite:///{data}/balansebot.db",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_URL": f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PSEUDONYM_KEY": PSEUDONYM_KEY,
        "WATCH_DIALOGUES": "false",
        **UNPACED,  # the sink enforces no Telegram limits: the bot's own work is measured
    }
    with (data / "serve.log").open("wb") as log:  # the child keeps its own copy of the descriptor
        process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        return await _load(sink, process.pid, port, n_chats, n_updates, n_windows, connections)
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()
        await sink.stop()


async def _load(
    sink: SinkBotApi, pid: int, port: int, n_chats: int, n_updates: int, n_windows: int, connections: int
) -> Soak:
    base = f"http://127.0.0.1:{port}"
    per_chat = max(1, n_updates // n_chats)
    total = per_chat * n_chats
    window_size = max(1, total // n_windows)
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        await _wait_ready(session, base)
        result = Soak(n_chats, total, rss_mb(pid))
        chat_ids: Iterator[int] = iter(range(FIRST_CHAT_ID, FIRST_CHAT_ID + n_chats))
        update_ids = itertools.count(10**8)
        latencies: list[float] = []
        posted = 0
        chats_started = 0
        started = window_started = time.monotonic()
        cpu_at_window = process_cpu(pid)
        window_done = asyncio.Event()

        async def one_chat(chat_id: int) -> None:
            nonlocal posted
            for step in range(per_chat):
                kind, value = CONVERSATION[step % len(CONVERSATION)]
                body = conversation_update(kind, value, chat_id, next(update_ids), step, sink)
                sent = time.monotonic()
                async with session.post(base + WEBHOOK_PATH, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        result.failed += 1
                latencies.append((time.monotonic() - sent) * 1000)
                posted += 1
                if posted % window_size == 0:
                    window_done.set()
            sink.last_message.pop(chat_id, None)

        async def worker() -> None:
            nonlocal chats_started
            for chat_id in chat_ids:
                chats_started += 1
                await one_chat(chat_id)

        workers = [asyncio.create_task(worker()) for _ in range(connections)]
        running = asyncio.gather(*workers)
        while not running.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(window_done.wait(), 0.5)
            if not window_done.is_set() and not running.done():
                continue
            window_done.clear()
            now = time.monotonic()
            cpu = process_cpu(pid)
            taken, latencies[:] = sorted(latencies), []
            if not taken:
                continue
            result.windows.append(
                Window(
                    updates=posted,
                    chats=chats_started,
                    seconds=round(now - started, 1),
                    updates_per_second=round(len(taken) / (now - window_started), 1),
                    p50_ms=round(statistics.median(taken), 1),
                    p99_ms=round(taken[min(len(taken) - 1, int(len(taken) * 0.99))], 1),
                    rss_mb=round(rss_mb(pid), 1),
                    bot_cpu_percent=round((cpu - cpu_at_window) * 100 / (now - window_started), 0),
                    load_1m=round(os.getloadavg()[0], 2),
                )
            )
            print(_row(result.windows[-1]), flush=True)
            window_started, cpu_at_window = now, cpu
        await running
        result.seconds = round(time.monotonic() - started, 1)
        result.rss_peak_mb = round(rss_mb(pid, "VmHWM"), 1)
        result.replies = sink.replies
    return result


async def _wait_ready(session: aiohttp.ClientSession, base: str) -> None:
    for _ in range(600):
        try:
            async with session.get(base + "/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the bot did not become ready")


HEADER = (
    f"{'updates':>9} {'chats':>8} {'s':>7} {'upd/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'RSS MB':>7} "
    f"{'bot CPU%':>8} {'load':>5}"
)


def _row(w: Window) -> str:
    return (
        f"{w.updates:>9} {w.chats:>8} {w.seconds:>7.1f} {w.updates_per_second:>7.0f} {w.p50_ms:>7.1f} "
        f"{w.p99_ms:>7.1f} {w.rss_mb:>7.1f} {w.bot_cpu_percent:>8.0f} {w.load_1m:>5.2f}"
    )


def verdict(result: Soak) -> list[str]:
    """The summary: RSS start/end/peak and its slope over the second half; latency early and late."""
    windows = result.windows
    second_half = windows[len(windows) // 2 :]
    slope = least_squares_slope([w.updates for w in second_half], [w.rss_mb for w in second_half])
    growth = slope * (second_half[-1].updates - second_half[0].updates) if second_half else 0.0
    quarter = max(1, len(windows) // 4)
    early_p99 = statistics.median(w.p99_ms for w in windows[quarter : 2 * quarter] or windows[:1])
    late_p99 = statistics.median(w.p99_ms for w in windows[-quarter:])
    # Allocator and SQLite page-cache noise is a megabyte or two; a per-chat leak grows with every chat.
    flat = abs(growth) < 2.0 + 0.01 * windows[-1].rss_mb
    steady = late_p99 <= 2 * early_p99 + 5
    return [
        f"{result.updates:,} updates from {result.chats:,} chats in {result.seconds:.0f} s "
        f"({result.updates / result.seconds:.0f} updates/s), {result.failed} failed, "
        f"{result.replies:,} replies",
        f"RSS: {result.rss_before_mb:.1f} MB before the load, {windows[0].rss_mb:.1f} MB after the first "
        f"window, {windows[-1].rss_mb:.1f} MB at the end, peak {result.rss_peak_mb:.1f} MB",
        f"RSS over the second half: {slope * 100_000:+.2f} MB per 100k updates "
        f"({growth:+.1f} MB across it) -> {'flat' if flat else 'GROWING'}",
        f"p99 latency: {early_p99:.1f} ms in the second quarter, {late_p99:.1f} ms in the last "
        f"-> {'steady' if steady else 'DEGRADING'}",
    ]


def main() -> None:
    """Parse the arguments, run, print the windows and the verdict (and write JSON if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=1_000_000)
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--bot",
        default=f"{sys.executable} -m bot serve",
        help="the command that starts the bot (to measure a variant of it); run in the project folder",
    )
    args = parser.parse_args()
    print(HEADER, flush=True)
    result = asyncio.run(
        soak(args.chats, args.updates, args.windows, args.connections, shlex.split(args.bot))
    )
    for line in verdict(result):
        print(line)
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()
