"""What every webhook does before it reads a request: bounded bodies and a throttle on refusals.

A webhook is a door open to the internet. Telegram and WeChat sign or tag their requests, so a
request that fails the check is someone else's, and answering it costs little; but without a
limit a stranger can try secrets or fill the log as fast as the server answers (about 3,800
refusals a second were measured before this). Each source may be refused a few times in a
window; after that it gets 429 without being read at all, until the window has passed.

Bodies are read up to a limit whatever the request claims: a chunked request has no
Content-Length, so checking only that header would let any size through.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web

# Telegram's own updates are small (a photo is a list of file ids); a megabyte is generous.
MAX_UPDATE_BYTES = 1_000_000
# Refusals a source may collect in a window before it is shut out for the rest of the window.
REFUSALS_PER_WINDOW = 20
WINDOW_SECONDS = 60.0
# Sources remembered at once; the least recently refused are forgotten first.
MAX_SOURCES = 10_000


class TooLarge(Exception):
    """The body is over the limit; nothing of it is kept."""


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The request body, or `TooLarge` as soon as more than `limit` bytes have arrived."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge
    body = bytearray()
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            raise TooLarge


class RefusalThrottle:
    """Counts refused requests per source in fixed windows; says when a source is shut out.

    The source is the peer address (`request.remote`). Behind a reverse proxy every request
    comes from the proxy, so the proxy should throttle by client address itself (the README's
    nginx example does); this throttle then still bounds what reaches Jingtu.
    """

    def __init__(
        self,
        *,
        limit: int = REFUSALS_PER_WINDOW,
        window: float = WINDOW_SECONDS,
        max_sources: int = MAX_SOURCES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_sources = max_sources
        self.monotonic = monotonic
        self._refusals: OrderedDict[str, tuple[float, int]] = OrderedDict()

    @property
    def tracked(self) -> int:
        """How many sources are remembered (bounded by `max_sources`)."""
        return len(self._refusals)

    def retry_after(self, source: str) -> float | None:
        """Seconds until `source` may be heard again, or None when it may be heard now."""
        entry = self._refusals.get(source)
        if entry is None:
            return None
        started, count = entry
        left = started + self.window - self.monotonic()
        if left <= 0:
            del self._refusals[source]
            return None
        return left if count >= self.limit else None

    def refused(self, source: str) -> None:
        now = self.monotonic()
        started, count = self._refusals.pop(source, (now, 0))
        if now - started >= self.window:
            started, count = now, 0
        self._refusals[source] = (started, count + 1)
        while len(self._refusals) > self.max_sources:
            self._refusals.popitem(last=False)


def source_of(request: web.Request) -> str:
    return request.remote or "unknown"


def shut_out(retry_after: float) -> web.Response:
    return web.Response(
        status=429,
        text="too many refused requests",
        headers={"Retry-After": str(math.ceil(retry_after))},
    )
