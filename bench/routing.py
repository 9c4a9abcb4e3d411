"""Routing benchmark: Jingtu's GridIndex against a bare shapely STRtree and a linear scan.

Run ``.venv/bin/python bench/routing.py`` (about 2 minutes on a 2-core machine) or add
``--quick`` for a smoke run. Three implementations answer "which cell is this point in?" on the
same polygons, in one process, side by side:

1. ``GridIndex.route()`` (single) and ``GridIndex.route_many()`` (bulk), built from every cell
   of every level, as the app builds it;
2. a bare shapely 2 STRtree over the same polygons: ``tree.query(point, predicate="covered_by")``
   and a minimal loop picking the deepest hit (smallest code on a tie, as GridIndex does); bulk
   is one vectorised ``tree.query(points, predicate="covered_by")`` plus a numpy reduction;
3. a naive linear scan over the (prepared) village polygons, ``poly.covers(point)`` until a hit.

Single lookups are timed one by one with ``time.perf_counter_ns`` (route() and the bare tree
interleaved point by point, so machine noise hits both alike) and reported as the median.
Bulk lookups take one batch of points as a list of (lat, lon) tuples and return one code (or
None) per point; the figure is points per second, best of 3. The garbage collector is off
while timing (as in ``timeit``). Two grids: the sample grid of Shigatse (1,910 cells) and a
synthetic lattice of ~600,000 village squares with township, county and city parents.

The printed figures are informational; the script always exits 0.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from bot.domain.grid import CellNames, CellRef, CellShape, GridIndex, Level
from bot.sample_grid import build_sample_grid

SEED = 2026
Code = str | None
Point = tuple[float, float]  # (lat, lon)

SINGLE_TARGET = 2.0  # route() median within 2x of the bare STRtree median
LINEAR_TARGET = 10.0  # route() at least 10x faster than the linear scan (sample grid)


@dataclass(frozen=True)
class Config:
    n_single: int  # single lookups timed per implementation (route() and bare STRtree)
    m_bulk: int  # points in the bulk batch
    n_linear_sample: int  # single lookups timed for the linear scan on the sample grid
    m_linear_sample: int  # bulk batch for the linear scan on the sample grid
    n_linear_big: int  # single lookups timed for the linear scan on the synthetic grid
    synthetic_side: int  # villages per side of the synthetic lattice
    town_block: int = 25  # villages per side of a synthetic township
    county_block: int = 4  # townships per side of a synthetic county
    reps: int = 3  # bulk repetitions (best of)
    include_sample: bool = True


FULL = Config(
    n_single=5_000,
    m_bulk=200_000,
    n_linear_sample=1_000,
    m_linear_sample=1_000,
    n_linear_big=20,
    synthetic_side=775,
)
QUICK = Config(
    n_single=500,
    m_bulk=20_000,
    n_linear_sample=100,
    m_linear_sample=100,
    n_linear_big=3,
    synthetic_side=775,
)
# The correctness check of the test suite: ~2,000 cells, every implementation on every point.
TINY = Config(
    n_single=50,
    m_bulk=500,
    n_linear_sample=50,
    m_linear_sample=500,
    n_linear_big=50,
    synthetic_side=44,
    town_block=4,
    county_block=4,
    reps=1,
    include_sample=False,
)


# ---------------------------------------------------------------------------------------------
# Grids and points
# ---------------------------------------------------------------------------------------------


def sample_shapes() -> tuple[list[CellShape], BaseGeometry]:
    """The sample grid's cells (all levels) and the city polygon."""
    shapes: list[CellShape] = []
    city: BaseGeometry | None = None
    for feature in build_sample_grid()["features"]:
        p = feature["properties"]
        ref = CellRef(
            p["code"],
            Level(p["level"]),
            p["parent"],
            CellNames(p["name_zh"], p["name_bo"], p["name_en"]),
        )
        geom = shape(feature["geometry"])
        shapes.append(CellShape(ref, geom))
        if ref.level is Level.CITY:
            city = geom
    assert city is not None
    return shapes, city


