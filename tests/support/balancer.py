"""A load balancer for tests: Telegram's webhook in front of several bot replicas.

Round robin, skipping replicas that refuse connections (as nginx's proxy_next_upstream does for
connection errors); a request that fails once it reached a replica is answered 502, so Telegram
(the fake Bot API) redelivers it. It can also repeat a delivery to a second replica at the same
time, as happens when Telegram retries an update a slow replica is still answering.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

FORWARDED_HEADERS = ("X-Telegram-Bot-Api-Secret-Token", "Content-Type")


@dataclass
class Forwarded:
    """One request passed to a replica, and how it ended."""

    update_id: int
    replica: int
    status: int | None  # None: the connection failed


@dataclass
class Balancer:
    """Forwards POSTs on `path` to the replicas' ports."""

    path: str
    replicas: list[int] = field(default_factory=list)
    """The replicas' ports; set when they are known (the webhook URL must exist before they start)."""
    repeat: Callable[[int], bool] = lambda _update_id: False
    """Whether to send this update to two replicas at once."""
    log: list[Forwarded] = field(default_factory=list)
    """Every forwarded request once it ended."""
    started: list[tuple[int, int]] = field(default_factory=list)
    """(update id, replica port) of every request as it was passed on."""
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    port: int = 0

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(self.path, self._forward)
        app.router.add_get("/healthz", self._healthz)
        self._session = aiohttp.ClientSession()
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Close the listener and the client session."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    @property
    def url(self) -> str:
        """The webhook URL to give Telegram."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def handled_by(self, update_id: int) -> list[int]:
        """Which replicas answered this update with 200."""
        return [f.replica for f in self.log if f.update_id == update_id and f.status == 200]

    async def _healthz(self, _request: web.Request) -> web.Response:
        """Up once it has replicas to send to."""
        return web.Response(status=200 if self.replicas else 503)

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        update_id = int(json.loads(body)["update_id"])
        headers = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
        if not self.replicas:
            return web.Response(status=503, text="no replicas yet")
        if self.repeat(update_id) and len(self.replicas) > 1:
            first, second = self._next(), self._next()
            results = await asyncio.gather(
                self._send(first, update_id, body, headers), self._send(second, update_id, body, headers)
            )
            ok = [status for status, _ in results if status is not None and status < 300]
            return web.Response(status=200 if ok else 502)
        for _ in range(len(self.replicas)):
            status, refused = await self._send(self._next(), update_id, body, headers)
            if status is not None:
                return web.Response(status=status)
            if not refused:
                break  # it reached a replica that died on it: Telegram must redeliver
        return web.Response(status=502, text="bad gateway")

    def _next(self) -> int:
        return self.replicas[next(self._turn) % len(self.replicas)]

    async def _send(
        self, port: int, update_id: int, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, bool]:
        """The replica's status (None: no answer) and whether the connection was refused."""
        assert self._session is not None
        refused = False
        self.started.append((update_id, port))
        try:
            async with self._session.post(
                f"http://127.0.0.1:{port}{self.path}",
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=30),
            ) as response:
                await response.read()
                status: int | None = response.status
        except aiohttp.ClientConnectorError:
            refused, status = True, None
        except (aiohttp.ClientError, TimeoutError):
            status = None
        self.log.append(Forwarded(update_id, port, status))
        return status, refused
