"""The engine's buttons as tests read them."""

from __future__ import annotations

from bot.engine.model import CallbackButton, Reply


def callback_data(reply: Reply) -> list[str]:
    """What each callback button of the reply sends back, in order (link buttons send nothing)."""
    return [b.data for row in reply.keyboard for b in row if isinstance(b, CallbackButton)]
