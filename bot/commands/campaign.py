"""`python -m bot campaign list | show | schedule | unschedule | send-now | runs | cancel`.

Every refusal is one line on stderr starting with "error:", exit code 1, and nothing stored.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from datetime import datetime
from typing import Any, TextIO

from bot.commands.common import add_command, load_settings
from bot.config import Settings
from bot.delivery.broadcast import BroadcastEngine
from bot.delivery.outbox import Sender
from bot.domain.outreach import CampaignError
from bot.services import campaigns, people
from bot.services.grid import load_grid_index
from bot.services.outreach import OutreachService, Progress, ProgressLog, describe, format_duration
from bot.services.shared import telegram_send_budget
from bot.storage.db import Database
from bot.storage.models import utcnow


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _params(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CampaignError(f"--param {pair!r}: write it as key=value")
        out[key.strip()] = value.strip()
    return out


def _request(args: argparse.Namespace) -> campaigns.RunRequest:
    return campaigns.build_request(
        args.id,
        topic=args.topic,
        area=args.area,
        locale=args.locale,
        params=_params(args.param),
    )


def _run(work: Any) -> int:
    """Run `work(database, settings)`; CampaignError becomes the one-line refusal."""
    settings = load_settings()

    async def go() -> int:
        database = Database.from_url(settings.database_url)
        try:
            return int(await work(database, settings))
        finally:
            await database.dispose()

    try:
        return asyncio.run(go())
    except CampaignError as exc:
        return _fail(str(exc))


# --- list / show --------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> int:
        library = campaigns.load_library()
        print("campaigns:")
        for campaign in library.values():
            params = ", ".join(
                n + ("" if p.required else "?")
                for n, p in campaign.params.items()
                if not p.computed
            )
            print(
                f"  {campaign.id:<22} topic={campaign.topic:<9} {campaign.title['en']}"
                + (f"  [params: {params}]" if params else "")
            )
        schedules = await campaigns.list_schedules(database)
        print("schedules:" if schedules else "schedules: none")
        for s in schedules:
            when = s.cron or (s.run_at.astimezone(settings.tz).isoformat() if s.run_at else "")
            nxt = (
                s.next_fire_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
                if s.next_fire_at
                else "—"
            )
            print(
                f"  #{s.id} {s.campaign_id} [{when}] next {nxt} target {s.target} params {s.params}"
            )
        return 0

    return _run(work)


def _show(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> int:
        campaign = campaigns.get_campaign(args.id)
        print(
            f"{campaign.id}: topic {campaign.topic}, kind {campaign.kind}"
            + (", urgent" if campaign.urgent else "")
        )
        for name, spec in campaign.params.items():
            how = (
                "computed"
                if spec.computed
                else ("required" if spec.required else f"default {spec.default!r}")
            )
            print(f"  param {name} ({how}): {spec.description}")
        if campaign.photo:
            print(f"  photo {campaign.photo}")
        for locale, body in campaign.text.items():
            print(f"--- {locale}: {campaign.title[locale]}")
            print(body)
        return 0

    return _run(work)


# --- schedule -----------------------------------------------------------------------------------


def _parse_at(raw: str, settings: Settings) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise CampaignError(f"--at {raw!r}: write a local time like 2026-12-01T09:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.tz)
    return moment.astimezone(utcnow().tzinfo)


def _schedule(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> int:
        request = _request(args)
        run_at = _parse_at(args.at, settings) if args.at else None
        campaigns.first_fire_time(cron=args.cron, run_at=run_at, now=utcnow(), tz=settings.tz)
        async with database.transaction() as session:
            await campaigns.check_target(session, request.target)
            count = await campaigns.count_audience(
                session, request.target, default_locale=settings.default_locale
            )
            if count == 0 and not args.allow_empty:
                raise CampaignError(
                    f"nobody is subscribed to topic {request.target.topic} with that targeting "
                    "yet; nothing scheduled (add --allow-empty to schedule anyway)"
                )
            schedule = await campaigns.add_schedule(
                session, request, cron=args.cron, run_at=run_at, now=utcnow(), tz=settings.tz
            )
            assert schedule.next_fire_at is not None
            first = schedule.next_fire_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
            print(
                f"schedule #{schedule.id}: {request.campaign.id} to {count} subscribers now, "
                f"first at {first} ({settings.timezone})"
            )
        return 0

    return _run(work)


def _unschedule(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> int:
        await campaigns.unschedule(database, args.schedule_id)
        print(f"schedule #{args.schedule_id} stopped")
        return 0

    return _run(work)


# --- send-now -----------------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar for a terminal."""

    def __init__(self, out: TextIO, width: int = 30) -> None:
        self.out = out
        self.width = width

    def __call__(self, progress: Progress) -> None:
        total = max(progress.recipients, 1)
        filled = int(self.width * progress.done / total)
        bar = "#" * filled + "." * (self.width - filled)
        self.out.write(
            f"\r[{bar}] {100 * progress.done / total:5.1f}%  sent {progress.sent}  "
            f"failed {progress.failed}  blocked {progress.blocked}  "
            f"remaining {progress.remaining}  ETA {format_duration(progress.eta_seconds)} "
        )
        self.out.flush()


