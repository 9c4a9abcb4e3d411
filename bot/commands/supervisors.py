"""`python -m bot supervisors import FILE.csv | invite --cell CODE | list [--cell] | remove ID`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.commands.common import add_command, read_text_file, report_refusal, with_database
from bot.config import Settings
from bot.services import grid as grid_service
from bot.services import invites, notices
from bot.services.grid import ImportRefused
from bot.storage.db import Database
from bot.storage.models import utcnow


def _import(args: argparse.Namespace) -> int:
    try:
        text = read_text_file(args.file, limit_bytes=64 * 1024 * 1024)

        async def work(database: Database, settings: Settings) -> grid_service.RosterSummary:
            return await grid_service.import_roster(database, text)

        summary = with_database(work)
    except ImportRefused as exc:
        return report_refusal(exc, f"roster import of {args.file}")
    print(
        f"imported {args.file}: {summary.cells} cells, {summary.supervisors} new supervisors, "
        f"{summary.assignments} new assignments"
    )
    return 0


def _invite(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> tuple[invites.CreatedInvite, str]:
        created = await invites.create_invite(
            database,
            cell_code=args.cell,
            name=args.name,
            now=utcnow(),
            ttl_days=settings.invite_ttl_days,
        )
        return created, settings.timezone

    try:
        created, timezone = with_database(work)
    except invites.InviteRefused as exc:
        print(f"invite refused, nothing was stored: {exc}", file=sys.stderr)
        return 1
    # In the bureau's time zone, as every time a person reads (JINGTU_TIMEZONE).
    expires = f"{notices.local_time(created.expires_at, timezone)} ({timezone})"
    print(
        f"invite for {created.cell_code} ({created.cell_name}), single use, valid until {expires}:"
    )
    print(created.code)
    print(f"The supervisor sends the bot: /join {created.code}  (or /start {created.code})")
    return 0


def _list(args: argparse.Namespace) -> int:
    from bot.services import desk
    from bot.services.grid import load_grid_index

    async def work(database: Database, settings: Settings) -> list[desk.RosterEntry] | None:
        grid = await load_grid_index(database)
        if args.cell and args.cell not in grid.cells:
            return None
        async with database.reader() as session:
            return await desk.roster(session, grid, desk.OPERATOR, cell=args.cell)

    rows = with_database(work)
    if rows is None:
        print(
            f"no grid cell {args.cell!r}: find codes with `python -m bot route LAT LON`",
            file=sys.stderr,
        )
        return 2
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": r.supervisor_id,
                        "name": r.name,
                        "cell": r.cell_code,
                        "source": r.source,
                        "channels": r.channels,
                        "reachable": r.reachable,
                    }
                    for r in rows
                ],
                ensure_ascii=False,
            )
        )
        return 0
    for r in rows:
        reach = ",".join(r.channels) if r.reachable else "UNREACHABLE"
        print(f"#{r.supervisor_id:<6} {r.cell_code:<14} {r.name:<16} {r.source:<7} {reach}")
    print(f"{len(rows)} assignments")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from bot.services import desk
    from bot.services.grid import load_grid_index

    async def work(database: Database, settings: Settings) -> str:
        grid = await load_grid_index(database)
        return await desk.remove_supervisor(database, args.id, staff=None, grid=grid, now=utcnow())

    try:
        name = with_database(work)
    except desk.NotFound as exc:
        print(f"refused, nothing was changed: {exc} (see `supervisors list`)", file=sys.stderr)
        return 1
    print(f"supervisor #{args.id} ({name}) removed with all their cells")
    return 0


def register(sub: Any) -> None:
    sup = sub.add_parser("supervisors", help="grid supervisors")
    sup_sub = sup.add_subparsers(dest="supervisors_command", required=True, metavar="ACTION")
    p = add_command(
        sup_sub,
        "import",
        _import,
        "load a roster CSV: cell_code,name,phone,telegram_chat_id,wechat_openid",
    )
    p.add_argument("file")
    p = add_command(
        sup_sub,
        "invite",
        _invite,
        "print a single-use invitation code that binds a chat account to a cell",
    )
    p.add_argument("--cell", required=True, help="grid cell code, e.g. 540202006005")
    p.add_argument("--name", default="", help="the supervisor's name, for the records")
    p = add_command(sup_sub, "list", _list, "the roster: who supervises which cell")
    p.add_argument("--cell", help="only this cell's subtree")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add_command(sup_sub, "remove", _remove, "remove a supervisor (by the id `list` shows)")
    p.add_argument("id", type=int)
