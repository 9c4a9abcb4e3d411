"""Grid and roster imports, statistics, and loading the routing index from the database."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.geo import Datum
from bot.domain.grid import CellNames, CellRef, CellShape, GridIndex, Level
from bot.storage.db import Database
from bot.storage.models import GridCell, Supervisor, SupervisorCell

# A child may stick out of its parent by this share of its own area (digitising noise).
CONTAINMENT_TOLERANCE = 0.001
ROSTER_HEADER = ["cell_code", "name", "phone", "telegram_chat_id", "wechat_openid"]
MAX_IMPORT_ERRORS_SHOWN = 50


class ImportRefused(Exception):
    """An import that was refused whole; `errors` name each offending feature or line."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = errors[:MAX_IMPORT_ERRORS_SHOWN]
        more = len(errors) - len(shown)
        text = "\n".join(shown) + (f"\n… and {more} more" if more > 0 else "")
        super().__init__(text)


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    by_level: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _ParsedCell:
    label: str  # how error messages name the feature
    code: str
    level: Level
    parent: str | None
    names: CellNames
    geometry: BaseGeometry


def parse_feature_collection(raw: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(raw, Mapping):
        data: Any = raw
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ImportRefused([f"not valid JSON: {exc}"]) from None
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        raise ImportRefused(["expected a GeoJSON FeatureCollection at the top level"])
    if not isinstance(data.get("features"), list):
        raise ImportRefused(["the FeatureCollection has no 'features' list"])
    return data


def _parse_features(features: list[Any]) -> tuple[list[_ParsedCell], list[str]]:
    errors: list[str] = []
    cells: list[_ParsedCell] = []
    for index, feature in enumerate(features):
        label = f"feature #{index}"
        if not isinstance(feature, Mapping) or not isinstance(feature.get("properties"), Mapping):
            errors.append(f"{label}: not a Feature with properties")
            continue
        props = feature["properties"]
        code = props.get("code")
        if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", code):
            errors.append(f"{label}: 'code' must be 1–32 letters, digits, '_', '.', or '-'")
            continue
        label = f"feature #{index} ({code})"
        try:
            level = Level(props.get("level"))
        except ValueError:
            errors.append(
                f"{label}: level {props.get('level')!r} is not city/county/township/village"
            )
            continue
        parent = props.get("parent")
        if parent is not None and not isinstance(parent, str):
            errors.append(f"{label}: 'parent' must be a code or null")
            continue
        name_zh = props.get("name_zh")
        if not isinstance(name_zh, str) or not name_zh.strip():
            errors.append(f"{label}: 'name_zh' is required")
            continue
        names = CellNames(
            zh=name_zh.strip(),
            bo=str(props.get("name_bo") or "").strip(),
            en=str(props.get("name_en") or "").strip(),
        )
        try:
            geometry = shapely.from_geojson(json.dumps(feature.get("geometry")))
        except (shapely.errors.GEOSException, ValueError, TypeError):
            geometry = None
        if geometry is None or geometry.is_empty:
            errors.append(f"{label}: geometry is missing or empty")
            continue
        if geometry.geom_type not in {"Polygon", "MultiPolygon"}:
            errors.append(f"{label}: geometry must be a Polygon or MultiPolygon")
            continue
        if not geometry.is_valid:
            reason = shapely.is_valid_reason(geometry)
            errors.append(f"{label}: invalid geometry ({reason})")
            continue
        cells.append(_ParsedCell(label, code, level, parent or None, names, geometry))
    return cells, errors


def validate_grid(
    parsed: list[_ParsedCell], existing: Mapping[str, tuple[Level, str | None, BaseGeometry]]
) -> list[str]:
    """Every reason to refuse the import; empty when it may proceed."""
    errors: list[str] = []
    by_code: dict[str, _ParsedCell] = {}
    for cell in parsed:
        if cell.code in by_code:
            errors.append(
                f"{cell.label}: duplicate code {cell.code} (also {by_code[cell.code].label})"
            )
        else:
            by_code[cell.code] = cell

    def level_of(code: str) -> Level | None:
        if code in by_code:
            return by_code[code].level
        return existing[code][0] if code in existing else None

    def parent_of(code: str) -> str | None:
        if code in by_code:
            return by_code[code].parent
        return existing[code][1] if code in existing else None

    for cell in by_code.values():
        if cell.parent is None:
            if cell.level != Level.CITY:
                errors.append(f"{cell.label}: a {cell.level} cell needs a parent")
            continue
        if cell.parent == cell.code:
            errors.append(f"{cell.label}: is its own parent (cycle)")
            continue
        # Walk up: a cycle shows as revisiting a code.
        seen = {cell.code}
        current: str | None = cell.parent
        cyclic = False
        while current is not None:
            if current in seen:
                cyclic = True
                break
            seen.add(current)
            current = parent_of(current)
        if cyclic:
            errors.append(f"{cell.label}: parent chain forms a cycle through {cell.parent}")
            continue
        parent_level = level_of(cell.parent)
        if parent_level is None:
            errors.append(f"{cell.label}: unknown parent {cell.parent}")
            continue
        if cell.level.parent != parent_level:
            errors.append(
                f"{cell.label}: wrong level order — a {cell.level} cell cannot sit under "
                f"the {parent_level} cell {cell.parent}"
            )
            continue
        parent_geom = by_code[cell.parent].geometry if cell.parent in by_code else None
        if parent_geom is None:
            parent_geom = existing[cell.parent][2]
        outside = cell.geometry.difference(parent_geom).area
        if cell.geometry.area > 0 and outside / cell.geometry.area > CONTAINMENT_TOLERANCE:
            share = 100 * outside / cell.geometry.area
            errors.append(
                f"{cell.label}: {share:.1f}% of it lies outside its parent {cell.parent} "
                f"(tolerance {100 * CONTAINMENT_TOLERANCE:.1f}%)"
            )
    return errors


async def _existing_cells(
    session: AsyncSession, codes: Iterable[str]
) -> dict[str, tuple[Level, str | None, BaseGeometry]]:
    wanted = sorted(set(codes))
    out: dict[str, tuple[Level, str | None, BaseGeometry]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = await session.execute(
            select(
                GridCell.code, GridCell.level, GridCell.parent_code, GridCell.geometry_wkb
            ).where(GridCell.code.in_(chunk))
        )
        for code, level, parent, wkb in rows:
            out[code] = (Level(level), parent, shapely.from_wkb(wkb))
    return out


async def import_grid(
    database: Database, raw: str | bytes | Mapping[str, Any], *, datum: Datum | None = None
) -> ImportSummary:
    """Load a FeatureCollection in one transaction; refuse it whole on any error."""
    data = parse_feature_collection(raw)
    declared = data.get("datum")
    grid_datum = datum or (Datum(declared) if declared in {d.value for d in Datum} else Datum.WGS84)
    parsed, errors = _parse_features(list(data["features"]))
    if not parsed and not errors:
        errors.append("the FeatureCollection has no features")
    summary = ImportSummary()
    async with database.transaction() as session:
        referenced = {c.parent for c in parsed if c.parent} | {c.code for c in parsed}
        existing = await _existing_cells(session, referenced)
        errors += validate_grid(parsed, existing)
        other_datum = await session.scalar(
            select(GridCell.datum).where(GridCell.datum != grid_datum.value).limit(1)
        )
        if other_datum is not None:
            errors.append(
                f"the stored grid is in {other_datum}; this import is in {grid_datum.value} "
                "(pass --datum to say which the file uses)"
            )
        if errors:
            raise ImportRefused(errors)
        # Parents before children, so foreign keys hold at every insert.
        for cell in sorted(parsed, key=lambda c: c.level.depth):
            min_lon, min_lat, max_lon, max_lat = cell.geometry.bounds
            values = {
                "level": cell.level.value,
                "parent_code": cell.parent,
                "name_zh": cell.names.zh,
                "name_bo": cell.names.bo,
                "name_en": cell.names.en,
                "datum": grid_datum.value,
                "geometry_wkb": shapely.to_wkb(cell.geometry),
                "min_lon": min_lon,
                "min_lat": min_lat,
                "max_lon": max_lon,
                "max_lat": max_lat,
            }
            row = await session.get(GridCell, cell.code)
            if row is None:
                session.add(GridCell(code=cell.code, **values))
                summary.created += 1
            else:
                for key, value in values.items():
                    setattr(row, key, value)
                summary.updated += 1
            summary.by_level[cell.level.value] += 1
            if (summary.created + summary.updated) % 500 == 0:
                await session.flush()
    return summary


# --- roster -------------------------------------------------------------------------------------


@dataclass
class RosterSummary:
    supervisors: int = 0
    assignments: int = 0
    cells: int = 0


_PHONE_RE = re.compile(r"\+?[0-9 ()-]{5,20}")
_TELEGRAM_CHAT_RE = re.compile(r"-?[0-9]{1,20}")
_OPENID_RE = re.compile(r"[A-Za-z0-9_-]{6,64}")


async def import_roster(database: Database, text: str) -> RosterSummary:
    """Load `cell_code,name,phone,telegram_chat_id,wechat_openid`, refusing the file whole on error.

    A person is identified by name and phone (or name and cell when the phone is empty); for each
    cell the file names, its roster-bound supervisors become exactly those listed. Supervisors bound
    by an invite code are left alone.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    rows = list(reader)
    if not rows or [h.strip() for h in rows[0]] != ROSTER_HEADER:
        raise ImportRefused([f"line 1: the header must be exactly {','.join(ROSTER_HEADER)}"])
    errors: list[str] = []
    entries: list[dict[str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(ROSTER_HEADER):
            errors.append(f"line {number}: expected 5 fields, found {len(row)}")
            continue
        entry = dict(zip(ROSTER_HEADER, (cell.strip() for cell in row), strict=True))
        if not entry["cell_code"]:
            errors.append(f"line {number}: cell_code is empty")
        if not entry["name"] or len(entry["name"]) > 200:
            errors.append(f"line {number}: name must be 1–200 characters")
        if entry["phone"] and not _PHONE_RE.fullmatch(entry["phone"]):
            errors.append(f"line {number}: phone {entry['phone']!r} is not a phone number")
        if entry["telegram_chat_id"] and not _TELEGRAM_CHAT_RE.fullmatch(entry["telegram_chat_id"]):
            errors.append(f"line {number}: telegram_chat_id must be a whole number")
        if entry["wechat_openid"] and not _OPENID_RE.fullmatch(entry["wechat_openid"]):
            errors.append(f"line {number}: wechat_openid is not an OpenID")
        key = (entry["cell_code"], entry["name"])
        if key in seen:
            errors.append(f"line {number}: duplicate of line {seen[key]} ({key[1]} in {key[0]})")
        seen[key] = number
        entries.append(entry | {"line": str(number)})
    if not entries and not errors:
        errors.append("the roster has no rows")
    summary = RosterSummary()
    async with database.transaction() as session:
        known = set(
            (
                await session.scalars(
                    select(GridCell.code).where(
                        GridCell.code.in_(sorted({e["cell_code"] for e in entries}))
                    )
                )
            ).all()
        )
        for entry in entries:
            if entry["cell_code"] and entry["cell_code"] not in known:
                errors.append(f"line {entry['line']}: unknown cell {entry['cell_code']}")
        if errors:
            raise ImportRefused(errors)
        cells = sorted({e["cell_code"] for e in entries})
        summary.cells = len(cells)
        # Resolve every person first (a phone-less person is found through their cell's current
        # assignment), then change only the assignments that differ.
        people: dict[tuple[str, str], Supervisor] = {}
        wanted: set[tuple[int, str]] = set()
        for entry in entries:
            identity = (entry["name"], entry["phone"] or f"cell:{entry['cell_code']}")
            supervisor = people.get(identity)
            if supervisor is None:
                query = select(Supervisor).where(Supervisor.name == entry["name"])
                if entry["phone"]:
                    query = query.where(Supervisor.phone == entry["phone"])
                else:
                    query = query.join(SupervisorCell).where(
                        Supervisor.phone == "", SupervisorCell.cell_code == entry["cell_code"]
                    )
                supervisor = (await session.scalars(query.limit(1))).first()
                if supervisor is None:
                    supervisor = Supervisor(name=entry["name"], phone=entry["phone"])
                    session.add(supervisor)
                    summary.supervisors += 1
                people[identity] = supervisor
            if entry["telegram_chat_id"]:
                supervisor.telegram_chat_id = entry["telegram_chat_id"]
            if entry["wechat_openid"]:
                supervisor.wechat_openid = entry["wechat_openid"]
            await session.flush()
            wanted.add((supervisor.id, entry["cell_code"]))
        current: set[tuple[int, str]] = set()
        for start in range(0, len(cells), 500):
            assigned = await session.execute(
                select(SupervisorCell.supervisor_id, SupervisorCell.cell_code).where(
                    SupervisorCell.cell_code.in_(cells[start : start + 500]),
                    SupervisorCell.source == "roster",
                )
            )
            current |= {(sid, code) for sid, code in assigned}
        for supervisor_id, cell_code in current - wanted:
            await session.execute(
                delete(SupervisorCell).where(
                    SupervisorCell.supervisor_id == supervisor_id,
                    SupervisorCell.cell_code == cell_code,
                )
            )
        for supervisor_id, cell_code in sorted(wanted - current):
            if await session.get(SupervisorCell, (supervisor_id, cell_code)) is None:
                session.add(
                    SupervisorCell(
                        supervisor_id=supervisor_id, cell_code=cell_code, source="roster"
                    )
                )
                summary.assignments += 1
    return summary


# --- statistics and the routing index -----------------------------------------------------------


async def grid_stats(database: Database) -> dict[str, dict[str, int]]:
    """Cells per level, and how many of them have at least one supervisor."""
    async with database.reader() as session:
        totals = dict(
            (
                await session.execute(select(GridCell.level, func.count()).group_by(GridCell.level))
            ).all()
        )
        staffed_query = (
            select(GridCell.level, func.count(func.distinct(GridCell.code)))
            .join(SupervisorCell, SupervisorCell.cell_code == GridCell.code)
            .group_by(GridCell.level)
        )
        staffed = dict((await session.execute(staffed_query)).all())
    return {
        level.value: {
            "cells": int(totals.get(level.value, 0)),
            "with_supervisor": int(staffed.get(level.value, 0)),
        }
        for level in Level
    }


# A cell's identity and names as stored, and the CellRef they make: read by the routing index
# (with the geometry) and by the name search (without).
_CELL_IDENTITY = (
    GridCell.code,
    GridCell.level,
    GridCell.parent_code,
    GridCell.name_zh,
    GridCell.name_bo,
    GridCell.name_en,
)


def _cell_ref(row: Sequence[Any]) -> CellRef:
    code, level, parent, zh, bo, en = row
    return CellRef(code, Level(level), parent, CellNames(zh, bo, en))


async def load_grid_index(database: Database) -> GridIndex:
    async with database.reader() as session:
        rows = await session.execute(select(*_CELL_IDENTITY, GridCell.datum, GridCell.geometry_wkb))
        shapes: list[CellShape] = []
        datum = Datum.WGS84
        for *identity, cell_datum, wkb in rows:
            datum = Datum(cell_datum)
            shapes.append(CellShape(_cell_ref(identity), shapely.from_wkb(wkb)))
    return GridIndex.build(shapes, datum=datum)


async def supervisors_of(database: Database, codes: Iterable[str]) -> dict[str, list[Supervisor]]:
    wanted = list(dict.fromkeys(codes))
    out: dict[str, list[Supervisor]] = {code: [] for code in wanted}
    if not wanted:
        return out
    async with database.reader() as session:
        rows = await session.execute(
            select(SupervisorCell.cell_code, Supervisor)
            .join(Supervisor, Supervisor.id == SupervisorCell.supervisor_id)
            .where(SupervisorCell.cell_code.in_(wanted))
            .order_by(Supervisor.name, Supervisor.id)
        )
        for code, supervisor in rows:
            out[code].append(supervisor)
    return out


async def grid_is_empty(database: Database) -> bool:
    async with database.reader() as session:
        return (await session.scalar(select(func.count()).select_from(GridCell))) == 0


# --- finding cells ------------------------------------------------------------------------------

MAX_FOUND = 50


class UnknownCell(Exception):
    """A cell code that is not in the grid; the message says what to do."""


async def cell_refs(database: Database) -> list[CellRef]:
    """Every cell's identity and names, without geometry, by level then code."""
    async with database.reader() as session:
        refs = [_cell_ref(row) for row in await session.execute(select(*_CELL_IDENTITY))]
    return sorted(refs, key=lambda r: (r.level.depth, r.code))


async def find_cells(database: Database, query: str, *, limit: int = MAX_FOUND) -> list[CellRef]:
    """Cells whose code is `query`, or starts with it, or whose name in any language contains it.

    An exact code comes first; case and surrounding spaces do not matter.
    """
    needle = query.strip().casefold()
    if not needle:
        return []
    refs = await cell_refs(database)
    exact = [r for r in refs if r.code.casefold() == needle]
    others = [
        r
        for r in refs
        if r.code.casefold() != needle
        and (
            r.code.casefold().startswith(needle)
            or any(needle in name.casefold() for name in (r.names.zh, r.names.bo, r.names.en))
        )
    ]
    return (exact + others)[:limit]


async def list_cells(
    database: Database, *, level: Level | None = None, parent: str | None = None
) -> list[CellRef]:
    """Cells by level, under a parent: its children, or with `level`, its descendants there."""
    refs = await cell_refs(database)
    if parent is None:
        return [r for r in refs if level is None or r.level == level]
    by_code = {r.code: r for r in refs}
    if parent not in by_code:
        raise UnknownCell(f"no cell has the code {parent!r} (find one with: grid find NAME)")
    if level is None:
        return [r for r in refs if r.parent_code == parent]

    def under(ref: CellRef) -> bool:
        code = ref.parent_code
        while code is not None:
            if code == parent:
                return True
            up = by_code.get(code)
            code = up.parent_code if up else None
        return False

    return [r for r in refs if r.level == level and under(r)]
