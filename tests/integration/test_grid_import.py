import copy
import json

import pytest
from shapely.geometry import box, mapping
from sqlalchemy import func, select

from bot.services.grid import (
    ImportRefused,
    grid_stats,
    import_grid,
    import_roster,
    load_grid_index,
)
from bot.storage.models import GridCell, Supervisor, SupervisorCell


def feature(code, level, parent, geometry, name=None):
    return {
        "type": "Feature",
        "properties": {
            "code": code,
            "level": level,
            "parent": parent,
            "name_zh": name or f"格{code}",
            "name_bo": f"bo-{code}",
            "name_en": f"Cell {code}",
        },
        "geometry": mapping(geometry),
    }


def toy_collection():
    return {
        "type": "FeatureCollection",
        "datum": "wgs84",
        "features": [
            feature("C", "city", None, box(88, 29, 90, 31)),
            feature("K1", "county", "C", box(88, 29, 89, 31)),
            feature("K2", "county", "C", box(89, 29, 90, 31)),
            feature("T1", "township", "K1", box(88, 29, 89, 31)),
            feature("V1", "village", "T1", box(88, 29, 89, 30)),
            feature("V2", "village", "T1", box(88, 30, 89, 31)),
        ],
    }


async def count_cells(database):
    async with database.reader() as s:
        return await s.scalar(select(func.count()).select_from(GridCell))


async def test_a_valid_grid_imports_and_routes(database):
    summary = await import_grid(database, toy_collection())
    assert summary.created == 6
    index = await load_grid_index(database)
    assert [c.code for c in index.route(29.5, 88.5).chain] == ["V1", "T1", "K1", "C"]


def with_feature_change(change):
    fc = toy_collection()
    change(fc["features"])
    return fc


INVALID_CASES = {
    "unknown parent": (
        lambda f: f.append(feature("V9", "village", "NOPE", box(88, 29, 88.5, 29.5))),
        "V9.*unknown parent NOPE",
    ),
    "cycle": (
        lambda f: f[1]["properties"].update(parent="T1"),
        "cycle",
    ),
    "self parent": (
        lambda f: f[3]["properties"].update(parent="T1"),
        "own parent",
    ),
    "child outside parent": (
        lambda f: f.append(feature("V3", "village", "T1", box(89.5, 29, 89.9, 29.5))),
        "V3.*outside its parent T1",
    ),
    "invalid geometry": (
        lambda f: f[4].update(
            geometry={
                "type": "Polygon",
                "coordinates": [[[88, 29], [89, 30], [89, 29], [88, 30], [88, 29]]],
            }
        ),
        r"V1.*invalid geometry.*Self-intersection",
    ),
    "empty geometry": (
        lambda f: f[4].update(geometry={"type": "Polygon", "coordinates": []}),
        "V1.*missing or empty",
    ),
    "point geometry": (
        lambda f: f[4].update(geometry={"type": "Point", "coordinates": [88.5, 29.5]}),
        "V1.*Polygon or MultiPolygon",
    ),
    "duplicate code": (
        lambda f: f.append(copy.deepcopy(f[4])),
        "duplicate code V1",
    ),
    "wrong level order": (
        lambda f: f.append(feature("V7", "village", "K1", box(88, 29, 88.5, 29.5))),
        "V7.*wrong level order",
    ),
    "unknown level": (
        lambda f: f[4]["properties"].update(level="province"),
        "level 'province'",
    ),
    "missing name": (
        lambda f: f[4]["properties"].update(name_zh=""),
        "name_zh",
    ),
    "county without parent": (
        lambda f: f[1]["properties"].update(parent=None),
        "K1.*needs a parent",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID_CASES))
async def test_each_invalid_grid_is_refused_naming_the_feature_and_nothing_is_stored(
    database, case
):
    change, message = INVALID_CASES[case]
    with pytest.raises(ImportRefused, match=message):
        await import_grid(database, with_feature_change(change))
    assert await count_cells(database) == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"type": "Feature"}', "FeatureCollection"),
        ('{"type": "FeatureCollection"}', "no 'features'"),
        ('{"type": "FeatureCollection", "features": []}', "no features"),
    ],
)
async def test_garbage_files_are_refused(database, raw, message):
    with pytest.raises(ImportRefused, match=message):
        await import_grid(database, raw)


