"""`python -m bot …`: the command line. Each command group lives in `bot/commands/`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from bot.commands import COMMAND_GROUPS
from bot.config import ConfigError
from bot.services.ops import one_line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Jingtu (净土): pollution reports and outreach by chat."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMAND_GROUPS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): not an error. Python's documented recipe: point
        # stdout at devnull so the flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (OSError, SQLAlchemyError) as exc:
        print(
            f"cannot use the database: {one_line(exc)} (check DATABASE_URL; a new database "
            "needs `python -m bot db upgrade`)",
            file=sys.stderr,
        )
        return 1
    return int(result or 0)