def synthetic_shapes(
    side: int,
    *,
    town_block: int = 25,
    county_block: int = 4,
    lon0: float = 84.0,
    lat0: float = 27.0,
    span: float = 8.0,
) -> tuple[list[CellShape], BaseGeometry]:
    """A side x side lattice of square villages, grouped into townships, counties and a city.

    Villages are ``town_block`` x ``town_block`` per township and townships ``county_block`` x
    ``county_block`` per county (the last row and column of blocks may be smaller). All edges
    come from one array per axis, so neighbours share exactly equal coordinates.
    """
    step = span / side
    lon_edges = lon0 + np.arange(side + 1) * step
    lat_edges = lat0 + np.arange(side + 1) * step
    n_town = math.ceil(side / town_block)
    n_county = math.ceil(n_town / county_block)
    county_span = town_block * county_block

    def blocks(count: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        lo = np.arange(count) * size
        return lo, np.minimum(lo + size, side)

    def boxes(rows: tuple[np.ndarray, np.ndarray], cols: tuple[np.ndarray, np.ndarray]) -> Any:
        (r0, r1), (c0, c1) = rows, cols
        rr0, cc0 = np.meshgrid(r0, c0, indexing="ij")
        rr1, cc1 = np.meshgrid(r1, c1, indexing="ij")
        return shapely.box(
            lon_edges[cc0.ravel()],
            lat_edges[rr0.ravel()],
            lon_edges[cc1.ravel()],
            lat_edges[rr1.ravel()],
        )

    village_geoms = boxes(blocks(side, 1), blocks(side, 1))
    town_geoms = boxes(blocks(n_town, town_block), blocks(n_town, town_block))
    county_geoms = boxes(blocks(n_county, county_span), blocks(n_county, county_span))
    city = shapely.box(lon_edges[0], lat_edges[0], lon_edges[-1], lat_edges[-1])

    shapes: list[CellShape] = []

    def add(code: str, level: Level, parent: str | None, geom: BaseGeometry) -> None:
        shapes.append(CellShape(CellRef(code, level, parent, CellNames(code, code, code)), geom))

    add("S", Level.CITY, None, city)
    county_codes = [f"S{k:03d}" for k in range(n_county * n_county)]
    for code, geom in zip(county_codes, county_geoms.tolist(), strict=True):
        add(code, Level.COUNTY, "S", geom)
    t_rows, t_cols = np.divmod(np.arange(n_town * n_town), n_town)
    t_parent = (t_rows // county_block) * n_county + t_cols // county_block
    town_codes = [f"{county_codes[c]}{t:05d}" for t, c in enumerate(t_parent.tolist())]
    for code, parent, geom in zip(town_codes, t_parent.tolist(), town_geoms.tolist(), strict=True):
        add(code, Level.TOWNSHIP, county_codes[parent], geom)
    v_rows, v_cols = np.divmod(np.arange(side * side), side)
    v_parent = (v_rows // town_block) * n_town + v_cols // town_block
    for v, (parent, geom) in enumerate(zip(v_parent.tolist(), village_geoms.tolist(), strict=True)):
        parent_code = town_codes[parent]
        add(f"{parent_code}{v:07d}", Level.VILLAGE, parent_code, geom)
    return shapes, city


def points_inside(area: BaseGeometry, n: int, rng: np.random.Generator) -> list[Point]:
    """n points uniform in the area's bounding box, keeping only those inside the area."""
    x0, y0, x1, y1 = area.bounds
    shapely.prepare(area)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    found = 0
    while found < n:
        x = rng.uniform(x0, x1, size=2 * n)
        y = rng.uniform(y0, y1, size=2 * n)
        keep = shapely.contains_xy(area, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        found += int(keep.sum())
    lon = np.concatenate(xs)[:n]
    lat = np.concatenate(ys)[:n]
    return list(zip(lat.tolist(), lon.tolist(), strict=True))


# ---------------------------------------------------------------------------------------------
# The two comparison implementations
# ---------------------------------------------------------------------------------------------


class BareTree:
    """A bare STRtree over all cells; the deepest hit wins, then the smallest code."""

    def __init__(self, shapes: Sequence[CellShape]) -> None:
        self.codes: list[str] = [s.ref.code for s in shapes]
        # rank[i]: i's position when cells are ordered deepest first, then by code; the
        # best hit is the one with the lowest rank.
        order = sorted(
            range(len(shapes)), key=lambda i: (-shapes[i].ref.level.depth, self.codes[i])
        )
        rank = np.empty(len(shapes), dtype=np.int64)
        rank[order] = np.arange(len(shapes))
        self.rank = rank
        self.rank_list: list[int] = rank.tolist()
        self.codes_arr = np.array(self.codes, dtype=object)
        self.tree = shapely.STRtree([s.geometry for s in shapes])

    def single(self, lat: float, lon: float) -> Code:
        hits = self.tree.query(shapely.Point(lon, lat), predicate="covered_by")
        rank = self.rank_list
        best = -1
        for i in hits.tolist():
            if best < 0 or rank[i] < rank[best]:
                best = i
        return self.codes[best] if best >= 0 else None

    def bulk(self, points: Sequence[Point]) -> list[Code]:
        arr = np.asarray(points, dtype=float)
        geoms = shapely.points(arr[:, 1], arr[:, 0])
        p, t = self.tree.query(geoms, predicate="covered_by")
        order = np.lexsort((self.rank[t], p))  # by point, then best hit first
        p, t = p[order], t[order]
        first = np.ones(len(p), dtype=bool)
        first[1:] = p[1:] != p[:-1]
        out = np.full(len(arr), None, dtype=object)
        out[p[first]] = self.codes_arr[t[first]]
        result: list[Code] = out.tolist()
        return result


class LinearScan:
    """Every (prepared) village polygon in code order, until one covers the point."""

    def __init__(self, shapes: Sequence[CellShape]) -> None:
        villages = sorted(
            (s for s in shapes if s.ref.level is Level.VILLAGE), key=lambda s: s.ref.code
        )
        self.polys = [s.geometry for s in villages]
        self.codes = [s.ref.code for s in villages]
        shapely.prepare(self.polys)

    def single(self, lat: float, lon: float) -> Code:
        point = shapely.Point(lon, lat)
        for poly, code in zip(self.polys, self.codes, strict=True):
            if poly.covers(point):
                return code
        return None

    def bulk(self, points: Sequence[Point]) -> list[Code]:
        return [self.single(lat, lon) for lat, lon in points]


def route_code(index: GridIndex, lat: float, lon: float) -> Code:
    cell = index.route(lat, lon).cell
    return cell.code if cell is not None else None


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


@dataclass
class GridResult:
    label: str
    cells: int
    villages: int
    build_s: dict[str, float]
    single_us: dict[str, float] = field(default_factory=dict)  # median µs per lookup
    single_n: dict[str, int] = field(default_factory=dict)
    bulk_pps: dict[str, float] = field(default_factory=dict)  # points/s, best of reps
    bulk_m: dict[str, int] = field(default_factory=dict)
    single_codes: dict[str, list[Code]] = field(default_factory=dict)
    bulk_codes: dict[str, list[Code]] = field(default_factory=dict)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _singles(fns: Sequence[Callable[[float, float], Code]], points: Sequence[Point]) -> Any:
    """Time each point with each fn in turn (interleaved); per fn: (ns list, codes list)."""
    for fn in fns:  # warm-up
        for lat, lon in points[:20]:
            fn(lat, lon)
    times: list[list[int]] = [[] for _ in fns]
    codes: list[list[Code]] = [[] for _ in fns]
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for lat, lon in points:
            for k, fn in enumerate(fns):
                t0 = clock()
                code = fn(lat, lon)
                times[k].append(clock() - t0)
                codes[k].append(code)
    finally:
        gc.enable()
    return [(statistics.median(t) / 1000.0, c) for t, c in zip(times, codes, strict=True)]


def _bulk(
    fns: Sequence[Callable[[Sequence[Point]], list[Code]]], points: Sequence[Point], reps: int
) -> list[tuple[float, list[Code]]]:
    """Best-of-reps points/s per fn, repetitions interleaved across fns."""
    best = [math.inf] * len(fns)
    codes: list[list[Code]] = [[] for _ in fns]
    for _ in range(reps):
        for k, fn in enumerate(fns):
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                codes[k] = fn(points)
                best[k] = min(best[k], time.perf_counter() - t0)
            finally:
                gc.enable()
    return [(len(points) / b, c) for b, c in zip(best, codes, strict=True)]


def bench_grid(
    label: str,
    make: Callable[[], tuple[list[CellShape], BaseGeometry]],
    n_single: int,
    m_bulk: int,
    n_linear: int,
    m_linear: int | None,
    reps: int,
    rng: np.random.Generator,
    log: Callable[[str], None],
) -> GridResult:
    build: dict[str, float] = {}
    build["generate cells"], (shapes, city) = _timed(make)
    log(f"  {label}: {len(shapes):,} cells made in {build['generate cells']:.1f} s")
    build["GridIndex.build"], index = _timed(lambda: GridIndex.build(shapes))
    build["bare STRtree"], bare = _timed(lambda: BareTree(shapes))
    build["linear prepare"], linear = _timed(lambda: LinearScan(shapes))
    log(f"  {label}: indexes built ({', '.join(f'{k} {v:.1f} s' for k, v in build.items())})")
    res = GridResult(label, len(shapes), len(linear.codes), build)

    points = points_inside(city, max(n_single, n_linear), rng)
    (r_us, r_codes), (b_us, b_codes) = _singles(
        [lambda lat, lon: route_code(index, lat, lon), bare.single], points[:n_single]
    )
    ((l_us, l_codes),) = _singles([linear.single], points[:n_linear])
    res.single_us = {"route": r_us, "bare": b_us, "linear": l_us}
    res.single_n = {"route": n_single, "bare": n_single, "linear": n_linear}
    res.single_codes = {"route": r_codes, "bare": b_codes, "linear": l_codes}
    log(f"  {label}: single lookups timed")

    batch = points_inside(city, m_bulk, rng)
    (rm_pps, rm_codes), (bb_pps, bb_codes) = _bulk([index.route_many, bare.bulk], batch, reps)
    res.bulk_pps = {"route": rm_pps, "bare": bb_pps}
    res.bulk_m = {"route": m_bulk, "bare": m_bulk}
    res.bulk_codes = {"route": rm_codes, "bare": bb_codes}
    if m_linear is not None:
        ((lb_pps, lb_codes),) = _bulk([linear.bulk], batch[:m_linear], reps)
        res.bulk_pps["linear"] = lb_pps
        res.bulk_m["linear"] = m_linear
        res.bulk_codes["linear"] = lb_codes
    log(f"  {label}: bulk lookups timed")
    return res


def run(cfg: Config, log: Callable[[str], None] = lambda _msg: None) -> list[GridResult]:
    rng = np.random.default_rng(SEED)
    results: list[GridResult] = []
    if cfg.include_sample:
        results.append(
            bench_grid(
                "sample",
                sample_shapes,
                cfg.n_single,
                cfg.m_bulk,
                cfg.n_linear_sample,
                cfg.m_linear_sample,
                cfg.reps,
                rng,
                log,
            )
        )
    results.append(
        bench_grid(
            "synthetic",
            lambda: synthetic_shapes(
                cfg.synthetic_side, town_block=cfg.town_block, county_block=cfg.county_block
            ),
            cfg.n_single,
            cfg.m_bulk,
            cfg.n_linear_big,
            # The linear bulk scan is only run on a tiny grid; on 600k it would take hours.
            cfg.m_bulk if cfg.synthetic_side <= 100 else None,
            cfg.reps,
            rng,
            log,
        )
    )
    return results


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def agreement(res: GridResult) -> str:
    """Do the implementations return the same code for every point they all answered?"""
    problems: list[str] = []
    for kind, codes in (("single", res.single_codes), ("bulk", res.bulk_codes)):
        ref = codes["route"]
        for impl, other in codes.items():
            n = min(len(ref), len(other))
            diff = sum(a != b for a, b in zip(ref[:n], other[:n], strict=True))
            if diff:
                problems.append(f"{kind} {impl}: {diff}/{n} differ")
        outside = sum(c is None for c in ref)
        if outside:
            problems.append(f"{kind}: {outside} points in no cell")
    if problems:
        return "MISMATCH: " + "; ".join(problems)
    return "all implementations return the same cell code for every point"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(cfg: Config, results: Sequence[GridResult], total_s: float) -> str:
    impls = (("route", "route()/route_many()"), ("bare", "bare STRtree"), ("linear", "linear scan"))
    lines = [
        "Jingtu routing benchmark",
        f"Python {platform.python_version()}, shapely {shapely.__version__} "
        f"(GEOS {shapely.geos_version_string}), numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}",
        f"single: median of N timed lookups (perf_counter_ns); bulk: points/s for one batch of "
        f"M points, best of {cfg.reps}; gc off while timing; points uniform inside the city",
        "",
        f"{'grid':<22}{'impl':<22}{'single median µs':>18}{'N':>8}{'bulk points/s':>20}{'M':>10}",
    ]
    for res in results:
        grid = f"{res.label} ({res.cells:,})"
        for key, name in impls:
            single = f"{res.single_us[key]:,.1f}"
            if key in res.bulk_pps:
                bulk, m = f"{res.bulk_pps[key]:,.0f}", f"{res.bulk_m[key]:,}"
            else:
                bulk, m = "skipped (too slow)", ""
            lines.append(
                f"{grid:<22}{name:<22}{single:>18}{res.single_n[key]:>8,}{bulk:>20}{m:>10}"
            )
            grid = ""
    lines.append("")
    lines.append("build times (s):")
    for res in results:
        parts = ", ".join(f"{k} {v:.2f}" for k, v in res.build_s.items())
        lines.append(f"  {res.label} ({res.cells:,} cells, {res.villages:,} villages): {parts}")
    lines.append("")
    lines.append("ratios:")
    for res in results:
        r = res.single_us
        single_ratio = r["route"] / r["bare"]
        bulk_ratio = res.bulk_pps["route"] / res.bulk_pps["bare"]
        linear_ratio = r["linear"] / r["route"]
        lines.append(f"  {res.label} ({res.cells:,}):")
        lines.append(
            f"    route() median / bare STRtree median = {single_ratio:.2f}x   "
            f"target: route() within {SINGLE_TARGET:g}x of bare STRtree -> "
            f"{_verdict(single_ratio <= SINGLE_TARGET)}"
        )
        lines.append(f"    route_many rate / bare bulk rate     = {bulk_ratio:.2f}x")
        target = (
            f"target: route() >= {LINEAR_TARGET:g}x faster than linear scan (sample) -> "
            f"{_verdict(linear_ratio >= LINEAR_TARGET)}"
            if res.label == "sample"
            else "(informational; no target)"
        )
        lines.append(f"    linear scan / route() median         = {linear_ratio:,.1f}x   {target}")
        if "linear" not in res.bulk_pps:
            lines.append(
                f"    linear scan bulk: skipped (too slow); extrapolated from the "
                f"{res.single_n['linear']} single lookups: ~{1e6 / r['linear']:,.1f} points/s"
            )
        lines.append(f"    agreement: {agreement(res)}")
    lines.append("")
    lines.append(f"total wall time {total_s:.0f} s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small N/M for a smoke run")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cfg = TINY if args.tiny else QUICK if args.quick else FULL

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    results = run(cfg, log)
    print(report(cfg, results, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