class ProgressLines(ProgressLog):
    def __init__(self, out: TextIO) -> None:
        super().__init__(every=10.0)
        self.out = out

    def __call__(self, progress: Progress) -> None:
        now = self.monotonic()
        if now - self._last < self.every and progress.remaining:
            return
        self._last = now
        print(f"run {progress.run_id}: {describe(progress)}", file=self.out, flush=True)


async def _senders(database: Database, settings: Settings) -> tuple[dict[str, Sender], Any]:
    if not settings.telegram_bot_token:
        return {}, None
    from bot.channels.telegram import TelegramChannel

    async def ignore(_: Any) -> None:
        return None

    # The bot's one budget: the running processes may be replying while this sends.
    channel = TelegramChannel(settings, ignore, budget=telegram_send_budget(database, settings))
    await channel.application.initialize()
    return {"telegram": channel.sender}, channel.application


def _send_now(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> int:
        request = _request(args)
        senders, application = await _senders(database, settings)
        try:
            grid = await load_grid_index(database)
            broadcasts = BroadcastEngine(
                database,
                senders,
                settings.broadcast_rate_per_second,
                on_blocked=people.unsubscribe_unreachable,
            )
            service = OutreachService(database, settings, broadcasts, grid=lambda: grid)
            run_id, count = await service.start_run(request)
            print(f"run {run_id}: {request.campaign.id} to {count} recipients")
            if not senders:
                print("no channel is configured here; the running Jingtu service sends it")
                return 0
            if not await service.lead():
                print("the running Jingtu service is sending broadcasts; it sends this run")
                return 0
            tty = sys.stderr.isatty()
            service.on_progress = ProgressBar(sys.stderr) if tty else ProgressLines(sys.stdout)
            try:
                result = await service.drain_run(run_id, max_retry_wait=math.inf)
            finally:
                await service.release()
            if tty:
                print(file=sys.stderr)
            if result.status == "held" and result.until is not None:
                local = result.until.astimezone(settings.tz).strftime("%H:%M")
                print(f"run {run_id} held by quiet hours until {local}; the service sends it then")
            elif result.progress is not None:
                print(f"run {run_id} {result.status}: {describe(result.progress)}")
            return 0
        finally:
            if application is not None:
                await application.shutdown()

    return _run(work)


# --- runs / cancel ------------------------------------------------------------------------------


def _runs(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> int:
        runs = await campaigns.list_runs(database, limit=args.limit)
        if not runs:
            print("no runs yet")
            return 0
        print(f"{'run':>5}  {'campaign':<22} {'status':<10} {'created':<16} stats")
        for run in runs:
            created = run.created_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
            stats = run.stats or {}
            shown = " ".join(
                f"{k}={stats[k]}"
                for k in (
                    "recipients",
                    "sent",
                    "failed",
                    "blocked",
                    "skipped",
                    "remaining",
                    "throttled",
                )
                if k in stats
            )
            print(f"{run.id:>5}  {run.campaign_id:<22} {run.status:<10} {created:<16} {shown}")
        return 0

    return _run(work)


def _cancel(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> int:
        stopped = await campaigns.cancel_run(database, args.run_id, now=utcnow())
        print(f"run {args.run_id} cancelled; {stopped} messages will not be sent")
        return 0

    return _run(work)


def _add_targeting(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="campaign id (see `campaign list`)")
    parser.add_argument("--topic", help="subscribers of this topic (default: the campaign's)")
    parser.add_argument("--area", metavar="CELL", help="only this grid cell and its subtree")
    parser.add_argument("--locale", help="only subscribers reading zh-Hans, bo or en")
    parser.add_argument(
        "--param", action="append", metavar="KEY=VALUE", help="a campaign parameter (repeatable)"
    )


def register(sub: Any) -> None:
    group = sub.add_parser("campaign", help="outreach campaigns and broadcasts")
    actions = group.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")
    add_command(actions, "list", _list, "the campaign library and active schedules")
    p = add_command(actions, "show", _show, "a campaign's texts and parameters")
    p.add_argument("id")
    p = add_command(actions, "schedule", _schedule, "send a campaign on a schedule")
    _add_targeting(p)
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help='five-field cron in local time, e.g. "0 9 * * MON"')
    when.add_argument("--at", help="once, at this local time, e.g. 2026-12-01T09:00")
    p.add_argument("--allow-empty", action="store_true", help="schedule even with no audience")
    p = add_command(actions, "unschedule", _unschedule, "stop a schedule")
    p.add_argument("schedule_id", type=int)
    p = add_command(actions, "send-now", _send_now, "send a campaign now, showing progress")
    _add_targeting(p)
    p = add_command(actions, "runs", _runs, "recent runs and their statistics")
    p.add_argument("--limit", type=int, default=30)
    p = add_command(actions, "cancel", _cancel, "stop a run that is still sending")
    p.add_argument("run_id", type=int)
