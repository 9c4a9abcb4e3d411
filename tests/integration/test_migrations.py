from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from bot.storage import migrate
from bot.storage.models import Base


async def test_the_migrated_schema_matches_the_models(database):
    def diff(connection: Connection) -> list:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with database.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert len(heads) == 1, f"migrations must form one line, found heads {heads}"
    return heads[0]


async def test_upgrade_is_idempotent_and_reports_head(database):
    await migrate.upgrade(database)
    assert await migrate.current_revision(database) == head_revision()


async def test_downgrade_to_base_and_back_up_works(database):
    await migrate.downgrade(database, "base")
    assert await migrate.current_revision(database) is None
    await migrate.upgrade(database)
    assert await migrate.current_revision(database) == head_revision()
