"""CI's short crash proof: `bench/crash.py` with one SIGKILL of a real `python -m bot run`.

Residents file reports through the fake Bot API while the process is killed and restarted;
nothing confirmed may be missing or stored twice, every case must reach its supervisor, and
duplicates stay within what was in flight at the kill. The full run is in bench/README.md.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "crash.py"


@pytest.fixture(scope="module")
def crash() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("bench_crash", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


async def test_a_sigkill_under_load_loses_no_report_and_repeats_only_what_was_in_flight(
    crash: ModuleType,
):
    result = await crash.run("sqlite", residents=6, reports=18, kills=1)
    assert [f.what for f in result.faults] == ["SIGKILL all-1"]
    assert result.confirmed == result.stored == 18
    assert (result.wrong, result.twice, result.unnotified, result.stalled) == (0, 0, 0, 0)
    assert result.duplicates <= result.bound
    assert result.tracebacks == 0
    assert result.ok
