"""aiohttp as python-telegram-bot's HTTP transport, a drop-in for its default ``HTTPXRequest``."""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Final

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_LOGGER = logging.getLogger(__name__)
METHOD_NAME = re.compile(r"[A-Za-z]{1,64}")

# PTB's wording (HTTPXRequest), so code matching on it behaves the same with either transport.
POOL_TIMEOUT_MESSAGE: Final = (
    "Pool timeout: All connections in the connection pool are occupied. "
    "Request was *not* sent to Telegram. Consider adjusting the connection "
    "pool size or the pool timeout."
)


def api_method(url: str) -> str:
    """The Bot API method a request URL calls; "other" for anything else (a file download)."""
    # The token sits in the path before the method, so only the last segment may become a label.
    last = url.rsplit("?", 1)[0].rsplit("/", 1)[-1]
    return last if METHOD_NAME.fullmatch(last) else "other"


def api_outcome(status: int) -> str:
    """The outcome class of an HTTP status from the Bot API."""
    if 200 <= status < 300:
        return "ok"
    if status == 429:  # flood control: told apart from other 4xx, it is retried
        return "429"
    if 400 <= status < 600:
        return f"{status // 100}xx"
    return "other"


def _count_nothing(_method: str, _outcome: str) -> None:
    """The default: nobody counts the requests."""


class AiohttpRequest(BaseRequest):
    """``telegram.request.BaseRequest`` on aiohttp, keeping the contract of ``HTTPXRequest``."""

    # Timeouts mean what they mean for HTTPXRequest: connect bounds opening a connection,
    # read each wait for data, pool the wait for one of connection_pool_size connections.
    # aiohttp has no per-write timeout and starts its read timer only once the body is
    # sent, so for uploads the write timeout bounds the whole request instead (see
    # do_request).  Only http:// and https:// proxies: SOCKS would need aiohttp-socks.

    __slots__ = (
        "_connect_timeout",
        "_connection_pool_size",
        "_count",
        "_media_write_timeout",
        "_pool",
        "_pool_timeout",
        "_proxy",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        proxy: str | None = None,
        media_write_timeout: float | None = 20.0,
        *,
        count: Callable[[str, str], None] = _count_nothing,
    ) -> None:
        """Keep the settings; the session is created by ``initialize``, inside the event loop.

        `count` hears of every request: its Bot API method and how it ended (see `api_outcome`).
        """
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        if proxy is not None and not proxy.lower().startswith(("http://", "https://")):
            raise ValueError("AiohttpRequest supports only http:// and https:// proxies")
        self._connection_pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._count = count
        self._session: aiohttp.ClientSession | None = None
        self._pool: asyncio.Semaphore | None = None

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call passes none (``BaseRequest.read_timeout``)."""
        return self._read_timeout

    @property
    def connection_pool_size(self) -> int:
        """How many requests, and so connections, can be in flight at once."""
        return self._connection_pool_size

    @property
    def is_closed(self) -> bool:
        """True before ``initialize`` and after ``shutdown``."""
        return self._session is None or self._session.closed

    async def initialize(self) -> None:
        """Open the aiohttp session; nothing to do when it is open already."""
        if not self.is_closed:
            return
        # The semaphore is the pool, so that waiting for a connection can time out with
        # PTB's pool error; the connector's limit just matches it.
        self._pool = asyncio.Semaphore(self._connection_pool_size)
        connector = aiohttp.TCPConnector(limit=self._connection_pool_size)
        # Proxies from HTTPS_PROXY/NO_PROXY apply as they do for httpx, but are looked up once per
        # host (_env_proxy): aiohttp's trust_env re-reads ~/.netrc on every request, which cost a
        # tenth of the bot's CPU under load.
        self._session = aiohttp.ClientSession(connector=connector, trust_env=False)

    async def shutdown(self) -> None:
        """Close the session and its connections; nothing to do when closed already."""
        session = self._session
        if session is None or session.closed:
            _LOGGER.debug("This AiohttpRequest is already shut down. Returning.")
            return
        await session.close()
        self._session = None
        self._pool = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request and return (HTTP status, body); PTB interprets the status. Counted."""
        name = api_method(url)
        try:
            status, payload = await self._send(
                url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
            )
        except TimedOut:
            self._count(name, "timeout")
            raise
        except NetworkError:
            self._count(name, "network")
            raise
        self._count(name, api_outcome(status))
        return status, payload

    async def _send(
        self,
        url: str,
        method: str,
        request_data: RequestData | None,
        read_timeout: object,
        write_timeout: object,
        connect_timeout: object,
        pool_timeout: object,
    ) -> tuple[int, bytes]:
        session, pool = self._session, self._pool
        if session is None or pool is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")

        has_files = bool(request_data and request_data.multipart_data)
        read = _timeout(read_timeout, self._read_timeout)
        connect = _timeout(connect_timeout, self._connect_timeout)
        wait_for_pool = _timeout(pool_timeout, self._pool_timeout)
        write = _timeout(write_timeout, self._media_write_timeout if has_files else self._write_timeout)
        # A stalled upload would otherwise never end: aiohttp runs no timer while it writes
        # the body.  Text bodies fit in the socket buffer and need no such bound.
        total = None
        if has_files and connect is not None and write is not None and read is not None:
            total = connect + write + read

        try:
            async with asyncio.timeout(wait_for_pool):
                await pool.acquire()
        except TimeoutError as exc:
            raise TimedOut(message=POOL_TIMEOUT_MESSAGE) from exc
        try:
            timeout = aiohttp.ClientTimeout(
                total=total,
                connect=None,  # aiohttp's "connect" includes the pool wait, handled above
                sock_connect=connect,
                sock_read=read,
            )
            async with session.request(
                method,
                url,
                headers={"User-Agent": self.USER_AGENT},
                data=_body(request_data),
                timeout=timeout,
                proxy=self._proxy or _env_proxy(url),
                allow_redirects=False,
            ) as response:
                payload = await response.read()
                return response.status, payload
        except TimeoutError as exc:
            # aiohttp's ServerTimeoutError family subclasses TimeoutError.
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            # The class name tells apart errors whose message is empty.
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc
        finally:
            pool.release()


