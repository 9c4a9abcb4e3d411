"""`python -m bot wechat menu install [FILE]` and `python -m bot wechat unreachable [--json]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any
from zoneinfo import ZoneInfo

from bot.channels.wechat import SHIPPED_MENU, WeChatSender, menu_problems
from bot.commands.common import add_command, load_settings, with_database
from bot.config import Settings
from bot.delivery.outbox import SendError
from bot.delivery.undelivered import UndeliveredNotice, count_by_kind, undelivered_notices
from bot.storage.db import Database


def _install_menu(args: argparse.Namespace) -> int:
    path = args.file
    try:
        with open(path, encoding="utf-8") as f:
            menu = json.load(f)
    except OSError as exc:
        print(f"menu not installed: {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"menu not installed: {path} is not UTF-8 JSON ({exc})", file=sys.stderr)
        return 1
    problems = menu_problems(menu)
    if problems:
        print(f"menu not installed: {path}: {'; '.join(problems)}", file=sys.stderr)
        return 1
    settings = load_settings()
    if not (settings.wechat_app_id and settings.wechat_app_secret):
        print(
            "menu not installed: set WECHAT_APP_ID and WECHAT_APP_SECRET (the Official "
            "Account's developer ID and secret) first",
            file=sys.stderr,
        )
        return 1

    async def install() -> None:
        sender = WeChatSender(settings, templates={})
        try:
            await sender.install_menu(menu)
        finally:
            await sender.close()

    try:
        asyncio.run(install())
    except SendError as exc:
        print(f"menu not installed: {exc}", file=sys.stderr)
        return 1
    names = " / ".join(str(b["name"]) for b in menu["button"])
    print(f"menu installed on the WeChat account {settings.wechat_app_id}: {names}")
    return 0


def _unreachable(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> list[UndeliveredNotice]:
        async with database.reader() as session:
            return await undelivered_notices(session, channel="wechat", limit=args.limit)

    found = with_database(work)
    counts = count_by_kind(found)
    if args.json:
        body: dict[str, Any] = {
            "counts": counts,
            "notices": [n.as_json() for n in found],
        }
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    if not found:
        print("every WeChat message reached its person (none undelivered)")
        return 0
    summary = ", ".join(f"{kind} {n}" for kind, n in counts.items())
    print(f"{len(found)} WeChat messages reached nobody ({summary}), newest first:")
    tz = ZoneInfo(load_settings().timezone)
    for n in found:
        when = n.written_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        case = n.case_number or "—"
        print(f"  {when}  {n.kind:<15} {case:<11} {n.chat_id}  {n.reason}")
    return 0


def register(sub: Any) -> None:
    wechat = sub.add_parser("wechat", help="the WeChat Official Account")
    wechat_sub = wechat.add_subparsers(dest="wechat_command", required=True, metavar="ACTION")
    menu = wechat_sub.add_parser("menu", help="the account's custom menu")
    menu_sub = menu.add_subparsers(dest="menu_command", required=True, metavar="ACTION")
    p = add_command(
        menu_sub,
        "install",
        _install_menu,
        "check a custom-menu JSON file against WeChat's limits and install it (menu/create)",
    )
    p.add_argument(
        "file",
        nargs="?",
        default=str(SHIPPED_MENU),
        help="the menu, as WeChat's menu/create body (default: the shipped 举报 / 我的案件 / 订阅)",
    )
    p = add_command(
        wechat_sub,
        "unreachable",
        _unreachable,
        "list the WeChat messages that reached nobody (outside the 48-hour window with no "
        "template, unfollowed …), newest first",
    )
    p.add_argument("--json", action="store_true", help="print JSON: counts by kind and the list")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
