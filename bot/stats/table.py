"""The statistics as a plain-text table for the terminal: nodes down, days across, totals at the ends."""

from __future__ import annotations

from collections.abc import Sequence

from bot.staff_words import marked, say
from bot.stats.report import MINIMUM_SHOWN, DayCounts

FALLBACK_LABEL = marked("(not understood)")
TOTAL_LABEL = marked("total")


def cell(count: int | None, minimum: int = MINIMUM_SHOWN) -> str:
    """A count, or "<5" for a suppressed one."""
    return f"<{minimum}" if count is None else str(count)


def total(counts: Sequence[int | None]) -> str:
    """The exact sum, or "≥N" when parts are suppressed.

    N counts each suppressed part as 1, so it follows from what is shown: an exact total would let
    anyone subtract the shown parts and recover a suppressed one.
    """
    exact = all(c is not None for c in counts)
    return str(_lower_bound(counts)) if exact else f"≥{_lower_bound(counts)}"


def render_table(report: Sequence[DayCounts], minimum: int = MINIMUM_SHOWN) -> str:
    """The report as aligned text; rows are nodes (busiest first), then the fallback and the totals."""
    nodes = list(report[0].nodes) if report else []

    ordered = sorted(nodes, key=lambda node: (-_lower_bound([d.nodes[node] for d in report]), node))
    header = [say("node"), *(d.day.strftime("%m-%d") for d in report), say(TOTAL_LABEL)]
    rows = [header]
    for node in ordered:
        counts = [d.nodes[node] for d in report]
        rows.append([node, *(cell(c, minimum) for c in counts), total(counts)])
    fallbacks = [d.fallbacks for d in report]
    rows.append([say(FALLBACK_LABEL), *(cell(c, minimum) for c in fallbacks), total(fallbacks)])
    per_day = [[*d.nodes.values(), d.fallbacks] for d in report]
    every = [c for day in per_day for c in day]
    rows.append([say(TOTAL_LABEL), *(total(day) for day in per_day), total(every)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join([row[0].ljust(widths[0]), *(v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=True))])
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    return "\n".join(lines)


def render_legend(report: Sequence[DayCounts], minimum: int = MINIMUM_SHOWN) -> str:
    """What the table covers and what its marks mean."""
    first, last = report[0].day.isoformat(), report[-1].day.isoformat()
    return "\n".join(
        [
            say("Answers shown per day (Europe/Oslo), {first} to {last}.", first=first, last=last),
            say(
                "<{minimum}: fewer than {minimum}, hidden so that no one can be singled out; "
                "≥N: at least N (some parts are hidden).",
                minimum=minimum,
            ),
            say("{label}: typed messages the bot found no answer for.", label=say(FALLBACK_LABEL)),
        ]
    )


def _lower_bound(counts: Sequence[int | None]) -> int:
    """The least the counts can add up to: a suppressed one is at least 1."""
    return sum(1 if c is None else c for c in counts)
