"""The example grid and roster the README's operator guide points to import as it says."""

from __future__ import annotations

from pathlib import Path

from bot.services.grid import import_grid, import_roster, load_grid_index

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"


async def test_the_example_grid_and_roster_import_and_route(database):
    summary = await import_grid(database, (EXAMPLES / "grid.geojson").read_text(encoding="utf-8"))
    assert summary.created == 7
    roster = await import_roster(database, (EXAMPLES / "roster.csv").read_text(encoding="utf-8"))
    assert (roster.supervisors, roster.cells) == (5, 6)
    index = await load_grid_index(database)
    found = index.route(29.25, 88.95)
    assert found is not None
    assert [c.code for c in found.chain] == ["EX010101", "EX0101", "EX01", "EX"]
