"""Router speed: building it from the shipped scripts, and routing each labelled message.

    uv run python -m tests.bench.bench_router

Targets (issue: understanding free text): under 1 s to build, under 2 ms per message.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bot.content.loader import load_scripts
from bot.engine.engine import Engine
from bot.engine.model import ChatState, FreeText
from bot.i18n import Catalogs
from bot.staff.evaluation import load_examples
from tests.conftest import DIALOGUES, LOCALES

ROUNDS = 5


def main() -> None:
    """Print build time, and per-message routing and whole-engine times."""
    catalogs = Catalogs.load(LOCALES)
    started = time.perf_counter()
    scripts = load_scripts(DIALOGUES, catalogs).scripts
    loaded = time.perf_counter()
    if scripts is None:
        raise SystemExit("the shipped scripts do not load; run `balansebot check`")
    engine = Engine(scripts, catalogs)
    built = time.perf_counter()
    texts = [e.text for e in load_examples(Path(__file__).parents[1] / "understanding" / "labelled.yaml")]
    route_ms, handle_ms = [], []
    for _ in range(ROUNDS):
        for text in texts:
            t0 = time.perf_counter()
            engine.router().route(text)
            t1 = time.perf_counter()
            engine.handle(ChatState(), FreeText(text))
            t2 = time.perf_counter()
            route_ms.append((t1 - t0) * 1000)
            handle_ms.append((t2 - t1) * 1000)
    for name, values in (
        ("router.route", route_ms),
        ("engine.handle (acute check + route + render)", handle_ms),
    ):
        values.sort()
        print(
            f"{name:<48} mean {statistics.fmean(values):.3f} ms  p50 {values[len(values) // 2]:.3f} ms  "
            f"p99 {values[int(len(values) * 0.99)]:.3f} ms  max {values[-1]:.3f} ms"
        )
    print(
        f"load + check scripts {1000 * (loaded - started):.0f} ms; build engine and routers "
        f"{1000 * (built - loaded):.0f} ms; {len(texts)} messages x {ROUNDS}"
    )


if __name__ == "__main__":
    main()
