"""`python -m bot db upgrade | current`."""

from __future__ import annotations

import argparse
from typing import Any

from bot.commands.common import add_command, with_database
from bot.config import redact_url
from bot.storage import migrate


def _upgrade(args: argparse.Namespace) -> int:
    async def work(database: Any, settings: Any) -> None:
        await migrate.upgrade(database)
        revision = await migrate.current_revision(database)
        print(f"database {redact_url(settings.database_url)} at revision {revision}")

    with_database(work)
    return 0


def _current(args: argparse.Namespace) -> int:
    async def work(database: Any, settings: Any) -> None:
        print(await migrate.current_revision(database) or "empty (run: python -m bot db upgrade)")

    with_database(work)
    return 0


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    add_command(db_sub, "upgrade", _upgrade, "apply all migrations")
    add_command(db_sub, "current", _current, "print the schema revision")
