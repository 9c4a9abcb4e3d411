"""The supervision grid: levels, the cell hierarchy and point-to-cell routing.

Predicate direction matters: ``STRtree.query(geom, predicate=P)`` evaluates ``P(geom, tree_geom)``,
so asking which polygons a point lies in is ``predicate="covered_by"`` (point covered by polygon,
true on the boundary too); ``contains`` would ask whether the point contains a polygon and
silently find nothing.

Routing does not use the predicate form, though: shapely prepares the *query* geometry for it,
which for a point is useless, and then tests the raw polygon (the city outline has ~8,000
vertices). Instead the tree answers by bounding box only, the candidates are ranked deepest level
first (smallest code among equals, so a border point always resolves the same way), and each is
tested with the cell's own *prepared* polygon ``covers`` the point — the first hit wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import shapely
import shapely.ops
from shapely.geometry.base import BaseGeometry

from bot.domain.geo import Datum, LatLon, convert, gcj02_to_wgs84, haversine_m, validate_lat_lon


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


def _point_maker() -> Callable[[float, float], shapely.Point]:
    """The cheapest way to make a Point this shapely offers.

    `shapely.Point(x, y)` spends half of a lookup's time validating its arguments; the ufunc it
    ends up calling takes a coordinate pair directly. Fall back to the public constructor should a
    future shapely move the ufunc.
    """
    ufunc = getattr(getattr(shapely, "lib", None), "points", None)
    if ufunc is not None:
        nan_policy = np.intc(0)
        try:
            probe = ufunc(np.array((1.0, 2.0)), nan_policy)
            if isinstance(probe, shapely.Point) and (probe.x, probe.y) == (1.0, 2.0):
                return lambda x, y: ufunc(np.array((x, y)), nan_policy)
        except (TypeError, ValueError):
            pass
    return shapely.Point


_make_point = _point_maker()


def _gcj02_to_wgs84_xy(xy: np.ndarray) -> np.ndarray:
    """`shapely.transform`'s form of the GCJ-02 → WGS-84 conversion: (lon, lat) rows."""
    out = np.empty_like(xy)
    for i, (x, y) in enumerate(xy.tolist()):
        point = gcj02_to_wgs84(y, x)
        out[i] = (point.lon, point.lat)
    return out


