"""python-telegram-bot's HTTP requests made with aiohttp's client instead of httpx.

PTB lets an application supply its own `BaseRequest`; PTB still builds every request (the method,
its parameters, uploads) and parses every answer, so only the wire work changes. aiohttp is
already Jingtu's web server and WeChat client, and its client costs much less CPU per request
than httpx's stack (httpx → httpcore → anyio): measured by bench/ingest.py, a Bot API call
through it takes about half the CPU time, which is most of what a dialog step costs.

Errors map to PTB's own: a timeout (connecting, waiting for a pooled connection, or reading) is
`TimedOut`, any other transport failure `NetworkError`, so PTB's callers and Jingtu's outbox
treat them exactly as with the default transport.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_DEFAULT_TIMEOUT = 5.0  # seconds, PTB's own default for connect, read, write and pool
_MEDIA_WRITE_TIMEOUT = 20.0  # PTB's default write timeout for uploads


# Awaited before each request with the Bot API method's name ("sendMessage", "getUpdates" …).
BeforeRequest = Callable[[str], Awaitable[None]]


class AiohttpRequest(BaseRequest):
    """One aiohttp `ClientSession` with a pool of `connections` keep-alive connections.

    `before_request`, if given, is awaited before each request with the method's name: the
    channel uses it to wait for a slot of a shared send budget, or, on the getUpdates connection,
    until every update fetched so far is stored.
    """

    def __init__(
        self,
        *,
        connections: int = 8,
        connect_timeout: float | None = _DEFAULT_TIMEOUT,
        read_timeout: float | None = _DEFAULT_TIMEOUT,
        write_timeout: float | None = _DEFAULT_TIMEOUT,
        pool_timeout: float | None = 1.0,
        proxy: str | None = None,
        before_request: BeforeRequest | None = None,
    ) -> None:
        self.connections = connections
        self.before_request = before_request
        self._turns = asyncio.Semaphore(connections)  # one per pooled connection
        self.proxy = proxy or None
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.connections, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                # No cookies: the Bot API sets none, and a cookie jar is work on every answer.
                cookie_jar=aiohttp.DummyCookieJar(),
                # The proxy is decided once (`environment_proxy`): aiohttp's trust_env would
                # re-read the environment and ~/.netrc on every request, at a CPU cost
                # comparable to the request itself.
                trust_env=False,
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        pool = self._given(pool_timeout, self._pool_timeout)
        # A request waits for a connection of its own first, and only then for its slot of the
        # send budget: a slot taken while the pool was busy would be spent later, bunched with
        # the slots after it, and the platform would see more than the rate in one second.
        try:
            async with asyncio.timeout(pool):
                await self._turns.acquire()
        except TimeoutError as exc:
            raise TimedOut("no connection to the Bot API came free in time") from exc
        try:
            if self.before_request is not None:
                await self.before_request(url.rpartition("/")[2])
            return await self._request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout
            )
        finally:
            self._turns.release()

    async def _request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None,
        read_timeout: Any,
        write_timeout: Any,
        connect_timeout: Any,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else {}
        read = self._given(read_timeout, self._read_timeout)
        write = self._given(
            write_timeout, self._write_timeout if not files else _MEDIA_WRITE_TIMEOUT
        )
        connect = self._given(connect_timeout, self._connect_timeout)
        # A connection is ours already (`_turns`): aiohttp's `connect` covers opening one; a
        # request body is written while the answer is awaited, so `sock_read` bounds both.
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=connect,
            sock_connect=connect,
            sock_read=_longest(read, write),
        )
        body: Any
        if files:
            form = aiohttp.FormData()
            for name, value in fields.items():
                form.add_field(name, value)
            for name, (filename, content, mimetype) in files.items():
                form.add_field(name, content, filename=filename, content_type=mimetype)
            body = form
        else:
            body = fields or None  # urlencoded, as PTB's default transport sends it; none: no body
        try:
            async with session.request(
                method, url, data=body, timeout=timeout, proxy=self.proxy
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _given(value: Any, default: float | None) -> float | None:
        return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


def _longest(*timeouts: float | None) -> float | None:
    if any(t is None for t in timeouts):
        return None
    return max(t for t in timeouts if t is not None)


def environment_proxy(url: str) -> str | None:
    """The proxy the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) names for `url`, if any."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme) or None
