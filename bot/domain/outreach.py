"""Outreach rules: subscription topics, quiet hours, campaign definitions and their templates.

Pure: no I/O. A campaign is parsed from a mapping (the service reads the TOML file); its texts use
Fluent-style placeables ``{ $name }`` and nothing else, so translators see one familiar syntax.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TOPICS: tuple[str, ...] = ("air", "water", "waste", "campaigns", "digest")
CAMPAIGN_LOCALES: tuple[str, ...] = ("zh-Hans", "bo", "en")
KINDS = ("message", "digest")
# Parameters the digest fills in per recipient area; an operator cannot set them.
DIGEST_PARAMS = frozenset({"area", "received", "resolved", "week_start", "week_end"})

_PLACEABLE = re.compile(r"\{\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class CampaignError(ValueError):
    """A campaign file or a request to send one is not valid; the message says what to fix."""


# --- quiet hours --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A nightly window in local time (may wrap past midnight); `None` start means never quiet."""

    start: time | None
    end: time | None

    @classmethod
    def parse(cls, spec: str) -> QuietHours:
        if spec.lower() in {"off", "none", ""}:
            return cls(None, None)
        match = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", spec)
        if not match:
            raise ValueError(f"quiet hours {spec!r}: expected HH:MM-HH:MM or off")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return cls(time(h1, m1), time(h2, m2))

    def is_quiet(self, local: datetime) -> bool:
        if self.start is None or self.end is None or self.start == self.end:
            return False
        now = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def ends_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """When the quiet window containing `moment` ends (`moment` itself if not quiet)."""
        local = moment.astimezone(tz)
        if not self.is_quiet(local) or self.end is None:
            return moment
        end = datetime.combine(local.date(), self.end, tzinfo=tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=tz)
        return end.astimezone(moment.tzinfo)


# --- campaigns ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    description: str
    default: str | None = None
    computed: bool = False  # filled in by Jingtu (the digest), never by an operator

    @property
    def required(self) -> bool:
        return self.default is None and not self.computed


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    topic: str
    title: Mapping[str, str]
    text: Mapping[str, str]
    params: Mapping[str, Param] = field(default_factory=dict)
    kind: str = "message"
    urgent: bool = False  # urgent campaigns are not held by quiet hours
    photo: str | None = None

    @classmethod
    def from_mapping(cls, campaign_id: str, data: Mapping[str, Any]) -> Campaign:
        """Validate a parsed campaign file; every problem is listed in one CampaignError."""
        problems: list[str] = []
        if not _ID.match(campaign_id):
            problems.append(f"id {campaign_id!r}: use lower-case letters, digits and hyphens")
        topic = data.get("topic")
        if topic not in TOPICS:
            problems.append(f"topic {topic!r}: must be one of {', '.join(TOPICS)}")
        kind = data.get("kind", "message")
        if kind not in KINDS:
            problems.append(f"kind {kind!r}: must be one of {', '.join(KINDS)}")
        title = _per_locale(data.get("title"), "title", problems)
        text = _per_locale(data.get("text"), "text", problems)
        params: dict[str, Param] = {}
        raw_params = data.get("params", {})
        if not isinstance(raw_params, Mapping):
            problems.append("params: must be a table of [params.NAME] entries")
            raw_params = {}
        for name, spec in raw_params.items():
            if not isinstance(spec, Mapping) or not isinstance(spec.get("description"), str):
                problems.append(f"params.{name}: needs a description")
                continue
            default = spec.get("default")
            params[name] = Param(
                name=name,
                description=spec["description"],
                default=None if default is None else str(default),
                computed=bool(spec.get("computed", False)),
            )
        if kind == "digest":
            missing = DIGEST_PARAMS - {n for n, p in params.items() if p.computed}
            if missing:
                problems.append(f"digest: declare computed params {', '.join(sorted(missing))}")
        for locale, body in text.items():
            used = placeables(body)
            for name in sorted(used - params.keys()):
                problems.append(f"text.{locale}: uses {{ ${name} }} which is not declared")
            for name in sorted(params.keys() - used):
                problems.append(f"text.{locale}: never uses declared parameter {name}")
        photo = data.get("photo") or None
        if photo is not None and not isinstance(photo, str):
            problems.append("photo: must be a file id or URL string")
        if problems:
            raise CampaignError(f"campaign {campaign_id}: " + "; ".join(problems))
        return cls(
            id=campaign_id,
            topic=str(topic),
            title=title,
            text=text,
            params=params,
            kind=str(kind),
            urgent=bool(data.get("urgent", False)),
            photo=photo,
        )

    def resolve_params(self, given: Mapping[str, str]) -> dict[str, str]:
        """Operator-given values plus defaults; unknown, computed or missing ones are refused."""
        problems = []
        for name in given:
            if name not in self.params:
                known = ", ".join(p for p, v in self.params.items() if not v.computed) or "none"
                problems.append(f"unknown parameter {name!r} (this campaign takes: {known})")
            elif self.params[name].computed:
                problems.append(f"parameter {name!r} is filled in by Jingtu and cannot be set")
        resolved = {n: p.default for n, p in self.params.items() if p.default is not None}
        resolved.update({k: v for k, v in given.items() if k in self.params})
        for name, spec in self.params.items():
            if spec.required and name not in resolved:
                problems.append(f"missing parameter {name} ({spec.description}): --param {name}=…")
        if problems:
            raise CampaignError(f"campaign {self.id}: " + "; ".join(problems))
        return {k: v for k, v in resolved.items() if v is not None}

    def render(self, locale: str, values: Mapping[str, object]) -> str:
        body = self.text.get(locale) or self.text["zh-Hans"]
        return fill(body, values)


def placeables(body: str) -> set[str]:
    return set(_PLACEABLE.findall(body))


def fill(body: str, values: Mapping[str, object]) -> str:
    return _PLACEABLE.sub(lambda m: str(values.get(m.group(1), m.group(0))), body)


def _per_locale(value: object, what: str, problems: list[str]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        problems.append(f"{what}: needs a table with {', '.join(CAMPAIGN_LOCALES)}")
        return {}
    out: dict[str, str] = {}
    for locale in CAMPAIGN_LOCALES:
        body = value.get(locale)
        if not isinstance(body, str) or not body.strip():
            problems.append(f"{what}.{locale}: missing or empty")
        else:
            out[locale] = body.strip()
    for extra in sorted(set(value) - set(CAMPAIGN_LOCALES)):
        problems.append(f"{what}.{extra}: not a supported locale")
    return out


# --- cron ---------------------------------------------------------------------------------------

_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def standard_cron(expr: str) -> str:
    """Numeric days of week the way cron means them (0 and 7 = Sunday), as names.

    APScheduler 3 counts 0 = Monday, so "0 9 * * 1" would silently fire on Tuesdays.
    """
    fields = expr.split()
    if len(fields) != 5:
        return expr  # the trigger reports the wrong field count itself
    fields[4] = re.sub(
        r"(?<![A-Za-z/])([0-7])(?![0-9])",
        lambda m: _DOW_NAMES[int(m.group(1))],
        fields[4],
    )
    return " ".join(fields)
