"""Whether the scripts staff just saved are served or refused, told to every open preview page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from bot.content.problems import Problem
from bot.live_scripts import LiveScripts, ReloadOutcome

Status = dict[str, object]


class StatusBoard:
    """The latest reload's outcome, and a queue per open page (Server-Sent Events) to push it to."""

    def __init__(self, live: LiveScripts, warnings: Iterable[Problem] = ()) -> None:
        self._live = live
        self._listeners: set[asyncio.Queue[Status | None]] = set()
        self.current = self._status("started", tuple(warnings))
        live.subscribe(self.on_reload)

    def on_reload(self, outcome: ReloadOutcome) -> None:
        """LiveScripts calls this after every reload; each page hears about it at once."""
        self.current = self._status(outcome.status, outcome.problems)
        for queue in self._listeners:
            queue.put_nowait(self.current)

    def listen(self) -> asyncio.Queue[Status | None]:
        """A queue that receives every status from now on; None means the preview is stopping."""
        queue: asyncio.Queue[Status | None] = asyncio.Queue()
        self._listeners.add(queue)
        return queue

    def forget(self, queue: asyncio.Queue[Status | None]) -> None:
        """The page went away."""
        self._listeners.discard(queue)

    def close(self) -> None:
        """Tell every open stream to end, so stopping the preview does not wait for the pages."""
        for queue in self._listeners:
            queue.put_nowait(None)

    @property
    def listeners(self) -> int:
        """How many pages are listening."""
        return len(self._listeners)

    def _status(self, change: str, problems: tuple[Problem, ...]) -> Status:
        live = self._live
        refused = live.refused
        errors = refused.problems if refused is not None else ()
        return {
            "state": "refused" if refused is not None else "ok",
            "change": change,
            "version": live.version,
            "loaded_at": live.loaded_at.isoformat(timespec="seconds"),
            "refused_at": refused.at.isoformat(timespec="seconds") if refused is not None else None,
            "errors": [_problem(p) for p in errors],
            "warnings": [_problem(p) for p in problems if p.severity == "warning"],
        }


def _problem(problem: Problem) -> dict[str, object]:
    """A problem for the page, its file named as `balansebot check` names it."""
    return {
        "file": problem.path.as_posix(),
        "line": problem.line,
        "message": problem.message,
        "hint": problem.hint,
        "severity": problem.severity,
    }
