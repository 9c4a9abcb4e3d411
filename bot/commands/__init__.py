"""Command groups of `python -m bot`; each module's `register(subparsers)` adds its commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bot.commands import campaign, db, desk, grid, open311, route, run, staff, supervisors, wechat

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

COMMAND_GROUPS: list[Register] = [
    run.register,
    db.register,
    grid.register,
    supervisors.register,
    route.register,
    campaign.register,
    wechat.register,
    open311.register,
    staff.register,
    desk.register_cases,
    desk.register_invite,
    desk.register_stats,
]
