"""python-telegram-bot's Application without its per-chat memory growth when there is no persistence.

After every update PTB adds the chat's id and the user's id to two sets of ids "to be updated in
persistence"; only a persistence run empties them. This bot has no PTB persistence (state lives
in its own database), so those sets would grow by every chat and user that ever wrote, for as long
as the process runs: memory that grows without bound, holding raw Telegram ids. The soak benchmark
(tests/bench/bench_soak.py) showed it; this subclass marks nothing when there is no persistence.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, Job


class StatelessApplication(Application[Any, Any, Any, Any, Any, Any]):
    """An Application that remembers no chat or user ids for a persistence it does not have."""

    __slots__ = ()

    def _mark_for_persistence_update(
        self, *, update: object | None = None, job: Job[Any] | None = None
    ) -> None:
        """Only with a persistence configured: otherwise nothing would ever empty the marks."""
        if self.persistence is not None:
            super()._mark_for_persistence_update(update=update, job=job)
