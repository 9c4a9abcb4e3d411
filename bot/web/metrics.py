"""GET /metrics, in the Prometheus text format, from a registry the app builds (none at import).

Two kinds of figures:
- what only this process sees, kept by the code where it happens: inbound updates per channel
  (the conversation service's handled-observer), the deadline sweep's duration and escalations;
- what the database knows, read at each scrape (`bot.services.ops.snapshot`): cases by state,
  reports, escalated open cases, the outbox's depth and lag, deliveries by outcome, broadcast
  progress. Read rather than counted in memory, because several processes share one database
  and a restart must not reset them; each is one grouped query an index answers, and
  Prometheus scrapes every 15 s or so, not per message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from bot.services import ops
from bot.services.inbound import Inbound, Outcome
from bot.storage.db import Database

log = logging.getLogger(__name__)


class _DatabaseFigures(Collector):
    """Yields the figures of the snapshot the scrape has just read."""

    def __init__(self) -> None:
        self.latest: ops.Snapshot | None = None
        self.up = False

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "jingtu_database_up", "1 when the last scrape could read the database"
        )
        up.add_metric([], 1.0 if self.up else 0.0)
        yield up
        snap = self.latest
        if snap is None or not self.up:
            return
        cases = GaugeMetricFamily("jingtu_cases", "Cases by state", labels=["status"])
        for status, count in sorted(snap.cases_by_status.items()):
            cases.add_metric([status], count)
        yield cases
        reports = CounterMetricFamily(
            "jingtu_reports", "Reports received (one that joined an open case counts too)"
        )
        reports.add_metric([], snap.reports)
        yield reports
        escalated = GaugeMetricFamily(
            "jingtu_escalated_open_cases",
            "Open cases escalated above their first cell, by escalation level",
            labels=["level"],
        )
        for level, count in sorted(snap.escalated_open_by_level.items()):
            escalated.add_metric([str(level)], count)
        yield escalated
        outbox = GaugeMetricFamily(
            "jingtu_outbox_messages",
            "Outbox rows by status (sent and dead: outcomes)",
            labels=["status"],
        )
        for status, count in sorted(snap.outbox_by_status.items()):
            outbox.add_metric([status], count)
        yield outbox
        depth = GaugeMetricFamily("jingtu_outbox_depth", "Messages waiting to be sent")
        depth.add_metric([], snap.outbox.depth)
        yield depth
        lag = GaugeMetricFamily(
            "jingtu_outbox_lag_seconds", "How long the oldest unsent message has waited"
        )
        lag.add_metric([], snap.outbox.lag_seconds)
        yield lag
        deliveries = GaugeMetricFamily(
            "jingtu_broadcast_deliveries", "Broadcast deliveries by outcome", labels=["status"]
        )
        for status, count in sorted(snap.deliveries_by_status.items()):
            deliveries.add_metric([status], count)
        yield deliveries
        progress = GaugeMetricFamily(
            "jingtu_broadcast_run_deliveries",
            "Deliveries of each running broadcast, by status",
            labels=["run", "campaign", "status"],
        )
        for run in snap.running_broadcasts:
            for status, count in sorted(run.by_status.items()):
                progress.add_metric([str(run.run_id), run.campaign_id, status], count)
        yield progress


class Metrics:
    """One process's Prometheus registry."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime]) -> None:
        self.database = database
        self.clock = clock
        self.registry = CollectorRegistry()
        self.inbound = Counter(
            "jingtu_inbound_updates",
            "Inbound updates this process handled, by channel (redeliveries not counted)",
            ["channel"],
            registry=self.registry,
        )
        self.sweep_duration = Histogram(
            "jingtu_sweep_duration_seconds",
            "Duration of the deadline sweep",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.sweep_escalations = Counter(
            "jingtu_sweep_escalations",
            "Cases the deadline sweep escalated to the next level",
            registry=self.registry,
        )
        self._figures = _DatabaseFigures()
        self.registry.register(self._figures)

    def handled(self, inbound: Inbound, outcome: Outcome) -> None:
        if not outcome.duplicate:
            self.inbound.labels(inbound.channel).inc()

    def swept(self, seconds: float, escalated: int) -> None:
        self.sweep_duration.observe(seconds)
        self.sweep_escalations.inc(escalated)

    async def exposition(self) -> bytes:
        try:
            self._figures.latest = await ops.snapshot(self.database, self.clock())
            self._figures.up = True
        except Exception as exc:  # the scrape still answers, with jingtu_database_up 0
            log.warning("metrics: could not read the database: %s", type(exc).__name__)
            self._figures.up = False
        return generate_latest(self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        body = await self.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/metrics", self.handle)
