"""APScheduler 3: the periodic jobs (deadline sweeps, campaign firing, outbox retries).

Durable timers are columns swept on a schedule, never one in-memory job per case; each job
function is idempotent and safe to run in several processes (they claim rows with
FOR UPDATE SKIP LOCKED or hold a leader lease), so the scheduler itself needs no job store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    run: Callable[[], Awaitable[object]]
    interval_seconds: float
    # The process role that runs it (`python -m bot run --role`): "scheduler" jobs run in the
    # scheduler processes, and only the one holding the scheduler lease does their work.
    role: str = "scheduler"


def build_scheduler(
    jobs: list[PeriodicJob], *, timezone: str, running: set[asyncio.Task[None]] | None = None
) -> AsyncIOScheduler:
    """A scheduler for `jobs`; each run in progress is in `running`, so that a stopping process
    can let the runs finish (APScheduler's `shutdown(wait=False)` leaves them to the event loop,
    which would cancel them mid-transaction at exit)."""
    scheduler = AsyncIOScheduler(timezone=timezone)
    for job in jobs:
        scheduler.add_job(
            _logged(job, running if running is not None else set()),
            "interval",
            seconds=job.interval_seconds,
            id=job.name,
            name=job.name,
            max_instances=1,  # a slow sweep is never overlapped by the next
            coalesce=True,  # after a pause, run once, not once per missed interval
            misfire_grace_time=None,
        )
    return scheduler


def _logged(job: PeriodicJob, running: set[asyncio.Task[None]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        task = asyncio.current_task()
        if task is not None:
            running.add(task)
        try:
            await job.run()
        except Exception:
            log.exception("periodic job %s failed; it runs again at the next interval", job.name)
        finally:
            if task is not None:
                running.discard(task)

    return run
