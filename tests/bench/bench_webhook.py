"""Load benchmark: N updates from M chats posted to the webhook, the full bot vs a bare PTB echo bot.

    uv run python -m tests.bench.bench_webhook --updates 2000 --chats 200

Both bots run as their own process against the same offline Bot API (in this process). Each chat's
updates are posted one after another (as Telegram does), all chats at once. Latency is from the
webhook POST to the reply reaching the Bot API. A reply is lost when it never arrives; an order
violation is a chat's k-th reply answering something other than its k-th update.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.conftest import ROOT
from tests.support import updates as ub
from tests.support.fake_bot_api import FakeBotApi
from tests.telegram.serving import UNPACED, WEBHOOK_PATH, WEBHOOK_SECRET, free_port, serve_env

COMMANDS = ("telefon", "merket", "hjelp", "personvern", "meny")
EXPECTED = {
    "telefon": "400 38 800",
    "merket": "Balansemerket",
    "hjelp": "/slett",
    "personvern": "ende-til-ende",
    "meny": "Hva vil du vite mer om",
}
CONNECTIONS = 100  # like Telegram's max_connections for a webhook


@dataclass
class Result:
    """What one run measured."""

    name: str
    updates_per_second: float
    p50_ms: float
    p99_ms: float
    lost: int
    order_violations: int
    bot_cpu_ms_per_update: float = 0.0
    harness_cpu_ms_per_update: float = 0.0


Launch = Callable[[int], tuple[list[str], dict[str, str]]]


async def run(
    name: str,
    fake: FakeBotApi,
    launch: Launch,
    path: str,
    secret: str | None,
    n_updates: int,
    n_chats: int,
    expects: Callable[[str], str],
) -> Result:
    """Start one bot on a free port, post the load, wait for every reply, stop the bot."""
    port = free_port()
    argv, env = launch(port)
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        bot_cpu, harness_cpu = process_cpu(process.pid), time.process_time()
        result = await _load(name, fake, port, path, secret, n_updates, n_chats, expects)
        received = n_updates - result.lost
        result.bot_cpu_ms_per_update = (process_cpu(process.pid) - bot_cpu) * 1000 / received
        result.harness_cpu_ms_per_update = (time.process_time() - harness_cpu) * 1000 / received
        return result
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(
    name: str,
    fake: FakeBotApi,
    port: int,
    path: str,
    secret: str | None,
    n_updates: int,
    n_chats: int,
    expects: Callable[[str], str],
) -> Result:
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONNECTIONS)) as session:
        for _ in range(300):
            try:
                async with session.get(base + "/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
        users = [fake.add_user(f"Bench {i}") for i in range(n_chats)]
        for person in users:
            fake.private_chat(person).started = True  # as if each had written /start before
        first_op = len(fake.ops)
        per_chat = n_updates // n_chats
        posted: dict[tuple[int, int], float] = {}
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        update_ids = iter(range(10**6, 10**7))

        async def chat_traffic(index: int) -> None:
            person = users[index]
            for k in range(per_chat):
                command = COMMANDS[(index + k) % len(COMMANDS)]
                body = ub.command_update(
                    next(update_ids),
                    message_id=k + 1,
                    date=int(time.time()),
                    from_user=person.to_dict(),
                    command=command,
                )
                posted[(person.id, k)] = time.time()
                async with session.post(base + path, data=json.dumps(body), headers=headers) as response:
                    response.raise_for_status()

        started = time.time()
        await asyncio.gather(*(chat_traffic(i) for i in range(n_chats)))
        total = per_chat * n_chats
        deadline = time.time() + 60
        while len([op for op in fake.ops[first_op:] if op.method == "sendMessage" and op.ok]) < total:
            if time.time() > deadline:
                break
            await asyncio.sleep(0.05)
    replies: dict[int, list[tuple[float, str]]] = {}
    for op in fake.ops[first_op:]:
        if op.method == "sendMessage" and op.ok and op.chat_id is not None:
            replies.setdefault(op.chat_id, []).append((op.at, op.params.get("text", "")))
    latencies, lost, violations, last = [], 0, 0, started
    for index, person in enumerate(users):
        got = replies.get(person.id, [])
        lost += max(0, per_chat - len(got))
        for k, (at, text) in enumerate(got[:per_chat]):
            command = COMMANDS[(index + k) % len(COMMANDS)]
            if expects(command) not in text:
                violations += 1
            latencies.append((at - posted[(person.id, k)]) * 1000)
            last = max(last, at)
    latencies.sort()
    received = len(latencies)
    return Result(
        name,
        received / (last - started),
        statistics.median(latencies),
        latencies[min(received - 1, int(received * 0.99))],
        lost,
        violations,
    )


async def main(n_updates: int, n_chats: int) -> list[Result]:
    """Both bots, the same load, one run each."""
    # The bots' own work is measured, not Telegram's limits (tests/telegram/test_spike.py has those).
    async with FakeBotApi(set_webhook_rate_limit=False, verify_webhook=False, flood_limits=None) as fake:
        with tempfile.TemporaryDirectory() as data:
            echo = await run(
                "bare PTB echo bot (PTB defaults)",
                fake,
                lambda port: (
                    [
                        sys.executable,
                        "-m",
                        "tests.bench.echo_bot",
                        "--api-url",
                        fake.base_url,
                        "--token",
                        fake.token,
                        "--port",
                        str(port),
                    ],
                    {},
                ),
                "/telegram",
                None,
                n_updates,
                n_chats,
                lambda command: f"/{command}",
            )
            full = await run(
                "balansebot (dialogue + SQLite state)",
                fake,
                lambda port: (
                    [sys.executable, "-m", "bot", "serve"],
                    serve_env(fake, Path(data), port, webhook=True, LOG_LEVEL="WARNING", **UNPACED),
                ),
                WEBHOOK_PATH,
                WEBHOOK_SECRET,
                n_updates,
                n_chats,
                EXPECTED.__getitem__,
            )
    return [echo, full]


def report(results: list[Result]) -> None:
    """Print the figures and the ratio."""
    print(
        f"{'bot':<40} {'updates/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'lost':>5} {'order':>6} "
        f"{'bot CPU ms/update':>18} {'harness CPU ms/update':>22}"
    )
    for r in results:
        print(
            f"{r.name:<40} {r.updates_per_second:>10.0f} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f} {r.lost:>5} "
            f"{r.order_violations:>6} {r.bot_cpu_ms_per_update:>18.2f} {r.harness_cpu_ms_per_update:>22.2f}"
        )
    print(f"ratio full/echo: {results[1].updates_per_second / results[0].updates_per_second:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=200)
    args = parser.parse_args()
    report(asyncio.run(main(args.updates, args.chats)))
