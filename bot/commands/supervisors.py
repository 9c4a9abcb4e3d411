"""`python -m bot supervisors import FILE.csv` and `python -m bot supervisors invite --cell CODE`."""

from __future__ import annotations

import argparse
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
