"""The operator's view of the desk: `cases`, `invite` and `stats`, the same queries as the dashboard.

`cases list [--status --cell --overdue --since] | show N | export --csv FILE`,
`invite list | revoke CODE`, `stats [--since --until] [--json]`. The operator at the server sees
the whole grid, as an admin does on the dashboard.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.commands.common import add_command, with_database
from bot.config import Settings
from bot.services import desk, statistics
from bot.services.desk import OPERATOR, CaseFilter, FilterRefused
from bot.services.grid import load_grid_index
from bot.storage.db import Database
from bot.storage.models import CasePhoto, utcnow


def _filter(args: argparse.Namespace) -> CaseFilter:
    return CaseFilter(
        status=args.status or None,
        category=getattr(args, "category", None) or None,
        cell=args.cell or None,
        overdue=bool(args.overdue),
        since=desk.parse_date(args.since or "", "--since"),
        until=desk.parse_date(getattr(args, "until", "") or "", "--until"),
        text=getattr(args, "text", "") or "",
    )


def _refused(message: str) -> int:
    print(f"refused: {message}", file=sys.stderr)
    return 2


def _local(moment: datetime | None, tz: str) -> str:
    from bot.services.notices import local_time

    return local_time(moment, tz)


def _list(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> tuple[desk.CasePage, str]:
        grid = await load_grid_index(database)
        flt = desk.check_filter(grid, _filter(args))
        async with database.reader() as session:
            page = await desk.list_cases(
                session,
                grid,
                OPERATOR,
                flt,
                now=utcnow(),
                tz=settings.timezone,
                page=args.page,
                per_page=args.limit,
            )
        return page, settings.timezone

    try:
        page, tz = with_database(work)
    except FilterRefused as exc:
        return _refused(str(exc))
    if args.json:
        print(
            json.dumps(
                {
                    "total": page.total,
                    "page": page.page,
                    "pages": page.pages,
                    "cases": [
                        {
                            "number": r.number,
                            "status": r.status,
                            "overdue": r.overdue,
                            "category": r.category,
                            "cell": r.cell_code,
                            "created_at": r.created_at.isoformat(),
                            "reporters": r.reporter_count,
                        }
                        for r in page.rows
                    ],
                },
                ensure_ascii=False,
            )
        )
        return 0
    print(f"{page.total} cases (page {page.page} of {page.pages})")
    for r in page.rows:
        mark = "⏰" if r.overdue else " "
        print(
            f"{mark} {r.number:<12} {_local(r.created_at, tz)}  {r.status:<12} "
            f"{r.category:<18} {r.cell_code}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> tuple[Any, Any, str]:
        grid = await load_grid_index(database)
        async with database.reader() as session:
            return (
                await desk.case_detail(session, grid, OPERATOR, args.number),
                grid,
                settings.timezone,
            )

    detail, grid, tz = with_database(work)
    if detail is None:
        print(f"no case {args.number}: check the number (like 2026-00042)", file=sys.stderr)
        return 1
    c = detail.case
    if args.json:
        print(
            json.dumps(
                {
                    "number": c.number,
                    "status": c.status,
                    "category": c.category,
                    "urgent": c.urgent,
                    "cell": c.cell_code,
                    "escalation_level": c.escalation_level,
                    "lat": c.lat,
                    "lon": c.lon,
                    "description": c.description,
                    "reporters": c.reporter_count,
                    "created_at": c.created_at.isoformat(),
                    "timeline": [
                        {
                            "at": e.at.isoformat(),
                            "kind": e.kind,
                            "actor": e.actor_kind,
                            "by": e.actor_name,
                            "to_status": e.to_status,
                            "to_cell": e.to_cell,
                            "note": e.note,
                        }
                        for e in detail.timeline
                    ],
                    "photos": [
                        {
                            "id": p.id,
                            "kind": p.kind,
                            "channel": p.channel,
                            "received_at": p.created_at.isoformat(),
                            "status": p.fetch_status,
                            "attempts": p.fetch_attempts,
                            "error": p.fetch_error,
                            "mime_type": detail.media_types.get(p.sha256 or ""),
                        }
                        for p in detail.photos
                    ],
                },
                ensure_ascii=False,
            )
        )
        return 0
    ref = grid.cells.get(c.cell_code)
    print(f"case {c.number}: {c.status}, {c.category}{' (urgent)' if c.urgent else ''}")
    print(
        f"  cell {c.cell_code} {ref.names.zh if ref else ''}, escalation level {c.escalation_level}"
    )
    print(f"  at {c.lat:.5f}, {c.lon:.5f}; {c.reporter_count} reporter(s), identities withheld")
    print(f"  {c.description}")
    for e in detail.timeline:
        who = f"{e.actor_kind} {e.actor_name}".strip()
        moved = f" → {e.to_status}" if e.to_status else ""
        cell = f" [{e.to_cell}]" if e.to_cell and e.to_cell != e.from_cell else ""
        note = f": {e.note}" if e.note else ""
        print(f"  {_local(e.at, tz)}  {e.kind}{moved}{cell} ({who}){note}")
    if detail.photos:
        print("photos and recordings:")
    for p in detail.photos:
        print(
            f"  #{p.id} {p.kind} via {p.channel}, {_local(p.created_at, tz)}: {_fetched(p, detail)}"
        )
    return 0


def _fetched(photo: CasePhoto, detail: desk.CaseDetail) -> str:
    """Where the fetch of a photo or recording stands, as the desk's case page shows it."""
    if photo.fetch_status == "stored":
        return f"stored ({detail.media_types.get(photo.sha256 or '', 'type unknown')})"
    tries = f"{photo.fetch_attempts} attempt{'' if photo.fetch_attempts == 1 else 's'}"
    if photo.fetch_status == "pending":
        last = f"; last error: {photo.fetch_error}" if photo.fetch_error else ""
        return f"pending, {tries} so far{last}"
    return f"{photo.fetch_status} after {tries}: {photo.fetch_error or 'no reason recorded'}"


