"""People: who is writing, in which language, and whether we can still reach them."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import Database, insert_ignore
from bot.storage.models import Person, Subscription


async def get_or_create_person(
    session: AsyncSession,
    *,
    channel: str,
    user_id: str,
    chat_id: str,
    display_name: str = "",
) -> Person:
    # Insert-or-ignore first, so two concurrent first messages cannot create two people.
    await insert_ignore(
        session,
        Person,
        {
            "channel": channel,
            "channel_user_id": user_id,
            "chat_id": chat_id,
            "display_name": display_name[:200],
            "reachable": True,
        },
    )
    person = (
        await session.scalars(
            select(Person).where(Person.channel == channel, Person.channel_user_id == user_id)
        )
    ).one()
    if person.chat_id != chat_id:
        person.chat_id = chat_id
    if display_name and person.display_name != display_name[:200]:
        person.display_name = display_name[:200]
    if not person.reachable:
        person.reachable = True  # they wrote to us, so they have unblocked the bot
    return person


async def mark_unreachable(database: Database, channel: str, chat_id: str) -> None:
    """The platform said this chat is gone (blocked the bot, deleted the account)."""
    async with database.transaction() as session:
        await session.execute(
            update(Person)
            .where(Person.channel == channel, Person.chat_id == chat_id)
            .values(reachable=False)
        )


async def unsubscribe_unreachable(session: AsyncSession, person_ids: list[int]) -> None:
    """People the platform says blocked us: mark them unreachable and drop their subscriptions.

    Writing to them again would only fail; they subscribe afresh if they come back.
    """
    if not person_ids:
        return
    await session.execute(update(Person).where(Person.id.in_(person_ids)).values(reachable=False))
    await session.execute(delete(Subscription).where(Subscription.person_id.in_(person_ids)))


async def mark_unreachable_and_unsubscribe(database: Database, channel: str, chat_id: str) -> None:
    """The unreachable hook: as `mark_unreachable`, and their subscriptions end too."""
    async with database.transaction() as session:
        ids = (
            await session.scalars(
                select(Person.id).where(Person.channel == channel, Person.chat_id == chat_id)
            )
        ).all()
        await unsubscribe_unreachable(session, list(ids))


async def locale_of(database: Database, channel: str, user_id: str) -> str | None:
    """The language a person chose, or None when they have not (or are not known)."""
    async with database.reader() as session:
        return (
            await session.scalars(
                select(Person.locale).where(
                    Person.channel == channel, Person.channel_user_id == user_id
                )
            )
        ).first()
