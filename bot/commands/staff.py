"""`python -m bot staff add NAME --role admin|county|viewer [--cell CODE] | list | disable | password`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from bot.commands.common import add_command, with_database
from bot.config import Settings
from bot.services import staff as staff_service
from bot.services.staff import StaffRefused
from bot.storage.db import Database
from bot.storage.models import Staff, utcnow


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise StaffRefused("desk-password-mismatch", "the two passwords differ")
    return first


def _refused(exc: StaffRefused) -> int:
    print(f"refused, nothing was changed: {exc}", file=sys.stderr)
    return 1


def _add(args: argparse.Namespace) -> int:
    try:
        password = staff_service.check_password(_read_password(args))

        async def work(database: Database, settings: Settings) -> Staff:
            return await staff_service.add_staff(
                database,
                name=args.name,
                role=args.role,
                cell_code=args.cell,
                password=password,
                now=utcnow(),
            )

        staff = with_database(work)
    except StaffRefused as exc:
        return _refused(exc)
    where = f" for the subtree of {staff.cell_code}" if staff.cell_code else ""
    print(f"staff account {staff.name} added: {staff.role}{where}")
    return 0


def _list(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> list[Staff]:
        return await staff_service.list_staff(database)

    rows = with_database(work)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "role": s.role,
                        "cell": s.cell_code,
                        "disabled": s.disabled,
                        "created_at": s.created_at.isoformat(),
                    }
                    for s in rows
                ],
                ensure_ascii=False,
            )
        )
        return 0
    if not rows:
        print("no staff accounts yet: python -m bot staff add NAME --role admin")
    for s in rows:
        state = "disabled" if s.disabled else "active"
        print(f"{s.name:<20} {s.role:<8} {s.cell_code or '-':<14} {state}")
    return 0


def _disable(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> None:
        await staff_service.disable_staff(database, args.name, now=utcnow())

    try:
        with_database(work)
    except StaffRefused as exc:
        return _refused(exc)
    print(f"staff account {args.name} disabled; its sessions are ended")
    return 0


def _password(args: argparse.Namespace) -> int:
    try:
        password = staff_service.check_password(_read_password(args))

        async def work(database: Database, settings: Settings) -> None:
            await staff_service.set_password(database, args.name, password, now=utcnow())

        with_database(work)
    except StaffRefused as exc:
        return _refused(exc)
    print(f"password of {args.name} changed; its sessions are ended")
    return 0


def register(sub: Any) -> None:
    group = sub.add_parser(
        "staff", help="the bureau's dashboard accounts", description="dashboard accounts"
    )
    actions = group.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    p = add_command(actions, "add", _add, "add a dashboard account (asks for its password)")
    p.add_argument("name", help="sign-in name, 2 to 64 characters, no spaces")
    p.add_argument("--role", required=True, choices=["admin", "county", "viewer"])
    p.add_argument("--cell", help="county officers: the cell whose subtree they work in")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p = add_command(actions, "list", _list, "list dashboard accounts")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add_command(actions, "disable", _disable, "disable an account and end its sessions")
    p.add_argument("name")
    p = add_command(actions, "password", _password, "set a new password; ends its sessions")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