def _export(args: argparse.Namespace) -> int:
    target = Path(args.csv)
    if target.parent and not target.parent.exists():
        return _refused(f"{target.parent}: no such folder")

    async def work(database: Database, settings: Settings) -> tuple[int, str]:
        grid = await load_grid_index(database)
        flt = desk.check_filter(grid, _filter(args))
        async with database.reader() as session:
            rows = await desk.all_cases(
                session, grid, OPERATOR, flt, now=utcnow(), tz=settings.timezone
            )
        return len(rows), desk.cases_csv(rows, grid, tz=settings.timezone)

    try:
        count, text = with_database(work)
    except FilterRefused as exc:
        return _refused(str(exc))
    target.write_text(text, encoding="utf-8")
    print(f"wrote {count} cases to {target} (UTF-8 with BOM, opens in Excel)")
    return 0


def _invite_list(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> list[desk.InviteRow]:
        grid = await load_grid_index(database)
        async with database.reader() as session:
            return await desk.list_invites(session, grid, OPERATOR, now=utcnow())

    rows = with_database(work)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "cell": r.cell_code,
                        "name": r.name,
                        "state": r.state,
                        "created_at": r.created_at.isoformat(),
                        "expires_at": r.expires_at.isoformat(),
                    }
                    for r in rows
                ],
                ensure_ascii=False,
            )
        )
        return 0
    if not rows:
        print("no invites: python -m bot supervisors invite --cell CODE")
    for r in rows:
        print(f"#{r.id:<5} {r.cell_code:<14} {r.state:<8} expires {r.expires_at:%Y-%m-%d} {r.name}")
    return 0


