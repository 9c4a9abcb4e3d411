"""Work for many chats at once, each chat's work strictly in the order it arrived.

A person's dialog must see their messages in order, but one slow chat must not hold up the
others. Each job waits for the job submitted before it for the same chat (a chain, not a lock:
ordering never depends on how a semaphore or lock wakes its waiters), and a semaphore bounds how
many run at once. When too many jobs are waiting, `submit` itself waits, so a platform's update
fetcher slows down instead of queueing without limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class ChatLanes:
    def __init__(self, *, concurrency: int = 64, max_pending: int = 1024) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._tails: dict[Hashable, asyncio.Task[None]] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._room.set()
        self.max_pending = max_pending

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def submit(self, key: Hashable, job: Job) -> asyncio.Task[None]:
        """Queue `job` behind the earlier jobs of `key`; returns once it is queued, with the
        task that runs it (awaiting that task waits for the job, and never raises its error)."""
        while len(self._pending) >= self.max_pending:
            self._room.clear()
            await self._room.wait()
        previous = self._tails.get(key)
        task = asyncio.create_task(self._run(key, previous, job))
        self._tails[key] = task
        self._pending.add(task)
        task.add_done_callback(self._finished)
        return task

    async def _run(self, key: Hashable, previous: asyncio.Task[None] | None, job: Job) -> None:
        try:
            if previous is not None:
                await asyncio.wait({previous})  # order only: its outcome is not ours
            async with self._slots:
                await job()
        except Exception:
            log.exception("work for chat %s failed", key)
        finally:
            if self._tails.get(key) is asyncio.current_task():
                del self._tails[key]  # keep the table as small as the set of busy chats

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if len(self._pending) < self.max_pending:
            self._room.set()

    async def drain(self) -> None:
        """Wait until every queued job has run (for a clean stop)."""
        while self._pending:
            await asyncio.wait(set(self._pending))
