"""Locale-aware lists, typed numbers and the report keywords: pure helpers, one place each."""

from __future__ import annotations

import pytest

from handlers.common import typed_number
from handlers.resident import is_report_keyword
from messages import Translator, join_list


@pytest.mark.parametrize(
    ("locale", "items", "expected"),
    [
        ("zh-Hans", ["水", "大气", "噪声"], "水、大气、噪声"),
        ("en", ["water", "air", "noise"], "water, air and noise"),
        ("en", ["water", "air"], "water and air"),
        ("en", ["water"], "water"),
        ("en", [], ""),
        ("bo", ["ཆུ།", "རླུང་།", "ས།"], "ཆུ། རླུང་། ས།"),
        ("bo", ["ཆུ", "ས"], "ཆུ། ས"),
    ],
)
def test_lists_are_joined_as_each_language_writes_them(locale, items, expected):
    assert join_list(locale, items) == expected


def test_a_list_cut_short_ends_in_an_ellipsis_not_and():
    assert Translator("en").join(["2026-00001", "2026-00002"], more=True) == (
        "2026-00001, 2026-00002 …"
    )
    assert Translator("zh-Hans").join(["2026-00001", "2026-00002"], more=True) == (
        "2026-00001、2026-00002 …"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), (" 12 ", 12), ("３", 3), ("１０", 10), ("\u30002\u3000", 2), ("0", 0)],
)
def test_a_typed_number_in_ascii_or_full_width_digits(text, expected):
    assert typed_number(text) == expected


@pytest.mark.parametrize("text", ["", None, "1.5", "-1", "1a", "١", "²", "one", "1 2", "1234567"])
def test_anything_else_is_not_a_typed_number(text):
    assert typed_number(text) is None


@pytest.mark.parametrize("text", ["举报", "Report", "REPORT!", "report。", "སྙན་ཞུ་", "སྙན་སྐུལ།"])
def test_the_report_keywords_in_each_language(text):
    assert is_report_keyword(text)


@pytest.mark.parametrize("text", ["reports", "please report", "举报人", "", None])
def test_other_words_are_not_keywords(text):
    assert not is_report_keyword(text)