def _invite_revoke(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> desk.InviteRow:
        grid = await load_grid_index(database)
        return await desk.revoke_invite(
            database, code=args.code, staff=None, grid=grid, now=utcnow()
        )

    try:
        row = with_database(work)
    except desk.NotFound as exc:
        print(f"refused, nothing was changed: {exc}", file=sys.stderr)
        return 1
    print(f"invite #{row.id} for {row.cell_code} revoked: the code no longer binds anyone")
    return 0


def _stats(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> statistics.Statistics:
        grid = await load_grid_index(database)
        today = utcnow().astimezone(ZoneInfo(settings.timezone)).date()
        since, until = statistics.default_period(today)
        since = desk.parse_date(args.since or "", "--since") or since
        until = desk.parse_date(args.until or "", "--until") or until
        if since > until:
            raise FilterRefused("desk-bad-range", "--since is after --until")
        async with database.reader() as session:
            return await statistics.statistics(
                session, grid, OPERATOR, since=since, until=until, tz=settings.timezone
            )

    try:
        stats = with_database(work)
    except FilterRefused as exc:
        return _refused(str(exc))
    if args.json:
        print(json.dumps(stats.as_json(), ensure_ascii=False))
        return 0
    t = stats.total
    print(f"{stats.since} to {stats.until}")
    print(f"  cases received {t.received}, closed {t.closed}, escalations {t.escalations}")
    print(
        f"  acknowledged {t.acknowledged} ({t.acknowledged_in_time} in time), "
        f"resolved {t.resolved} ({t.resolved_in_time} in time)"
    )
    print(
        f"  median hours to acknowledge {t.median_ack_hours}, to resolve {t.median_resolve_hours}"
    )
    print(f"  follow-up: fixed {t.fixed}, not fixed {t.not_fixed}, silent {t.silent}")
    print(f"  messages sent {stats.messages_sent}")
    for c in stats.campaigns:
        print(
            f"  campaign {c.campaign_id}: {c.runs} runs, {c.recipients} recipients, "
            f"{c.delivered} delivered, {c.failed} failed"
        )
    return 0


def _filter_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", help="a case status (new, assigned, …) or 'open'")
    p.add_argument("--cell", help="only cases in the subtree of this cell code")
    p.add_argument("--overdue", action="store_true", help="only open cases past a deadline")
    p.add_argument("--since", help="received on or after this date (YYYY-MM-DD)")
    p.add_argument("--until", help="received on or before this date (YYYY-MM-DD)")
    p.add_argument("--category", help="a category code, e.g. water-river")
    p.add_argument("--text", help="words in the description or the number")


def register_cases(sub: Any) -> None:
    group = sub.add_parser("cases", help="list, show and export cases", description="cases")
    actions = group.add_subparsers(dest="cases_command", required=True, metavar="ACTION")
    p = add_command(actions, "list", _list, "list cases, newest first")
    _filter_arguments(p)
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--limit", type=int, default=desk.PAGE_SIZE, help="cases per page")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add_command(
        actions,
        "show",
        _show,
        "one case, its timeline and its photos' fetch status (reporters stay anonymous)",
    )
    p.add_argument("number", help="the case number, e.g. 2026-00042")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add_command(actions, "export", _export, "write the cases as CSV (UTF-8 with BOM)")
    p.add_argument("--csv", required=True, metavar="FILE")
    _filter_arguments(p)


def register_invite(sub: Any) -> None:
    group = sub.add_parser("invite", help="supervisor invitation codes", description="invites")
    actions = group.add_subparsers(dest="invite_command", required=True, metavar="ACTION")
    p = add_command(actions, "list", _invite_list, "list invites: pending, used, expired, revoked")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add_command(actions, "revoke", _invite_revoke, "revoke a pending invite by its code")
    p.add_argument("code")


def register_stats(sub: Any) -> None:
    p = add_command(sub, "stats", _stats, "the bureau's figures over a period (default 30 days)")
    p.add_argument("--since", help="first day, YYYY-MM-DD")
    p.add_argument("--until", help="last day, YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="machine-readable output")