async def test_a_failed_reimport_leaves_the_previous_grid_untouched(database):
    await import_grid(database, toy_collection())
    broken = toy_collection()
    broken["features"][4]["properties"]["name_zh"] = "新名字"
    broken["features"].append(feature("V9", "village", "NOPE", box(88, 29, 88.5, 29.5)))
    with pytest.raises(ImportRefused):
        await import_grid(database, broken)
    async with database.reader() as s:
        v1 = await s.get(GridCell, "V1")
        assert v1.name_zh == "格V1"
    assert await count_cells(database) == 6


async def test_reimporting_updates_cells_in_place(database):
    await import_grid(database, toy_collection())
    fc = toy_collection()
    fc["features"][4]["properties"]["name_zh"] = "新名字"
    summary = await import_grid(database, json.dumps(fc))
    assert (summary.created, summary.updated) == (0, 6)
    async with database.reader() as s:
        assert (await s.get(GridCell, "V1")).name_zh == "新名字"
    assert await count_cells(database) == 6


async def test_a_partial_import_may_hang_children_under_stored_parents(database):
    await import_grid(database, toy_collection())
    more = {
        "type": "FeatureCollection",
        "features": [feature("T2", "township", "K2", box(89, 29, 90, 31))],
    }
    assert (await import_grid(database, more)).created == 1


async def test_mixing_datums_is_refused(database):
    await import_grid(database, toy_collection())
    fc = toy_collection()
    fc["datum"] = "gcj02"
    with pytest.raises(ImportRefused, match="stored grid is in wgs84"):
        await import_grid(database, fc)


ROSTER_HEADER = "cell_code,name,phone,telegram_chat_id,wechat_openid\n"


async def test_a_roster_binds_supervisors_to_cells_and_stats_count_them(database):
    await import_grid(database, toy_collection())
    roster = ROSTER_HEADER + (
        "V1,扎西,13900000001,1001,\n"
        "V2,扎西,13900000001,1001,\n"  # one person, two cells
        "V2,卓玛,,,oAbCdEf123456\n"  # a cell with two supervisors
        "C,次仁,13900000003,,\n"
    )
    summary = await import_roster(database, roster)
    assert (summary.supervisors, summary.assignments, summary.cells) == (3, 4, 3)
    stats = await grid_stats(database)
    assert stats["village"] == {"cells": 2, "with_supervisor": 2}
    assert stats["township"] == {"cells": 1, "with_supervisor": 0}
    assert stats["city"] == {"cells": 1, "with_supervisor": 1}
    # Importing the same roster again changes nothing.
    again = await import_roster(database, roster)
    assert (again.supervisors, again.assignments) == (0, 0)
    async with database.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Supervisor)) == 3
        assert await s.scalar(select(func.count()).select_from(SupervisorCell)) == 4


@pytest.mark.parametrize(
    ("roster", "message"),
    [
        ("cell,name\nV1,x\n", "header must be exactly"),
        (ROSTER_HEADER + "V9,扎西,,,\n", "line 2: unknown cell V9"),
        (ROSTER_HEADER + "V1,,,,\n", "line 2: name"),
        (ROSTER_HEADER + "V1,扎西,call me,,\n", "line 2: phone"),
        (ROSTER_HEADER + "V1,扎西,,12ab,\n", "line 2: telegram_chat_id"),
        (ROSTER_HEADER + "V1,扎西,,,bad id!\n", "line 2: wechat_openid"),
        (ROSTER_HEADER + "V1,扎西,,\n", "line 2: expected 5 fields"),
        (ROSTER_HEADER + "V1,扎西,,,\nV1,扎西,,,\n", "line 3: duplicate of line 2"),
        (ROSTER_HEADER, "no rows"),
    ],
)
async def test_each_bad_roster_is_refused_whole(database, roster, message):
    await import_grid(database, toy_collection())
    await import_roster(database, ROSTER_HEADER + "V2,卓玛,,,\n")
    with pytest.raises(ImportRefused, match=message):
        await import_roster(database, roster)
    async with database.reader() as s:
        names = (await s.scalars(select(Supervisor.name))).all()
    assert names == ["卓玛"]
