"""Waiting until the app has handled N inbound events: an observer given to the app by tests."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.app import Jingtu


class HandledCounter:
    """Counts events the conversation service has handled (replies sent); tests wait on it."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    def __call__(self, _inbound: Any, _outcome: Any) -> None:
        self.count += 1
        self._changed.set()

    async def wait(self, count: int, timeout: float = 10.0) -> None:
        """Until at least `count` events have been handled since the app started."""

        async def reached() -> None:
            while self.count < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(reached(), timeout)


def handled(app: Jingtu) -> HandledCounter:
    counter = app.on_handled
    assert isinstance(counter, HandledCounter), "build the app with on_handled=HandledCounter()"
    return counter
