"""Shared fixtures: a migrated database on SQLite and on PostgreSQL for every test that asks.

Each test gets a fresh database copied from a template migrated once per session: a file copy on
SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL. PostgreSQL tests skip with the reason shown
when no server answers — except under CI (CI=true), where an unreachable server fails them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.commands.grid import load_sample
from bot.storage import migrate
from bot.storage.db import Database

T = TypeVar("T")

POSTGRES_URL = os.environ.get(
    "JINGTU_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
UNDER_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite", "postgres"]


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is running here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


class PostgresTemplates:
    """Creates per-test databases from a template migrated once."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"jingtu_t{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = f"{self.prefix}_tpl"
        self.created: list[str] = []
        self.error: str | None = None
        self.has_sample = False

    async def _admin(self, *statements: str) -> None:
        import asyncpg

        dsn = self.admin_url.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def prepare(self) -> None:
        try:
            await self._admin(f'CREATE DATABASE "{self.template}"')
        except Exception as exc:  # any failure to reach or use the server
            self.error = f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}: {exc}"
            return
        database = Database.from_url(_with_database(self.admin_url, self.template))
        try:
            await migrate.upgrade(database)
        finally:
            await database.dispose()

    async def sample_template(self) -> str:
        """A template with the Shigatse sample grid loaded, built on first use."""
        name = f"{self.template}_sample"
        if not self.has_sample:
            await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            database = Database.from_url(_with_database(self.admin_url, name))
            try:
                await load_sample(database)
            finally:
                await database.dispose()
            self.has_sample = True
        return name

    async def new_database(self, template: str | None = None) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        source = template or self.template
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        self.created.append(name)
        return _with_database(self.admin_url, name)

    async def drop(self, url: str) -> None:
        name = url.rpartition("/")[2]
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def cleanup(self) -> None:
        if self.error is None:
            await self._admin(
                f'DROP DATABASE IF EXISTS "{self.template}_sample" WITH (FORCE)',
                f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)',
            )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def build() -> None:
        database = Database.from_url(f"sqlite+aiosqlite:///{path}")
        await migrate.upgrade(database)
        await database.dispose()

    run_blocking(build())
    return path


@pytest.fixture(scope="session")
def postgres_templates() -> Iterator[PostgresTemplates]:
    templates = PostgresTemplates(POSTGRES_URL)
    run_blocking(templates.prepare())
    yield templates
    run_blocking(templates.cleanup())


def require_postgres(templates: PostgresTemplates) -> None:
    if templates.error is None:
        return
    if UNDER_CI:
        pytest.fail(f"CI=true and {templates.error}")
    pytest.skip(templates.error)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(
    backend: str,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_templates: PostgresTemplates,
) -> AsyncIterator[str]:
    if backend == "sqlite":
        path = tmp_path / "jingtu.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    require_postgres(postgres_templates)
    url = await postgres_templates.new_database()
    try:
        yield url
    finally:
        await postgres_templates.drop(url)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database.from_url(database_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_sample_template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    path = tmp_path_factory.mktemp("sample") / "sample.db"
    shutil.copyfile(sqlite_template, path)

    async def build() -> None:
        database = Database.from_url(f"sqlite+aiosqlite:///{path}")
        await load_sample(database)
        await database.dispose()

    run_blocking(build())
    return path


@pytest.fixture
async def sample_database_url(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    postgres_templates: PostgresTemplates,
) -> AsyncIterator[str]:
    """A fresh database with the Shigatse sample grid and roster already loaded."""
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_sample_template")
        path = tmp_path / "jingtu.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    require_postgres(postgres_templates)
    url = await postgres_templates.new_database(await postgres_templates.sample_template())
    try:
        yield url
    finally:
        await postgres_templates.drop(url)
