"""Fixtures for integration tests on the Shigatse sample grid."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.domain.grid import GridIndex
from bot.services.grid import load_grid_index
from bot.storage.db import Database


@pytest.fixture
async def sample_database(sample_database_url: str) -> AsyncIterator[Database]:
    """A migrated database (on each backend) with the sample grid and roster loaded."""
    db = Database.from_url(sample_database_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def sample_grid(sample_database: Database) -> GridIndex:
    return await load_grid_index(sample_database)
