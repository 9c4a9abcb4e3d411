"""The campaign library: every campaign speaks all three languages and uses its parameters."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.outreach import (
    CAMPAIGN_LOCALES,
    TOPICS,
    Campaign,
    CampaignError,
    QuietHours,
    placeables,
    standard_cron,
)
from bot.services.campaigns import LIBRARY_DIR, cron_trigger, load_library

FILES = sorted(LIBRARY_DIR.glob("*.toml"))


def test_the_library_ships_the_three_shigatse_campaigns_the_bulletin_and_the_digest():
    assert set(load_library()) == {
        "nyang-river",
        "little-hands",
        "beautiful-shigatse",
        "air-quality-monthly",
        "weekly-digest",
    }
    titles = {c.title["zh-Hans"] for c in load_library().values()}
    assert {"保护年楚河·我们在行动", "小手拉大手", "美丽日喀则·我是行动者"} <= titles


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_campaign_has_all_three_locales_and_uses_exactly_its_declared_parameters(path):
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert set(data["text"]) == set(CAMPAIGN_LOCALES)
    assert set(data["title"]) == set(CAMPAIGN_LOCALES)
    declared = set(data.get("params", {}))
    for locale in CAMPAIGN_LOCALES:
        assert placeables(data["text"][locale]) == declared, locale
    assert data["topic"] in TOPICS
    campaign = Campaign.from_mapping(path.stem, data)  # the loader's own checks agree
    assert campaign.id == path.stem


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_campaign_renders_without_leftover_placeholders(path):
    campaign = load_library()[path.stem]
    values = {name: "X" for name in campaign.params}
    for locale in CAMPAIGN_LOCALES:
        rendered = campaign.render(locale, values)
        assert "{" not in rendered and "$" not in rendered


def test_the_tibetan_drafts_are_marked_for_review_by_a_native_speaker():
    for path in FILES:
        assert "Machine-drafted Tibetan" in path.read_text(encoding="utf-8"), path.name


def test_a_campaign_missing_a_locale_or_using_an_undeclared_parameter_is_refused():
    data = {
        "topic": "air",
        "title": {"zh-Hans": "标题", "en": "Title"},
        "text": {"zh-Hans": "{ $month }", "en": "{ $mnth }", "bo": "{ $month }"},
        "params": {"month": {"description": "the month"}},
    }
    with pytest.raises(CampaignError) as refused:
        Campaign.from_mapping("broken", data)
    message = str(refused.value)
    assert "title.bo: missing" in message
    assert "text.en: uses { $mnth } which is not declared" in message
    assert "text.en: never uses declared parameter month" in message


def test_operator_parameters_are_checked_against_the_declaration():
    bulletin = load_library()["air-quality-monthly"]
    with pytest.raises(CampaignError, match="missing parameter good_days_share"):
        bulletin.resolve_params({"month": "11月", "pm25": "12"})
    with pytest.raises(CampaignError, match="unknown parameter 'aqi'"):
        bulletin.resolve_params(
            {"month": "11月", "pm25": "12", "good_days_share": "98", "aqi": "1"}
        )
    values = bulletin.resolve_params({"month": "11月", "pm25": "12", "good_days_share": "98.3"})
    assert values["change"] == "0"  # the default
    assert "98.3%" in bulletin.render("zh-Hans", values)
    digest = load_library()["weekly-digest"]
    with pytest.raises(CampaignError, match="filled in by Jingtu"):
        digest.resolve_params({"received": "5"})


def test_quiet_hours_wrap_past_midnight_and_end_in_the_morning():
    tz = ZoneInfo("Asia/Shanghai")
    quiet = QuietHours.parse("22:00-08:00")
    assert quiet.is_quiet(datetime(2026, 12, 1, 23, 0, tzinfo=tz))
    assert quiet.is_quiet(datetime(2026, 12, 1, 7, 59, tzinfo=tz))
    assert not quiet.is_quiet(datetime(2026, 12, 1, 8, 0, tzinfo=tz))
    assert not quiet.is_quiet(datetime(2026, 12, 1, 21, 59, tzinfo=tz))
    late = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 23:00 local
    assert quiet.ends_after(late, tz) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    early = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # 06:00 local
    assert quiet.ends_after(early, tz) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    assert not QuietHours.parse("off").is_quiet(datetime(2026, 12, 1, 23, 0, tzinfo=tz))


def test_numeric_weekdays_in_cron_mean_what_cron_means():
    assert standard_cron("0 9 * * 1") == "0 9 * * mon"
    assert standard_cron("0 9 * * 0,7") == "0 9 * * sun,sun"
    assert standard_cron("0 9 * * 1-5") == "0 9 * * mon-fri"
    assert standard_cron("*/5 * * * */2") == "*/5 * * * */2"
    tz = ZoneInfo("Asia/Shanghai")
    monday = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 local
    fire = cron_trigger("0 9 * * 1", tz).get_next_fire_time(None, monday)
    assert fire is not None and fire.astimezone(tz).weekday() == 0  # a Monday, not Tuesday
