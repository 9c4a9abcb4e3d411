"""Shared plumbing for commands: settings, a database handle, running a coroutine."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from bot.config import Settings
from bot.services.grid import ImportRefused
from bot.storage.db import Database

T = TypeVar("T")
SubParsers = "argparse._SubParsersAction[argparse.ArgumentParser]"


def load_settings() -> Settings:
    return Settings.from_env()


def with_database(work: Callable[[Database, Settings], Awaitable[T]]) -> T:
    settings = load_settings()

    async def run() -> T:
        database = Database.from_url(settings.database_url)
        try:
            return await work(database, settings)
        finally:
            await database.dispose()

    return asyncio.run(run())


def read_text_file(path: str, *, limit_bytes: int = 512 * 1024 * 1024) -> str:
    file = Path(path)
    if not file.is_file():
        raise ImportRefused([f"{path}: no such file"])
    if file.stat().st_size > limit_bytes:
        raise ImportRefused([f"{path}: larger than {limit_bytes // (1024 * 1024)} MiB"])
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ImportRefused([f"{path}: not UTF-8 text"]) from None


def report_refusal(exc: ImportRefused, what: str) -> int:
    print(f"{what} refused, nothing was changed:", file=sys.stderr)
    for line in str(exc).splitlines():
        print(f"  {line}", file=sys.stderr)
    return 1


def add_command(
    sub: Any, name: str, handler: Callable[[argparse.Namespace], int], help_text: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    return parser
