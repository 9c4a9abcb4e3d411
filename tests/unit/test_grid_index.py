import json

import pytest
from shapely.geometry import box

from bot.domain.geo import (
    Datum,
    InvalidCoordinate,
    LatLon,
    gcj02_to_wgs84,
    haversine_m,
    wgs84_to_gcj02,
)
from bot.domain.grid import CellNames, CellRef, CellShape, GridIndex, Level


def cell(code, level, parent, geometry):
    return CellShape(CellRef(code, level, parent, CellNames(code, code, code)), geometry)


@pytest.fixture
def toy_grid():
    # City 0..2 x 0..2 (lon, lat); two counties split at lon=1; each county one township and
    # two villages split at lat=1.
    shapes = [cell("C", Level.CITY, None, box(0, 0, 2, 2))]
    for i, (x0, x1) in enumerate([(0, 1), (1, 2)]):
        county, town = f"K{i}", f"T{i}"
        shapes.append(cell(county, Level.COUNTY, "C", box(x0, 0, x1, 2)))
        shapes.append(cell(town, Level.TOWNSHIP, county, box(x0, 0, x1, 2)))
        shapes.append(cell(f"V{i}a", Level.VILLAGE, town, box(x0, 0, x1, 1)))
        shapes.append(cell(f"V{i}b", Level.VILLAGE, town, box(x0, 1, x1, 2)))
    return GridIndex.build(shapes)


def test_a_point_routes_to_its_village_and_the_chain_up_to_the_city(toy_grid):
    result = toy_grid.route(0.5, 0.5)  # lat, lon
    assert [c.code for c in result.chain] == ["V0a", "T0", "K0", "C"]
    assert result.cell.level == Level.VILLAGE


def test_a_point_on_a_shared_border_resolves_to_the_smaller_code_every_time(toy_grid):
    # lon=1 is the border between V0a and V1a (both villages).
    answers = {toy_grid.route(0.5, 1.0).cell.code for _ in range(5)}
    assert answers == {"V0a"}
    corner = toy_grid.route(1.0, 1.0).cell.code
    assert corner == "V0a"


def test_a_point_on_the_outer_boundary_is_inside(toy_grid):
    assert toy_grid.route(0.0, 0.3).cell.code == "V0a"


def test_a_point_outside_returns_no_cell_but_the_nearest_with_its_distance(toy_grid):
    result = toy_grid.route(0.5, 2.1)
    assert not result.inside
    assert result.nearest.code == "V1a"
    assert [c.code for c in result.nearest_chain] == ["V1a", "T1", "K1", "C"]
    assert result.nearest_distance_m == pytest.approx(11_119, rel=0.01)


def test_bulk_routing_agrees_with_single_lookups(toy_grid):
    points = [(0.5, 0.5), (1.5, 1.5), (0.5, 1.0), (5.0, 5.0)]
    assert toy_grid.route_many(points) == ["V0a", "V1b", "V0a", None]


def test_points_in_another_datum_are_converted_before_lookup():
    # A one-village grid near Shigatse, declared in WGS-84; a GCJ-02 point shifted from inside
    # must route inside once converted back, while taken raw it falls outside.
    village = box(88.880, 29.266, 88.882, 29.268)
    index = GridIndex.build([cell("V", Level.VILLAGE, None, village)], datum=Datum.WGS84)
    gcj = wgs84_to_gcj02(29.267, 88.881)
    assert index.route(gcj.lat, gcj.lon, datum=Datum.GCJ02).inside
    assert not index.route(gcj.lat, gcj.lon, datum=Datum.WGS84).inside


@pytest.mark.parametrize("bad", [(float("nan"), 1.0), (1.0, float("inf")), (91.0, 1.0)])
def test_routing_refuses_impossible_points(toy_grid, bad):
    with pytest.raises(InvalidCoordinate):
        toy_grid.route(*bad)


def test_an_empty_grid_routes_nowhere():
    result = GridIndex.build([]).route(29.0, 88.0)
    assert not result.inside and result.nearest is None


def test_a_county_imported_without_lower_levels_is_its_own_deepest_cell():
    shapes = [
        cell("C", Level.CITY, None, box(0, 0, 2, 2)),
        cell("K0", Level.COUNTY, "C", box(0, 0, 1, 2)),
        cell("K1", Level.COUNTY, "C", box(1, 0, 2, 2)),
        cell("T0", Level.TOWNSHIP, "K0", box(0, 0, 1, 2)),
    ]
    index = GridIndex.build(shapes)
    assert [c.code for c in index.route(0.5, 1.5).chain] == ["K1", "C"]
    assert [c.code for c in index.route(0.5, 0.5).chain] == ["T0", "K0", "C"]


def test_a_point_in_the_city_but_in_no_leaf_falls_back_to_the_level_above():
    # A gap in the township layer: the city still answers for the point.
    shapes = [
        cell("C", Level.CITY, None, box(0, 0, 2, 2)),
        cell("K0", Level.COUNTY, "C", box(0, 0, 1, 2)),
    ]
    index = GridIndex.build(shapes)
    assert [c.code for c in index.route(0.5, 1.5).chain] == ["C"]


def test_a_cells_geojson_is_in_wgs84_and_built_once_per_index():
    # The same village declared in GCJ-02: its map geometry comes back in WGS-84 (what GeoJSON
    # and the web map's tiles are in), vertex by vertex; a WGS-84 grid's is left as it is.
    corners = {(88.880, 29.266), (88.882, 29.266), (88.882, 29.268), (88.880, 29.268)}
    village = box(88.880, 29.266, 88.882, 29.268)
    gcj = GridIndex.build([cell("V", Level.VILLAGE, None, village)], datum=Datum.GCJ02)
    drawn = json.loads(gcj.geojson_geometry("V"))
    assert drawn["type"] == "Polygon"
    ring = {(round(x, 9), round(y, 9)) for x, y in drawn["coordinates"][0]}
    expected = set()
    for lon, lat in corners:
        moved = gcj02_to_wgs84(lat, lon)
        assert haversine_m(lat, lon, moved.lat, moved.lon) > 100  # GCJ-02 is offset here
        expected.add((round(moved.lon, 9), round(moved.lat, 9)))
    assert ring == expected
    assert gcj.geojson_geometry("V") is gcj.geojson_geometry("V")  # built once, then kept
    assert gcj.to_wgs84(29.267, 88.881) == gcj02_to_wgs84(29.267, 88.881)

    wgs = GridIndex.build([cell("V", Level.VILLAGE, None, village)], datum=Datum.WGS84)
    ring = {tuple(v) for v in json.loads(wgs.geojson_geometry("V"))["coordinates"][0]}
    assert ring == corners
    assert wgs.to_wgs84(29.267, 88.881) == LatLon(29.267, 88.881)
