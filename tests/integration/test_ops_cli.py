"""`grid find`, `grid list` and `open311 key …` as an operator runs them, on a real database."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_cli import run_cli, sample_db  # noqa: F401 (a fixture)

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_grid_find_takes_a_code_or_a_name_in_any_language(backend, sample_db, capsys):  # noqa: F811
    for text in ("540202", "桑珠孜区", "བསམ་གྲུབ་རྩེ།", "samzhubzê district"):
        code, out, _ = run_cli(capsys, "grid", "find", text, "--json")
        assert code == 0, text
        found = json.loads(out)
        assert found[0] == {
            "code": "540202",
            "level": "county",
            "parent": "540200",
            "name_zh": "桑珠孜区",
            "name_bo": "བསམ་གྲུབ་རྩེ།",
            "name_en": "Samzhubzê District",
        }, text

    code, out, _ = run_cli(capsys, "grid", "find", "T06 Village Grid 005", "--limit", "5")
    assert code == 0
    assert [line.split()[1] for line in out.splitlines()] == [
        f"5402{n:02d}006005" for n in (2, 21, 22, 23, 24)
    ]


def test_grid_find_says_so_when_nothing_matches(backend, sample_db, capsys):  # noqa: F811
    code, out, err = run_cli(capsys, "grid", "find", "Atlantis")
    assert (code, out) == (1, "")
    assert "no cell has the code or a name containing 'Atlantis'" in err
    assert run_cli(capsys, "grid", "find", "Atlantis", "--json")[:2] == (0, "[]\n")


def test_grid_list_by_level_and_parent(backend, sample_db, capsys):  # noqa: F811
    code, out, _ = run_cli(capsys, "grid", "list", "--level", "county", "--json")
    assert code == 0
    counties = json.loads(out)
    assert len(counties) == 18 and {c["parent"] for c in counties} == {"540200"}

    code, out, _ = run_cli(capsys, "grid", "list", "--parent", "540202", "--json")
    townships = json.loads(out)
    assert [c["level"] for c in townships] == ["township"] * len(townships)
    assert all(c["parent"] == "540202" for c in townships)

    code, out, _ = run_cli(
        capsys, "grid", "list", "--parent", "540202", "--level", "village", "--json"
    )
    villages = json.loads(out)
    assert villages and all(c["code"].startswith("540202") for c in villages)
    assert {c["parent"] for c in villages} == {t["code"] for t in townships}


def test_grid_list_refuses_an_unknown_parent(backend, sample_db, capsys):  # noqa: F811
    code, out, err = run_cli(capsys, "grid", "list", "--parent", "999")
    assert (code, out) == (1, "")
    assert err.strip() == "cannot list: no cell has the code '999' (find one with: grid find NAME)"


def test_grid_commands_have_help(backend, sample_db, capsys):  # noqa: F811
    for command in ("find", "list"):
        with pytest.raises(SystemExit) as exit_:
            run_cli(capsys, "grid", command, "--help")
        assert exit_.value.code == 0
        assert f"python -m bot grid {command}" in capsys.readouterr().out


def test_open311_keys_are_made_listed_and_revoked(backend, sample_db, capsys):  # noqa: F811
    code, out, _ = run_cli(capsys, "open311", "key", "add", "city-hotline", "--json")
    assert code == 0
    made = json.loads(out)
    assert made["name"] == "city-hotline" and len(made["api_key"]) >= 40

    code, _, err = run_cli(capsys, "open311", "key", "add", "city-hotline")
    assert code == 1 and "exists already" in err

    code, out, _ = run_cli(capsys, "open311", "key", "list", "--json")
    [listed] = json.loads(out)
    assert (listed["name"], listed["revoked_at"], listed["requests"]) == ("city-hotline", None, 0)
    assert made["api_key"] not in out  # only its hash is kept

    assert run_cli(capsys, "open311", "key", "revoke", "city-hotline")[0] == 0
    code, out, _ = run_cli(capsys, "open311", "key", "list", "--json")
    assert json.loads(out)[0]["revoked_at"] is not None
    code, _, err = run_cli(capsys, "open311", "key", "revoke", "city-hotline")
    assert code == 1 and "no active key named 'city-hotline'" in err
