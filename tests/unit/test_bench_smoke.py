"""The routing benchmark measures what it claims: every implementation finds the same cell.

A correctness check of ``bench/routing.py`` on a ~2,000-cell synthetic grid; never timing.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from bot.domain.grid import GridIndex

BENCH = Path(__file__).resolve().parents[2] / "bench" / "routing.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_routing", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_route_bare_strtree_and_linear_scan_agree_on_every_sampled_point(bench):
    (result,) = bench.run(bench.TINY)
    assert 1_900 <= result.cells <= 2_100
    single, bulk = result.single_codes, result.bulk_codes
    assert len(single["route"]) == 50 and len(bulk["route"]) == 500
    assert None not in single["route"] and None not in bulk["route"]
    assert single["bare"] == single["route"]
    assert single["linear"] == single["route"]
    assert bulk["bare"] == bulk["route"]
    assert bulk["linear"] == bulk["route"]
    assert "MISMATCH" not in bench.agreement(result)


def test_the_implementations_agree_on_shared_borders_and_corners(bench):
    # Lattice vertices lie on 2-4 villages at once: all three must pick the smallest code.
    shapes, _city = bench.synthetic_shapes(12, town_block=4, county_block=2)
    index, bare, linear = GridIndex.build(shapes), bench.BareTree(shapes), bench.LinearScan(shapes)
    step = 8.0 / 12
    points = [(27.0 + j * step, 84.0 + i * step) for j in range(0, 13, 3) for i in range(0, 13, 2)]
    routed = [bench.route_code(index, lat, lon) for lat, lon in points]
    assert None not in routed
    assert [bare.single(lat, lon) for lat, lon in points] == routed
    assert [linear.single(lat, lon) for lat, lon in points] == routed
    assert bare.bulk(points) == routed == index.route_many(points)
