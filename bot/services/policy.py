"""The deadline policy, built once from the settings, and the bureau's working-day calendar."""

from __future__ import annotations

from datetime import date

from bot.config import Settings
from bot.domain.cases import DeadlinePolicy, parse_deadline_overrides


def is_workday(day: date) -> bool:
    """China's official calendar (adjusted working days included), Mon–Fri beyond its range."""
    try:
        import chinese_calendar

        return bool(chinese_calendar.is_workday(day))
    except (NotImplementedError, ImportError):
        return day.weekday() < 5


def deadline_policy(settings: Settings) -> DeadlinePolicy:
    """Build once at start (the composition root, or a service's constructor) and share it."""
    return DeadlinePolicy(
        ack_hours=settings.ack_hours,
        ack_hours_urgent=settings.ack_hours_urgent,
        resolve_days=settings.resolve_days,
        follow_up_days=settings.follow_up_days,
        follow_up_answer_days=settings.follow_up_answer_days,
        working_days=settings.working_days,
        overrides=parse_deadline_overrides(settings.deadline_overrides),
        timezone=settings.timezone,
        is_workday=is_workday,
    )
