"""GET /healthz: is the database reachable, is the scheduler alive, how far behind is the outbox.

503 when the database does not answer (a load balancer or systemd watchdog should act on it);
200 otherwise, with the details for a person to read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from bot.services import ops
from bot.storage.db import Database


@dataclass(frozen=True)
class SweepRun:
    """The last deadline sweep this process ran: when it finished and how long it took."""

    finished_at: datetime
    seconds: float


@dataclass
class Health:
    database: Database
    clock: Callable[[], datetime]
    scheduler_alive: Callable[[], bool]
    last_sweep: Callable[[], SweepRun | None]
    details: Callable[[], dict[str, object]] = dict

    async def handle(self, request: web.Request) -> web.Response:
        now = self.clock()
        problem = await ops.database_reachable(self.database)
        body: dict[str, object] = {
            "ok": problem is None,
            "database": {"reachable": problem is None, **({"error": problem} if problem else {})},
            "scheduler": {"alive": self.scheduler_alive()},
        }
        if problem is None:
            lag = await ops.outbox_lag(self.database, now)
            body["outbox"] = {"depth": lag.depth, "lag_seconds": round(lag.lag_seconds, 3)}
        sweep = self.last_sweep()
        body["last_sweep"] = (
            None
            if sweep is None
            else {
                "finished_at": sweep.finished_at.isoformat(timespec="seconds"),
                "seconds": round(sweep.seconds, 3),
                "age_seconds": round((now - sweep.finished_at).total_seconds(), 1),
            }
        )
        body.update(self.details())
        return web.json_response(body, status=200 if problem is None else 503)
