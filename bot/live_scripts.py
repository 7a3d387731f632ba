"""The scripts being served right now, swapped for a new version when staff save a file.

A new version must pass the same checks as at start; a broken one is refused and logged while
the previous version keeps serving. Conversations in progress keep their place: the engine sends
a reader whose node disappeared to the menu (see the `slettet` node).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchfiles import awatch

from bot.content.kept_versions import KeptVersions
from bot.content.loader import LoadResult, load_scripts
from bot.content.problems import Problem
from bot.content.scripts import Scripts
from bot.engine.engine import Engine
from bot.engine.lead_form import engine_for
from bot.i18n import Catalogs

log = logging.getLogger(__name__)
WATCH_DEBOUNCE_MS = 300  # an editor's save is often several writes; wait for the last one
WATCHED_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Refusal:
    """A version of the scripts that failed the checks and is not being served."""

    at: dt.datetime
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class ReloadOutcome:
    """What one reload did: a new version served, the same one kept, or a broken one refused."""

    status: str  # "reloaded" | "unchanged" | "refused"
    version: str
    """The version served after this reload."""
    problems: tuple[Problem, ...] = ()
    """Every problem the folder has now, warnings too (the preview shows them all)."""


Listener = Callable[[ReloadOutcome], None]


class LiveScripts:
    """Holds the engine for the current scripts and replaces it when the files change."""

    def __init__(
        self,
        engine: Engine,
        dialogues_dir: Path,
        catalogs: Catalogs,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        kept: KeptVersions | None = None,
    ) -> None:
        self.engine = engine
        self.dialogues_dir = dialogues_dir
        self.catalogs = catalogs
        self.kept = kept
        """Where every version that went live is kept, to fall back on at the next start."""
        self.loaded_at = clock()
        self.refused: Refusal | None = None
        """The latest refused version, until a good one is saved."""
        self.found_at_start: tuple[Problem, ...] = ()
        """Every problem (warnings too) the folder had when it was first loaded."""
        self._clock = clock
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()

    @property
    def version(self) -> str:
        """The content hash of the files being served."""
        return self.engine.scripts.version

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` after every reload (the preview page tells the browser)."""
        self._listeners.append(listener)

    async def reload(self) -> ReloadOutcome:
        """Load and check the files again; serve them only if they pass."""
        async with self._lock:  # a save during a reload is picked up by the next one
            outcome = await asyncio.to_thread(self._reload_now)
        for listener in self._listeners:
            listener(outcome)
        return outcome

    def _reload_now(self) -> ReloadOutcome:
        result = load_scripts(self.dialogues_dir, self.catalogs)
        if result.scripts is None:
            errors = tuple(result.errors)
            self.refused = Refusal(self._clock(), errors)
            log.error(
                "the changed scripts were refused; still serving version %s. Problems:\n%s",
                self.version,
                "\n".join(str(p) for p in errors),
            )
            return ReloadOutcome("refused", self.version, tuple(result.problems))
        self.refused = None
        if result.scripts.version == self.version:
            return ReloadOutcome("unchanged", self.version, tuple(result.problems))
        previous = self.version
        self.engine = engine_for(result.scripts, self.engine)
        self.loaded_at = self._clock()
        log.info("scripts reloaded: version %s replaces %s", self.version, previous)
        if self.kept is not None:
            self.kept.keep(result.scripts, self.dialogues_dir)
        return ReloadOutcome("reloaded", self.version, tuple(result.problems))

    async def watch(self, stop: asyncio.Event | None = None) -> None:
        """Reload whenever a script file under the dialogues folder changes, until `stop` is set."""
        async for changes in awatch(
            self.dialogues_dir,
            debounce=WATCH_DEBOUNCE_MS,
            stop_event=stop,
            watch_filter=lambda _change, path: path.endswith(WATCHED_SUFFIXES),
            recursive=True,
        ):
            log.info("%d script file(s) changed; reloading", len(changes))
            try:
                await self.reload()
            except Exception:
                # A bug in loading must not end live reload for the life of the process; it is logged.
                log.exception("reloading the scripts failed; still serving version %s", self.version)


def start_live(
    dialogues_dir: Path,
    catalogs: Catalogs,
    kept: KeptVersions,
    make_engine: Callable[[Scripts], Engine],
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> LiveScripts | LoadResult:
    """The live scripts at start: the folder's, or the last kept version while the folder is broken.

    Returns the folder's failed LoadResult only when no good version was ever kept (nothing to serve).
    """
    result = load_scripts(dialogues_dir, catalogs)
    if result.scripts is not None:
        kept.keep(result.scripts, dialogues_dir)
        live = LiveScripts(make_engine(result.scripts), dialogues_dir, catalogs, clock, kept)
        live.found_at_start = tuple(result.problems)
        return live
    fallback = kept.latest()
    last_good = load_scripts(fallback, catalogs).scripts if fallback is not None else None
    if last_good is None:
        return result
    live = LiveScripts(make_engine(last_good), dialogues_dir, catalogs, clock, kept)
    errors = tuple(result.errors)
    live.refused = Refusal(clock(), errors)
    live.found_at_start = tuple(result.problems)
    log.error(
        "the scripts in %s were refused at start; serving the last good version %s (kept in %s) "
        "until they are fixed. Problems:\n%s",
        dialogues_dir,
        live.version,
        fallback,
        "\n".join(str(p) for p in errors),
    )
    return live
