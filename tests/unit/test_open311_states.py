"""Our case states as GeoReport v2's two, each with a status note in every locale."""

from __future__ import annotations

import pytest

from bot.domain.cases import OPEN_STATUSES, Status
from bot.services.open311 import open_or_closed
from messages import LOCALES, text


def test_a_case_is_open_exactly_while_someone_must_act_on_it():
    assert {s for s in Status if open_or_closed(s.value) == "open"} == set(OPEN_STATUSES)
    assert open_or_closed("resolved") == "closed"
    assert open_or_closed("merged") == "closed"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_state_has_a_status_note(locale: str):
    for status in Status:
        key = f"open311-status-{status.value}"
        note = text(locale, key, cell="X", number="2026-00001")
        assert note != key and note.strip(), (locale, status)