def _timeout(given: object, default: float | None) -> float | None:
    """The timeout a call gave, or `default` where it gave PTB's "not given" marker.

    The parameters are typed `object` (wider than PTB's own, so still an override) because the
    marker's type lives in a private PTB module; any value that is no number is that marker.
    """
    if given is None:
        return None
    if isinstance(given, int | float) and not isinstance(given, bool):
        return float(given)
    return default


def _body(request_data: RequestData | None) -> aiohttp.FormData | aiohttp.BytesPayload | None:
    """Multipart when there are files, else JSON.

    The Bot API takes JSON as well as forms; url-encoding long HTML texts and keyboards was a
    tenth of the bot's CPU under load, JSON encoding a fraction of it.
    """
    if request_data is None:
        return None
    files = request_data.multipart_data
    if not files:
        if not request_data.json_parameters:
            return None
        return aiohttp.BytesPayload(request_data.json_payload, content_type="application/json")
    fields = request_data.json_parameters
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in files.items():
        # aiohttp streams file objects but warns that large raw bytes may block the loop.
        stream = io.BytesIO(content) if isinstance(content, bytes) else content
        form.add_field(name, stream, filename=filename, content_type=mime_type)
    return form


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for this URL's scheme and host, if any."""
    parts = urllib.parse.urlsplit(url)
    return _env_proxy_for(parts.scheme, parts.hostname or "")


@functools.lru_cache(maxsize=64)
def _env_proxy_for(scheme: str, host: str) -> str | None:
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies_environment().get(scheme)
