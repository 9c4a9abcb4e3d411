"""The command line as an operator uses it, against a real database file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.cli import main

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def sample_db(
    sqlite_sample_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    path = tmp_path / "jingtu.db"
    shutil.copyfile(sqlite_sample_template, path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.chdir(tmp_path)
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_grid_stats_show_the_real_counts_with_a_supervisor_on_every_cell(
    backend, sample_db, capsys
):
    code, out, _ = run_cli(capsys, "grid", "stats", "--json")
    assert code == 0
    assert json.loads(out) == {
        "city": {"cells": 1, "with_supervisor": 1},
        "county": {"cells": 18, "with_supervisor": 18},
        "township": {"cells": 204, "with_supervisor": 204},
        "village": {"cells": 1687, "with_supervisor": 1687},
    }


def test_route_names_samzhubze_and_a_township_and_village_inside_it(backend, sample_db, capsys):
    code, out, _ = run_cli(capsys, "route", "29.267", "88.881", "--json")
    assert code == 0
    body = json.loads(out)
    assert body["inside"] is True
    chain = [(c["code"], c["level"]) for c in body["chain"]]
    assert chain[2:] == [("540202", "county"), ("540200", "city")]
    assert chain[0][1] == "village" and chain[0][0].startswith(chain[1][0])
    assert chain[1][1] == "township" and chain[1][0].startswith("540202")
    assert body["chain"][2]["name_en"] == "Samzhubzê District"


def test_a_point_in_kathmandu_is_outside_with_the_nearest_cell_named(backend, sample_db, capsys):
    code, out, _ = run_cli(capsys, "route", "27.7172", "85.3240", "--json")
    assert code == 0
    body = json.loads(out)
    assert body["inside"] is False and body["chain"] == []
    assert body["nearest"]["code"].startswith("540234")  # Gyirong County
    assert 10_000 < body["distance_m"] < 200_000


def test_route_refuses_an_impossible_point_with_one_line(backend, sample_db, capsys):
    code, _, err = run_cli(capsys, "route", "91", "88", "--json")
    assert code == 2
    assert err.strip() == "cannot route: latitude 91.0 is outside -90..90"


def test_loading_the_sample_again_changes_nothing(backend, sample_db, capsys):
    code, out, _ = run_cli(capsys, "grid", "load-sample")
    assert code == 0 and "0 created, 1910 updated" in out
    code, out, _ = run_cli(capsys, "grid", "load-sample", "--if-empty")
    assert "already loaded" in out
    _, stats, _ = run_cli(capsys, "grid", "stats", "--json")
    assert json.loads(stats)["village"] == {"cells": 1687, "with_supervisor": 1687}


def test_a_bad_grid_file_is_refused_whole_with_the_feature_named(
    backend, sample_db, capsys, tmp_path
):
    bad = tmp_path / "bad.geojson"
    bad.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {
                            "code": "X1",
                            "level": "village",
                            "parent": "NOPE",
                            "name_zh": "x",
                        },
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[88, 29], [88.1, 29], [88.1, 29.1], [88, 29]]],
                        },
                    }
                ],
            }
        )
    )
    code, _, err = run_cli(capsys, "grid", "import", str(bad))
    assert code == 1
    assert "nothing was changed" in err and "X1" in err and "unknown parent NOPE" in err
    code, _, err = run_cli(capsys, "grid", "import", str(tmp_path / "missing.geojson"))
    assert code == 1 and "no such file" in err


def add_case_with_media(path: Path) -> None:
    """Case 2026-00007 with four photos and recordings, one in each state the fetcher leaves."""
    from bot.storage.db import Database
    from bot.storage.models import Case, CasePhoto, Media, Person
    from tests.conftest import run_blocking

    async def add() -> None:
        database = Database.from_url(f"sqlite+aiosqlite:///{path}")
        try:
            async with database.transaction() as session:
                person = Person(channel="telegram", channel_user_id="71", chat_id="71")
                session.add(person)
                session.add(Media(sha256="ab" * 32, mime_type="image/jpeg", size=1024))
                await session.flush()
                case = Case(
                    number="2026-00007",
                    category="noise",
                    description="Generators all night",
                    lat=29.27,
                    lon=88.88,
                    origin_cell_code="540202001001",
                    cell_code="540202001001",
                    reporter_id=person.id,
                )
                session.add(case)
                await session.flush()
                session.add_all(
                    [
                        CasePhoto(
                            case_id=case.id,
                            channel="telegram",
                            file_ref="f1",
                            sha256="ab" * 32,
                            fetch_status="stored",
                            fetch_attempts=1,
                            next_fetch_at=None,
                        ),
                        CasePhoto(
                            case_id=case.id,
                            channel="telegram",
                            file_ref="f2",
                            fetch_attempts=2,
                            fetch_error="TimeoutError: ",
                        ),
                        CasePhoto(
                            case_id=case.id,
                            channel="wechat",
                            file_ref="f3",
                            fetch_status="refused",
                            fetch_attempts=1,
                            next_fetch_at=None,
                            fetch_error="30000000 bytes, over the limit of 20000000",
                        ),
                        CasePhoto(
                            case_id=case.id,
                            kind="voice",
                            channel="wechat",
                            file_ref="f4",
                            fetch_status="failed",
                            fetch_attempts=5,
                            next_fetch_at=None,
                            fetch_error="the platform no longer has the file",
                        ),
                    ]
                )
        finally:
            await database.dispose()

    run_blocking(add())


def test_cases_show_says_where_each_photo_fetch_stands(backend, sample_db, capsys):
    add_case_with_media(sample_db)
    code, out, _ = run_cli(capsys, "cases", "show", "2026-00007")
    assert code == 0
    lines = out.splitlines()
    photos = lines[lines.index("photos and recordings:") + 1 :]
    assert [line.split(": ", 1)[1] for line in photos] == [
        "stored (image/jpeg)",
        "pending, 2 attempts so far; last error: TimeoutError: ",
        "refused after 1 attempt: 30000000 bytes, over the limit of 20000000",
        "failed after 5 attempts: the platform no longer has the file",
    ]
    assert photos[3].lstrip().split(",")[0].endswith("voice via wechat")

    code, out, _ = run_cli(capsys, "cases", "show", "2026-00007", "--json")
    shown = json.loads(out)["photos"]
    assert [(p["kind"], p["status"], p["attempts"], p["mime_type"]) for p in shown] == [
        ("report", "stored", 1, "image/jpeg"),
        ("report", "pending", 2, None),
        ("report", "refused", 1, None),
        ("voice", "failed", 5, None),
    ]
    assert shown[2]["error"] == "30000000 bytes, over the limit of 20000000"
