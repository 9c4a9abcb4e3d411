"""`python -m bot open311 key add NAME | list | revoke NAME`: partners' Open311 API keys."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.commands.common import add_command, with_database
from bot.config import Settings
from bot.services import open311
from bot.services.open311 import KeyInfo, KeyRefused
from bot.storage.db import Database
from bot.storage.models import utcnow


def _add(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> str:
        return await open311.add_key(database, args.name, now=utcnow())

    try:
        key = with_database(work)
    except KeyRefused as exc:
        print(f"cannot add the key: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"name": args.name.strip(), "api_key": key}, ensure_ascii=False))
        return 0
    print(f"Open311 API key for {args.name.strip()!r} (shown only now; only its hash is kept):")
    print(key)
    return 0


def _key_json(key: KeyInfo) -> dict[str, Any]:
    return {
        "name": key.name,
        "created_at": key.created_at.isoformat(timespec="seconds"),
        "revoked_at": key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else None,
        "requests": key.requests,
    }


def _list(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> list[KeyInfo]:
        return await open311.list_keys(database)

    keys = with_database(work)
    if args.json:
        print(json.dumps([_key_json(k) for k in keys], ensure_ascii=False))
        return 0
    if not keys:
        print("no Open311 keys (make one with: python -m bot open311 key add NAME)")
        return 0
    print(f"{'name':<30}{'created':<22}{'revoked':<22}{'requests':>9}")
    for k in keys:
        revoked = k.revoked_at.strftime("%Y-%m-%d %H:%M UTC") if k.revoked_at else "-"
        created = k.created_at.strftime("%Y-%m-%d %H:%M UTC")
        print(f"{k.name:<30}{created:<22}{revoked:<22}{k.requests:>9}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> None:
        await open311.revoke_key(database, args.name, now=utcnow())

    try:
        with_database(work)
    except KeyRefused as exc:
        print(f"cannot revoke: {exc}", file=sys.stderr)
        return 1
    print(f"revoked the Open311 key {args.name!r}; requests it posted stay as they are")
    return 0


def register(sub: Any) -> None:
    group = sub.add_parser("open311", help="the Open311 GeoReport v2 endpoint (/open311/v2/)")
    group_sub = group.add_subparsers(dest="open311_command", required=True, metavar="ACTION")
    key = group_sub.add_parser("key", help="partners' API keys for posting requests")
    key_sub = key.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    p = add_command(key_sub, "add", _add, "make a key for a partner and print it once")
    p.add_argument("name", help="who the key is for, e.g. city-12345-hotline")
    p.add_argument("--json", action="store_true")
    p = add_command(key_sub, "list", _list, "the keys, when made or revoked, requests posted")
    p.add_argument("--json", action="store_true")
    p = add_command(key_sub, "revoke", _revoke, "stop a key from posting (it cannot be undone)")
    p.add_argument("name")