@dataclass
class LeafBuckets:
    """Leaf cells by the uniform-grid buckets their bounding boxes touch, in routing rank order."""

    min_x: float
    min_y: float
    size: float
    buckets: dict[tuple[int, int], tuple[int, ...]]

    @classmethod
    def build(
        cls, geoms: Sequence[BaseGeometry], leaves: Sequence[int], rank: np.ndarray
    ) -> LeafBuckets:
        bounds = shapely.bounds(np.asarray([geoms[i] for i in leaves], dtype=object))
        min_x, min_y = float(bounds[:, 0].min()), float(bounds[:, 1].min())
        width = float(bounds[:, 2].max()) - min_x
        height = float(bounds[:, 3].max()) - min_y
        # About four buckets per leaf: few candidates per bucket, few buckets per leaf.
        size = max(math.sqrt(max(width * height, 1e-18) / (4 * len(leaves))), 1e-9)
        lists: dict[tuple[int, int], list[int]] = {}
        for leaf, (x0, y0, x1, y1) in zip(leaves, bounds.tolist(), strict=True):
            for ix in range(int((x0 - min_x) // size), int((x1 - min_x) // size) + 1):
                for iy in range(int((y0 - min_y) // size), int((y1 - min_y) // size) + 1):
                    lists.setdefault((ix, iy), []).append(leaf)
        buckets = {k: tuple(sorted(v, key=rank.__getitem__)) for k, v in lists.items()}
        return cls(min_x, min_y, size, buckets)

    def candidates(self, x: float, y: float) -> tuple[int, ...]:
        key = (int((x - self.min_x) // self.size), int((y - self.min_y) // self.size))
        return self.buckets.get(key, ())


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
    # rank[i]: the order in which cell i is tried (deepest level first, then smallest code)
    _rank: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=np.int64))
    _geom_array: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=object))
    _chains: dict[str, tuple[CellRef, ...]] = field(repr=False, default_factory=dict)
    # Leaf cells (no children) hashed into a uniform grid of buckets by bounding box: a point's
    # deepest cell is almost always a leaf, and a dictionary lookup finds its few candidates
    # faster than a tree query can be called.
    _buckets: LeafBuckets | None = field(repr=False, default=None)
    # Each cell's geometry as GeoJSON text in WGS-84, built on first use: the index is rebuilt
    # whenever the grid is loaded, so a cache held here lives exactly as long as its grid.
    _geojson: dict[str, str] = field(repr=False, default_factory=dict)

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
        order = sorted(range(len(refs)), key=lambda i: (-refs[i].level.depth, refs[i].code))
        rank = np.empty(len(refs), dtype=np.int64)
        rank[order] = np.arange(len(refs), dtype=np.int64)
        geom_array = np.empty(len(geoms), dtype=object)
        geom_array[:] = geoms
        leaves = [i for i, r in enumerate(refs) if r.code not in children]
        return cls(
            datum=datum,
            cells={r.code: r for r in refs},
            _geoms=geoms,
            _refs=refs,
            _tree=shapely.STRtree(geoms),
            _depths=depths,
            _children=children,
            _position={r.code: i for i, r in enumerate(refs)},
            _rank=rank,
            _geom_array=geom_array,
            _buckets=LeafBuckets.build(geoms, leaves, rank) if leaves else None,
        )

    def __len__(self) -> int:
        return len(self._refs)

    def children(self, code: str | None) -> list[CellRef]:
        """The cells directly under `code` (the top-level cells for None), by code."""
        return list(self._children.get(code, ()))

    def at_level(self, level: Level) -> list[CellRef]:
        return sorted((r for r in self._refs if r.level == level), key=lambda r: r.code)

    def geojson_geometry(self, code: str) -> str:
        """The cell's geometry as GeoJSON text, in WGS-84 whatever the grid's datum.

        GeoJSON (RFC 7946) is WGS-84 by definition, and so are the web map's tiles; a GCJ-02
        grid's vertices are converted. Built once per cell and index: the grid changes only
        when it is imported, and an import loads a new index.
        """
        cached = self._geojson.get(code)
        if cached is None:
            geom = self._geoms[self._position[code]]
            if self.datum != Datum.WGS84:
                geom = shapely.transform(geom, _gcj02_to_wgs84_xy)
            cached = self._geojson[code] = shapely.to_geojson(geom)
        return cached

    def to_wgs84(self, lat: float, lon: float) -> LatLon:
        """A point in the grid's datum (as cases store them), for a WGS-84 map."""
        return convert(lat, lon, source=self.datum, target=Datum.WGS84)

    def representative_point(self, code: str) -> LatLon:
        """A point guaranteed inside the cell (for reports placed by picking a village)."""
        point = self._geoms[self._position[code]].representative_point()
        return LatLon(point.y, point.x)

    def chain_of(self, code: str) -> tuple[CellRef, ...]:
        """The cell and its ancestors, deepest first (cached: the grid does not change)."""
        cached = self._chains.get(code)
        if cached is None:
            cached = self._chains[code] = self._walk_up(code)
        return cached

    def _walk_up(self, code: str) -> tuple[CellRef, ...]:
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
        geom = _make_point(point.lon, point.lat)
        found = self._first_covering(geom)
        if found is not None:
            return RouteResult(point=point, chain=self.chain_of(self._refs[found].code))
        return self._nearest(point, geom)

    def _first_covering(self, geom: shapely.Point) -> int | None:
        rank = self._rank
        if self._buckets is not None:
            for i in self._buckets.candidates(geom.x, geom.y):
                if self._geoms[i].covers(geom):
                    return i
        # No leaf covers it (a grid imported without its lower levels): try every level.
        for i in sorted(self._tree.query(geom).tolist(), key=rank.__getitem__):
            if self._geoms[i].covers(geom):
                return i
        return None

    def route_many(self, points: Sequence[tuple[float, float]]) -> list[str | None]:
        """Bulk lookup (lat, lon in the grid's datum) → deepest cell code, vectorised in shapely."""
        if not points:
            return []
        arr = np.asarray(points, dtype=float)
        if not np.all(np.isfinite(arr)):
            raise ValueError("coordinates must be finite numbers (no NaN or infinity)")
        geoms = shapely.points(arr[:, 1], arr[:, 0])
        point_idx, tree_idx = self._tree.query(geoms)  # bounding boxes only
        inside = shapely.covers(self._geom_array[tree_idx], geoms[point_idx])
        point_idx, tree_idx = point_idx[inside], tree_idx[inside]
        result: list[str | None] = [None] * len(points)
        if len(point_idx):
            # Per point, the covering cell of lowest rank (deepest, then smallest code).
            order = np.lexsort((self._rank[tree_idx], point_idx))
            point_idx, tree_idx = point_idx[order], tree_idx[order]
            first = np.unique(point_idx, return_index=True)[1]
            for p, t in zip(point_idx[first].tolist(), tree_idx[first].tolist(), strict=True):
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
