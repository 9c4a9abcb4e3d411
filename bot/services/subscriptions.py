"""Subscriptions: which topics a person follows, for which area. Called inside a Turn's session."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.outreach import TOPICS
from bot.storage.models import Subscription


async def subscriptions_of(session: AsyncSession, person_id: int) -> list[Subscription]:
    rows = await session.scalars(
        select(Subscription).where(Subscription.person_id == person_id).order_by(Subscription.id)
    )
    subs = list(rows.all())
    return sorted(subs, key=lambda s: TOPICS.index(s.topic) if s.topic in TOPICS else 99)


async def set_subscriptions(
    session: AsyncSession,
    person_id: int,
    topics: Iterable[str],
    area: str | None,
    *,
    now: datetime,
) -> None:
    """Exactly `topics` afterwards, all for `area` (None: the whole city)."""
    wanted = [t for t in TOPICS if t in set(topics)]
    current = {s.topic: s for s in await subscriptions_of(session, person_id)}
    for topic, sub in current.items():
        if topic not in wanted:
            await session.delete(sub)
        elif sub.area_cell_code != area:
            sub.area_cell_code = area
    for topic in wanted:
        if topic not in current:
            session.add(
                Subscription(person_id=person_id, topic=topic, area_cell_code=area, created_at=now)
            )
    await session.flush()


async def unsubscribe(session: AsyncSession, person_id: int, topic: str | None = None) -> int:
    """Drop one topic, or every topic with None; returns how many were dropped."""
    query = delete(Subscription).where(Subscription.person_id == person_id)
    if topic is not None:
        query = query.where(Subscription.topic == topic)
    result = await session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)
