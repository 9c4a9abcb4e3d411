"""Composition root: builds the database, services, channels and scheduler from Settings."""

from __future__ import annotations

import asyncio
import logging

from bot.config import Settings
from bot.logs import configure_logging
from bot.services.grid import grid_stats, load_grid_index
from bot.storage import migrate
from bot.storage.db import Database

log = logging.getLogger("jingtu")


async def _ready_report(settings: Settings) -> str:
    database = Database.from_url(settings.database_url)
    try:
        revision = await migrate.current_revision(database)
        index = await load_grid_index(database)
        stats = await grid_stats(database)
    finally:
        await database.dispose()
    levels = ", ".join(f"{v['cells']} {k}" for k, v in stats.items())
    return f"schema {revision}; grid of {len(index)} cells ({levels}); datum {index.datum}"


def run_main(settings: Settings, *, console: bool = False) -> int:
    configure_logging(settings)
    print("Jingtu ready:", asyncio.run(_ready_report(settings)))
    print("The chat channels arrive with the resident-reporting issue; nothing more to run yet.")
    return 0
