"""The synthetic Shigatse sample grid: counts, hierarchy, exact partition, names, determinism."""

from __future__ import annotations

import functools
import json
from collections import Counter, defaultdict
from typing import Any

import pytest
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from bot.sample_grid import (
    SAMPLE_SEED,
    TOWNSHIP_COUNT,
    VILLAGE_COUNT,
    build_sample_grid,
    build_sample_roster,
    sample_data_dir,
)

LEVELS = ("city", "county", "township", "village")
PARENT_LEVEL = {"county": "city", "township": "county", "village": "township"}
ROSTER_KEYS = {"cell_code", "name", "phone", "telegram_chat_id", "wechat_openid"}


@functools.cache
def _grid() -> dict[str, Any]:
    return build_sample_grid()


@functools.cache
def _shapes() -> dict[str, BaseGeometry]:
    return {f["properties"]["code"]: shape(f["geometry"]) for f in _grid()["features"]}


@functools.cache
def _children() -> dict[str, tuple[str, ...]]:
    kids: dict[str, list[str]] = defaultdict(list)
    for f in _grid()["features"]:
        props = f["properties"]
        if props["parent"] is not None:
            kids[props["parent"]].append(props["code"])
    return {k: tuple(v) for k, v in kids.items()}


def _props(level: str | None = None) -> list[dict[str, Any]]:
    return [
        f["properties"]
        for f in _grid()["features"]
        if level is None or f["properties"]["level"] == level
    ]


def test_top_level_format() -> None:
    grid = _grid()
    assert grid["type"] == "FeatureCollection"
    assert grid["datum"] == "wgs84"
    assert grid["synthetic_below"] == "county"
    assert isinstance(grid["name"], str) and grid["name"]
    for f in grid["features"]:
        assert f["type"] == "Feature"
        assert set(f["properties"]) == {"code", "level", "parent", "name_zh", "name_bo", "name_en"}
        assert f["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    # plain JSON values: a round trip changes nothing
    assert json.loads(json.dumps(grid)) == grid


def test_counts_per_level() -> None:
    counts = Counter(p["level"] for p in _props())
    assert counts == {"city": 1, "county": 18, "township": TOWNSHIP_COUNT, "village": VILLAGE_COUNT}
    assert (TOWNSHIP_COUNT, VILLAGE_COUNT) == (204, 1687)


def test_order_parents_before_children() -> None:
    levels = [LEVELS.index(p["level"]) for p in _props()]
    assert levels == sorted(levels)
    seen: set[str] = set()
    for p in _props():
        assert p["parent"] is None or p["parent"] in seen
        seen.add(p["code"])


def test_codes_unique_and_well_formed() -> None:
    codes = [p["code"] for p in _props()]
    assert len(codes) == len(set(codes))
    by_level = {p["code"]: p["level"] for p in _props()}
    for p in _props():
        assert isinstance(p["code"], str) and p["code"].isdigit()
        if p["level"] == "city":
            assert p["code"] == "540200" and p["parent"] is None
            continue
        parent = p["parent"]
        assert parent in by_level
        assert by_level[parent] == PARENT_LEVEL[p["level"]]
        if p["level"] == "county":
            assert parent == "540200" and len(p["code"]) == 6
        else:
            assert p["code"].startswith(parent) and len(p["code"]) == len(parent) + 3


def test_counties_are_the_real_polygons() -> None:
    counties = _props("county")
    assert {p["code"] for p in counties} == {"540202", *(f"5402{n}" for n in range(21, 38))}
    for p in [*_props("city"), *counties]:
        raw = json.loads((sample_data_dir() / f"{p['code']}.geojson").read_text("utf-8"))
        assert _shapes()[p["code"]].equals_exact(shape(raw), 0.0)


def test_minimum_children() -> None:
    kids = _children()
    for p in _props("county"):
        assert len(kids[p["code"]]) >= 3
    for p in _props("township"):
        assert len(kids[p["code"]]) >= 2


def test_deterministic() -> None:
    again = build_sample_grid(SAMPLE_SEED)
    assert json.dumps(again, sort_keys=True) == json.dumps(_grid(), sort_keys=True)


def test_other_seed_differs() -> None:
    other = build_sample_grid(SAMPLE_SEED + 1)
    assert [f["properties"] for f in other["features"][:19]] == _props()[:19]
    assert json.dumps(other, sort_keys=True) != json.dumps(_grid(), sort_keys=True)


def test_geometries_valid_and_non_empty() -> None:
    for code, geom in _shapes().items():
        assert geom.geom_type in {"Polygon", "MultiPolygon"}, code
        assert geom.is_valid, code
        assert not geom.is_empty and geom.area > 0, code


@pytest.mark.parametrize("level", ["county", "township"])
def test_children_partition_parent(level: str) -> None:
    shapes, kids = _shapes(), _children()
    for p in _props(level):
        parent = shapes[p["code"]]
        cells = [shapes[c] for c in kids[p["code"]]]
        union_area = shapely.union_all(cells).area
        assert union_area == pytest.approx(parent.area, rel=1e-9), p["code"]
        # no overlaps: the areas add up to the parent's
        assert sum(c.area for c in cells) == pytest.approx(parent.area, rel=1e-6), p["code"]
        # no gaps or spill: symmetric difference is floating-point noise
        assert shapely.union_all(cells).symmetric_difference(parent).area < 1e-9 * parent.area
        for code, cell in zip(kids[p["code"]], cells, strict=True):
            assert cell.difference(parent).area <= 1e-9 * cell.area, code


def test_names_unique_per_level_in_each_language() -> None:
    for level in LEVELS:
        props = _props(level)
        for key in ("name_zh", "name_en", "name_bo"):
            names = [p[key] for p in props]
            assert all(isinstance(n, str) and n.strip() for n in names)
            assert len(set(names)) == len(names), (level, key)


def test_synthetic_names_follow_the_pattern() -> None:
    by_code = {p["code"]: p for p in _props()}
    t = by_code["540202003"]
    assert t["name_zh"] == "桑珠孜区第03乡镇网格"
    assert t["name_en"] == "Samzhubzê Township Grid 03"
    assert t["name_bo"] == "བསམ་གྲུབ་རྩེ། ཤང་ཁུལ་ ༠༣"
    v = by_code["540202003002"]
    assert v["name_zh"] == "桑珠孜区第03乡镇第002村网格"
    assert v["name_en"] == "Samzhubzê T03 Village Grid 002"
    assert v["name_bo"] == "བསམ་གྲུབ་རྩེ། ཤང་ཁུལ་ ༠༣ གྲོང་ཚོ་ ༠༠༢"


def test_roster_one_row_per_cell() -> None:
    roster = build_sample_roster(_grid())
    assert [r["cell_code"] for r in roster] == [p["code"] for p in _props()]
    for row in roster:
        assert set(row) == ROSTER_KEYS
        assert all(isinstance(v, str) for v in row.values())
        assert row["name"]
        assert row["phone"].startswith("139") and len(row["phone"]) == 11
        assert row["phone"].isdigit()
        assert row["telegram_chat_id"] == "" and row["wechat_openid"] == ""
    assert build_sample_roster(_grid()) == roster
