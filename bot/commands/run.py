"""`python -m bot run`: the main job."""

from __future__ import annotations

import argparse
from typing import Any

from bot.commands.common import add_command, load_settings


def _run(args: argparse.Namespace) -> int:
    from bot.app import run_main

    return run_main(load_settings(), console=args.console, role=args.role)


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "run",
        _run,
        "run the bot: Telegram if TELEGRAM_BOT_TOKEN is set, else the console; "
        "WeChat too if WECHAT_TOKEN and WECHAT_APP_ID are set",
    )
    p.add_argument("--console", action="store_true", help="use the console channel regardless")
    p.add_argument(
        "--role",
        choices=("web", "sender", "scheduler", "all"),
        default="all",
        help="what this process does when several share one PostgreSQL: web (receivers and "
        "the web server), sender (the outbox), scheduler (sweep, campaigns, housekeeping; one "
        "leader among all), or all of it (the default)",
    )
