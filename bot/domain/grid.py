"""The supervision grid: levels, the cell hierarchy and point-to-cell routing.

Routing queries a shapely 2 STRtree with the *point* as the query geometry and the predicate
``within``/``covered_by`` from the point's side would be wrong-way round: STRtree.query(geom,
predicate=P) evaluates ``P(geom, tree_geom)``, so asking which polygons a point lies in is
``predicate="covered_by"`` (point covered by polygon — true on the boundary too). ``contains``
would ask whether the point contains a polygon, and silently find nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import shapely
import shapely.ops
from shapely.geometry.base import BaseGeometry

from bot.domain.geo import Datum, LatLon, convert, haversine_m, validate_lat_lon


class Level(StrEnum):
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"

    @property
    def depth(self) -> int:
        return LEVEL_ORDER.index(self)

    @property
    def child(self) -> Level | None:
        i = self.depth
        return LEVEL_ORDER[i + 1] if i + 1 < len(LEVEL_ORDER) else None

    @property
    def parent(self) -> Level | None:
        i = self.depth
        return LEVEL_ORDER[i - 1] if i > 0 else None


LEVEL_ORDER: tuple[Level, ...] = (Level.CITY, Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE)


@dataclass(frozen=True, slots=True)
class CellNames:
    zh: str
    bo: str
    en: str

    def for_locale(self, locale: str) -> str:
        if locale.startswith("bo"):
            return self.bo or self.zh
        if locale.startswith("en"):
            return self.en or self.zh
        return self.zh


@dataclass(frozen=True, slots=True)
class CellRef:
    """A cell as routing reports it: identity, level and names, without the geometry."""

    code: str
    level: Level
    parent_code: str | None
    names: CellNames


@dataclass(frozen=True, slots=True)
class CellShape:
    ref: CellRef
    geometry: BaseGeometry


@dataclass(frozen=True, slots=True)
class RouteResult:
    """Where a point falls: the chain from the deepest cell up to the city, or the nearest cell."""

    point: LatLon  # in the grid's datum
    chain: tuple[CellRef, ...] = ()  # deepest first
    nearest: CellRef | None = None
    nearest_distance_m: float | None = None

    @property
    def inside(self) -> bool:
        return bool(self.chain)

    @property
    def cell(self) -> CellRef | None:
        return self.chain[0] if self.chain else None

    def at_level(self, level: Level) -> CellRef | None:
        return next((c for c in self.chain if c.level == level), None)

    nearest_chain: tuple[CellRef, ...] = ()  # the nearest cell and its ancestors, when outside


@dataclass
class GridIndex:
    """An immutable in-memory index of the grid for point → cell lookups."""

    datum: Datum
    cells: dict[str, CellRef]
    _geoms: list[BaseGeometry] = field(repr=False)
    _refs: list[CellRef] = field(repr=False)
    _tree: shapely.STRtree = field(repr=False)
    _depths: np.ndarray = field(repr=False)
    _children: dict[str | None, list[CellRef]] = field(repr=False, default_factory=dict)
    _position: dict[str, int] = field(repr=False, default_factory=dict)

    @classmethod
    def build(cls, shapes: Iterable[CellShape], *, datum: Datum = Datum.WGS84) -> GridIndex:
        refs: list[CellRef] = []
        geoms: list[BaseGeometry] = []
        for shape in shapes:
            refs.append(shape.ref)
            geoms.append(shape.geometry)
        shapely.prepare(geoms)
        depths = np.array([r.level.depth for r in refs], dtype=np.int8)
        children: dict[str | None, list[CellRef]] = {}
        for ref in sorted(refs, key=lambda r: r.code):
            children.setdefault(ref.parent_code, []).append(ref)
        return cls(
            datum=datum,
            cells={r.code: r for r in refs},
            _geoms=geoms,
            _refs=refs,
            _tree=shapely.STRtree(geoms),
            _depths=depths,
            _children=children,
            _position={r.code: i for i, r in enumerate(refs)},
        )

    def __len__(self) -> int:
        return len(self._refs)

    def children(self, code: str | None) -> list[CellRef]:
        """The cells directly under `code` (the top-level cells for None), by code."""
        return list(self._children.get(code, ()))

    def at_level(self, level: Level) -> list[CellRef]:
        return sorted((r for r in self._refs if r.level == level), key=lambda r: r.code)

    def representative_point(self, code: str) -> LatLon:
        """A point guaranteed inside the cell (for reports placed by picking a village)."""
        point = self._geoms[self._position[code]].representative_point()
        return LatLon(point.y, point.x)

    def chain_of(self, code: str) -> tuple[CellRef, ...]:
        """The cell and its ancestors, deepest first."""
        chain: list[CellRef] = []
        seen: set[str] = set()
        current: str | None = code
        while current is not None and current not in seen:
            seen.add(current)
            ref = self.cells.get(current)
            if ref is None:
                break
            chain.append(ref)
            current = ref.parent_code
        return tuple(chain)

    def _pick_deepest(self, hits: Sequence[int] | np.ndarray) -> int:
        # The deepest level wins; on a shared border between cells of the same level the
        # smallest code wins, so a border point always resolves to the same cell.
        best = -1
        for i in hits:
            if best < 0:
                best = int(i)
                continue
            di, db = self._depths[i], self._depths[best]
            if di > db or (di == db and self._refs[i].code < self._refs[best].code):
                best = int(i)
        return best

    def route(self, lat: float, lon: float, *, datum: Datum | None = None) -> RouteResult:
        """The deepest cell covering the point, its chain up to the city, or the nearest cell."""
        valid = validate_lat_lon(lat, lon)
        point = convert(valid.lat, valid.lon, source=datum or self.datum, target=self.datum)
        geom = shapely.Point(point.lon, point.lat)
        hits = self._tree.query(geom, predicate="covered_by")
        if len(hits):
            best = self._pick_deepest(hits)
            return RouteResult(point=point, chain=self.chain_of(self._refs[best].code))
        return self._nearest(point, geom)

    def route_many(self, points: Sequence[tuple[float, float]]) -> list[str | None]:
        """Bulk lookup (lat, lon in the grid's datum) → deepest cell code, vectorised in shapely."""
        if not points:
            return []
        arr = np.asarray(points, dtype=float)
        if not np.all(np.isfinite(arr)):
            raise ValueError("coordinates must be finite numbers (no NaN or infinity)")
        geoms = shapely.points(arr[:, 1], arr[:, 0])
        point_idx, tree_idx = self._tree.query(geoms, predicate="covered_by")
        result: list[str | None] = [None] * len(points)
        best: dict[int, int] = {}
        for p, t in zip(point_idx.tolist(), tree_idx.tolist(), strict=True):
            b = best.get(p)
            if b is None or self._pick_deepest((b, t)) == t:
                best[p] = t
        for p, t in best.items():
            result[p] = self._refs[t].code
        return result

    def _nearest(self, point: LatLon, geom: shapely.Point) -> RouteResult:
        if not self._refs:
            return RouteResult(point=point)
        # Nearest in degrees first (cheap), then measure metres to the closest boundary point.
        # Among cells at the same distance we prefer the deepest, as for points inside.
        idx = self._tree.query_nearest(geom, all_matches=True)
        best = self._pick_deepest(idx)
        target = self._geoms[best]
        nearest_pt = shapely.ops.nearest_points(target, geom)[0]
        distance = haversine_m(point.lat, point.lon, nearest_pt.y, nearest_pt.x)
        return RouteResult(
            point=point,
            nearest=self._refs[best],
            nearest_chain=self.chain_of(self._refs[best].code),
            nearest_distance_m=distance if math.isfinite(distance) else None,
        )
