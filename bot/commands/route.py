"""`python -m bot route LAT LON [--datum wgs84|gcj02] [--json]`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.commands.common import add_command, with_database
from bot.config import Settings
from bot.domain.geo import Datum, InvalidCoordinate
from bot.domain.grid import CellRef, RouteResult
from bot.services import grid as grid_service
from bot.storage.db import Database


def _cell_json(cell: CellRef, supervisors: list[str]) -> dict[str, Any]:
    return {
        "code": cell.code,
        "level": cell.level.value,
        "name_zh": cell.names.zh,
        "name_bo": cell.names.bo,
        "name_en": cell.names.en,
        "supervisors": supervisors,
    }


def _route(args: argparse.Namespace) -> int:
    async def work(
        database: Database, settings: Settings
    ) -> tuple[RouteResult, dict[str, list[str]]]:
        index = await grid_service.load_grid_index(database)
        if not len(index):
            raise InvalidCoordinate("no grid is loaded (run: python -m bot grid load-sample)")
        result = index.route(args.lat, args.lon, datum=Datum(args.datum))
        cells = result.chain or result.nearest_chain
        staff = await grid_service.supervisors_of(database, [c.code for c in cells])
        return result, {code: [s.name for s in people] for code, people in staff.items()}

    try:
        result, staff = with_database(work)
    except InvalidCoordinate as exc:
        print(f"cannot route: {exc}", file=sys.stderr)
        return 2
    if args.json:
        body: dict[str, Any] = {
            "inside": result.inside,
            "point": {"lat": result.point.lat, "lon": result.point.lon},
            "chain": [_cell_json(c, staff.get(c.code, [])) for c in result.chain],
        }
        if not result.inside and result.nearest is not None:
            body["nearest"] = _cell_json(result.nearest, staff.get(result.nearest.code, []))
            body["nearest_chain"] = [
                _cell_json(c, staff.get(c.code, [])) for c in result.nearest_chain
            ]
            body["distance_m"] = round(result.nearest_distance_m or 0.0, 1)
        print(json.dumps(body, ensure_ascii=False))
        return 0
    if not result.inside:
        if result.nearest is None:
            print("outside the grid (no grid cells)")
            return 0
        print(
            f"outside the grid; nearest cell {result.nearest.code} {result.nearest.names.zh} "
            f"({result.nearest.names.en}), {(result.nearest_distance_m or 0) / 1000:.1f} km away"
        )
        return 0
    for cell in result.chain:
        people = ", ".join(staff.get(cell.code, [])) or "(no supervisor)"
        print(
            f"{cell.level.value:<9} {cell.code:<14} {cell.names.zh} / {cell.names.en}  — {people}"
        )
    return 0


def register(sub: Any) -> None:
    p = add_command(sub, "route", _route, "which grid cell answers for a point")
    p.add_argument("lat", type=float)
    p.add_argument("lon", type=float)
    p.add_argument("--datum", choices=[d.value for d in Datum], default=Datum.WGS84.value)
    p.add_argument("--json", action="store_true")
