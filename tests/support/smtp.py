"""A real SMTP server on loopback for tests (aiosmtpd), that records what it accepts."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

WAIT = 10.0  # seconds: the longest any test waits for the server


class Recorder:
    """An aiosmtpd handler that keeps what it accepts, or refuses recipients with a set reply."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.refusal: str | None = None
        self.delay = 0.0
        self._lock = threading.Lock()

    async def handle_RCPT(  # noqa: N802 - the name aiosmtpd calls
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        """Accept the recipient unless told to refuse."""
        if self.refusal is not None:
            return self.refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        """Keep the message (after an optional delay, so concurrent senders overlap)."""
        await asyncio.sleep(self.delay)
        with self._lock:
            self.messages.append(envelope.original_content)
        return "250 Message accepted for delivery"

    def parsed(self) -> list[EmailMessage]:
        """The accepted messages, parsed as a mail client would."""
        with self._lock:
            raw = list(self.messages)
        return [email.message_from_bytes(m, policy=email.policy.default) for m in raw]


class SmtpServer:
    """A real SMTP server on a loopback port that can be stopped and started again on that port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.recorder = Recorder()
        self._controller: Controller | None = None

    def start(self) -> None:
        """Listen (returns once the server answers)."""
        self._controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, ready_timeout=WAIT)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening; connections are then refused."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
