"""Load benchmark across replicas: the same N updates against SQLite and 1 (or more) replicas on PostgreSQL.

    uv run python -m tests.bench.bench_replicas --updates 1000 --chats 100 [--repeat 0.05] [--replicas 1 3]

First one `balansebot serve` on SQLite, then each count of replicas on one fresh PostgreSQL database
(TEST_DATABASE_URL, default the local server), every replica its own process, all behind the test
load balancer (tests/support/balancer.py), which can also deliver a share of the updates twice
(--repeat), as Telegram's retries do. Reported: throughput, p50/p99 latency (webhook POST to the
reply reaching the Bot API), lost replies, duplicates and order violations — the last three must be
0 — and each run's throughput as a share of SQLite's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.bench.bench_webhook import EXPECTED, Result, _load, process_cpu
from tests.databases import fresh_database
from tests.support.balancer import Balancer
from tests.support.fake_bot_api import FakeBotApi
from tests.telegram.serving import UNPACED, WEBHOOK_PATH, WEBHOOK_SECRET, serving

PSEUDONYM_KEY = "bench-replicas-share-this-key-0123456789"


@dataclass
class ReplicaResult:
    """One run's figures, with what exactly-once adds."""

    database: str
    replicas: int
    result: Result
    duplicates: int
    repeated_deliveries: int
    server_cpu_ms_per_update: float
    """CPU of the PostgreSQL server processes serving the bot's connections (0 for SQLite)."""


def backend_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL server process connected to the database (none for SQLite)."""
    if database_url.startswith("sqlite"):
        return {}
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    cpu = {}
    for (pid,) in rows:
        with contextlib.suppress(FileNotFoundError):  # ended meanwhile
            cpu[pid] = process_cpu(pid)
    return cpu


async def run(
    database: str, replicas: int, n_updates: int, n_chats: int, repeat: float, pool: int
) -> ReplicaResult:
    """Start the replicas and the balancer, post the load, count every reply."""
    chance = random.Random(replicas)
    balancer = Balancer(WEBHOOK_PATH, repeat=lambda _update_id: chance.random() < repeat)
    await balancer.start()
    try:
        async with FakeBotApi(set_webhook_rate_limit=False, verify_webhook=False, flood_limits=None) as fake:
            with tempfile.TemporaryDirectory() as data, fresh_database(database, Path(data)) as database_url:
                async with AsyncExitStack() as stack:
                    ports, replicas_served = [], []
                    for index in range(replicas):
                        served = await stack.enter_async_context(
                            serving(
                                fake,
                                Path(data) / f"replica-{index}",
                                webhook=True,
                                DATABASE_URL=database_url,
                                PSEUDONYM_KEY=PSEUDONYM_KEY,
                                WEBHOOK_URL=balancer.url,
                                LOG_LEVEL="WARNING",
                                DATABASE_POOL_SIZE=str(pool),
                                DATABASE_REPLICAS=str(replicas),
                                DATABASE_MAX_OVERFLOW="0",
                                **UNPACED,
                            )
                        )
                        ports.append(served.port)
                        replicas_served.append(served)
                    balancer.replicas = ports
                    first_op = len(fake.ops)
                    pids = [served.process.pid for served in replicas_served]
                    bot_cpu, server_cpu = sum(map(process_cpu, pids)), backend_cpu(database_url)
                    result = await _load(
                        f"{replicas} replica(s) on {database}",
                        fake,
                        balancer.port,
                        WEBHOOK_PATH,
                        WEBHOOK_SECRET,
                        n_updates,
                        n_chats,
                        EXPECTED.__getitem__,
                    )
                    received = max(1, n_updates - result.lost)
                    result.bot_cpu_ms_per_update = (sum(map(process_cpu, pids)) - bot_cpu) * 1000 / received
                    server_ms = sum(
                        cpu - server_cpu.get(pid, 0.0) for pid, cpu in backend_cpu(database_url).items()
                    )
                    await asyncio.sleep(1.0)  # late duplicates would arrive now
                    sends = [op for op in fake.ops[first_op:] if op.method == "sendMessage" and op.ok]
                    per_chat = n_updates // n_chats
                    duplicates = max(0, len(sends) - per_chat * n_chats)
                    repeated = len({u for u, _ in balancer.started}) - len(
                        {u for u, _ in balancer.started if [x for x, _ in balancer.started].count(u) == 1}
                    )
                    return ReplicaResult(
                        database, replicas, result, duplicates, repeated, server_ms * 1000 / received
                    )
    finally:
        await balancer.stop()


def report(results: list[ReplicaResult]) -> None:
    """Print one line per run; the first run is SQLite's, the yardstick."""
    print(
        f"{'database':>10} {'replicas':>8} {'updates/s':>10} {'× SQLite':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'lost':>5} {'dupes':>6} {'order':>6} {'repeated':>9} {'bot CPU ms/update':>18} "
        f"{'server CPU ms/update':>21}"
    )
    sqlite = results[0].result.updates_per_second
    for r in results:
        x = r.result
        print(
            f"{r.database:>10} {r.replicas:>8} {x.updates_per_second:>10.0f} "
            f"{x.updates_per_second / sqlite:>9.2f} {x.p50_ms:>8.1f} {x.p99_ms:>8.1f} {x.lost:>5} "
            f"{r.duplicates:>6} {x.order_violations:>6} {r.repeated_deliveries:>9} "
            f"{x.bot_cpu_ms_per_update:>18.2f} {r.server_cpu_ms_per_update:>21.2f}"
        )


async def main(
    n_updates: int, n_chats: int, repeat: float, connections: int, replica_counts: list[int]
) -> list[ReplicaResult]:
    """SQLite, then each count of PostgreSQL replicas, with the same load and PostgreSQL connections."""
    results = [await run("sqlite", 1, n_updates, n_chats, repeat, 1)]
    for replicas in replica_counts:
        results.append(
            await run("postgresql", replicas, n_updates, n_chats, repeat, max(1, connections // replicas))
        )
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--repeat", type=float, default=0.05, help="share of updates delivered twice")
    parser.add_argument(
        "--connections", type=int, default=90, help="PostgreSQL connections, shared out among the replicas"
    )
    parser.add_argument("--replicas", type=int, nargs="+", default=[1], help="PostgreSQL replica counts")
    args = parser.parse_args()
    results = asyncio.run(main(args.updates, args.chats, args.repeat, args.connections, args.replicas))
    report(results)
    sys.exit(
        0 if all(r.result.lost == r.duplicates == r.result.order_violations == 0 for r in results) else 1
    )
