"""`python -m bot supervisors import FILE.csv`."""

from __future__ import annotations

import argparse
from typing import Any

from bot.commands.common import add_command, read_text_file, report_refusal, with_database
from bot.config import Settings
from bot.services import grid as grid_service
from bot.services.grid import ImportRefused
from bot.storage.db import Database


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
