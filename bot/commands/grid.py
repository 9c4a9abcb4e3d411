"""`python -m bot grid import FILE | stats | load-sample`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.commands.common import add_command, read_text_file, report_refusal, with_database
from bot.config import Settings
from bot.domain.geo import Datum
from bot.domain.grid import CellRef, Level
from bot.services import grid as grid_service
from bot.services.grid import ImportRefused, UnknownCell
from bot.storage.db import Database


def _import(args: argparse.Namespace) -> int:
    try:
        text = read_text_file(args.file)

        async def work(database: Database, settings: Settings) -> grid_service.ImportSummary:
            datum = Datum(args.datum) if args.datum else None
            return await grid_service.import_grid(database, text, datum=datum)

        summary = with_database(work)
    except ImportRefused as exc:
        return report_refusal(exc, f"grid import of {args.file}")
    levels = ", ".join(f"{n} {lvl}" for lvl, n in summary.by_level.items())
    print(f"imported {args.file}: {summary.created} created, {summary.updated} updated ({levels})")
    return 0


def _stats(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> dict[str, dict[str, int]]:
        return await grid_service.grid_stats(database)

    stats = with_database(work)
    if args.json:
        print(json.dumps(stats, ensure_ascii=False))
        return 0
    print(f"{'level':<10}{'cells':>8}{'with supervisor':>18}")
    for level, row in stats.items():
        print(f"{level:<10}{row['cells']:>8}{row['with_supervisor']:>18}")
    return 0


def _cell_json(cell: CellRef) -> dict[str, Any]:
    return {
        "code": cell.code,
        "level": cell.level.value,
        "parent": cell.parent_code,
        "name_zh": cell.names.zh,
        "name_bo": cell.names.bo,
        "name_en": cell.names.en,
    }


def _print_cells(cells: list[CellRef], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([_cell_json(c) for c in cells], ensure_ascii=False))
        return
    for c in cells:
        names = " / ".join(n for n in (c.names.zh, c.names.en, c.names.bo) if n)
        print(f"{c.level.value:<9} {c.code:<14} {c.parent_code or '-':<14} {names}")


def _find(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> list[CellRef]:
        return await grid_service.find_cells(database, args.text, limit=args.limit)

    cells = with_database(work)
    if not cells and not args.json:
        print(
            f"no cell has the code or a name containing {args.text!r} "
            "(names are matched in Chinese, Tibetan and English; try a shorter part)",
            file=sys.stderr,
        )
        return 1
    _print_cells(cells, as_json=args.json)
    return 0


def _list(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> list[CellRef]:
        level = Level(args.level) if args.level else None
        return await grid_service.list_cells(database, level=level, parent=args.parent)

    try:
        cells = with_database(work)
    except UnknownCell as exc:
        print(f"cannot list: {exc}", file=sys.stderr)
        return 1
    _print_cells(cells, as_json=args.json)
    return 0


async def load_sample(database: Database, *, if_empty: bool = False) -> str:
    """Load the synthetic Shigatse grid and its roster; a no-op message when not wanted."""
    from bot.sample_grid import build_sample_grid, build_sample_roster

    if if_empty and not await grid_service.grid_is_empty(database):
        return "grid already loaded; sample not loaded"
    grid = build_sample_grid()
    summary = await grid_service.import_grid(database, grid)
    roster = build_sample_roster(grid)
    lines = [",".join(grid_service.ROSTER_HEADER)]
    lines += [",".join(row[k] for k in grid_service.ROSTER_HEADER) for row in roster]
    await grid_service.import_roster(database, "\n".join(lines) + "\n")
    return (
        f"Shigatse sample grid loaded: {summary.created} created, {summary.updated} updated, "
        f"{len(roster)} synthetic supervisors"
    )


def _load_sample(args: argparse.Namespace) -> int:
    async def work(database: Database, settings: Settings) -> str:
        return await load_sample(database, if_empty=args.if_empty)

    try:
        print(with_database(work))
    except ImportRefused as exc:
        return report_refusal(exc, "sample grid")
    return 0


def register(sub: Any) -> None:
    grid = sub.add_parser("grid", help="the supervision grid")
    grid_sub = grid.add_subparsers(dest="grid_command", required=True, metavar="ACTION")
    p = add_command(grid_sub, "import", _import, "load a GeoJSON FeatureCollection of cells")
    p.add_argument("file")
    p.add_argument(
        "--datum",
        choices=[d.value for d in Datum],
        help="the datum of the file's coordinates (default: the file's 'datum' member, else wgs84)",
    )
    p = add_command(grid_sub, "stats", _stats, "cells per level and how many have a supervisor")
    p.add_argument("--json", action="store_true")
    p = add_command(
        grid_sub,
        "find",
        _find,
        "find cells by code, or by a part of their name in Chinese, Tibetan or English",
    )
    p.add_argument("text", help="a cell code (or its start), or part of a name in any language")
    p.add_argument("--limit", type=int, default=grid_service.MAX_FOUND, help="at most this many")
    p.add_argument("--json", action="store_true", help="a JSON array of cells")
    p = add_command(
        grid_sub,
        "list",
        _list,
        "list cells: those of a level, a parent's children, or with both a parent's "
        "descendants at that level",
    )
    p.add_argument("--level", choices=[lvl.value for lvl in Level])
    p.add_argument("--parent", metavar="CODE", help="the code of the cell to list under")
    p.add_argument("--json", action="store_true", help="a JSON array of cells")
    p = add_command(grid_sub, "load-sample", _load_sample, "load the synthetic Shigatse grid")
    p.add_argument("--if-empty", action="store_true", help="only when no grid is loaded yet")
