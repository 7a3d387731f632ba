"""Did the update whose webhook request is open get answered? (503 makes Telegram redeliver it.)"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Delivery:
    """The outcome of handling one webhook delivery; error handlers mark failures here."""

    error: BaseException | None = None


# Set by the webhook handler for the update it is processing; PTB's handlers and error handler run
# in its task (or in tasks copied from its context), so they all see the same Delivery object.
current_delivery: ContextVar[Delivery | None] = ContextVar("current_delivery", default=None)
