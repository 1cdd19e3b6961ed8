from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from mailstore import db
from mailstore.main import ensure_database
from mailstore.migrations import apply_migrations, load_migrations
from mailstore.testing import with_database

SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    """A database of its own that does not exist yet; dropped afterwards."""
    name = f"mailstore_mig_{secrets.token_hex(6)}"
    try:
        yield with_database(SERVER_URL, name)
    finally:
        con = await asyncpg.connect(SERVER_URL)
        try:
            await db.drop_database(con, name=name)
        finally:
            await con.close()


async def _pool(url: str) -> Any:
    return await asyncpg.create_pool(url, min_size=1, max_size=2, init=db.init_connection)


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [migration.version for migration in load_migrations()]

    assert versions == list(range(1, len(versions) + 1))


async def test_missing_database_is_created_then_migrations_apply_once(empty_database: str) -> None:
    await ensure_database(empty_database)
    await ensure_database(empty_database)  # exists now: nothing to do
    pool = await _pool(empty_database)
    try:
        first = await apply_migrations(pool)
        second = await apply_migrations(pool)
        recorded = await pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await pool.close()

    assert first == [migration.version for migration in load_migrations()]
    assert second == []
    assert [row["version"] for row in recorded] == first


async def test_concurrent_runners_apply_each_migration_exactly_once(empty_database: str) -> None:
    await ensure_database(empty_database)
    pools = [await _pool(empty_database) for _ in range(4)]
    try:
        results = await asyncio.gather(*(apply_migrations(pool) for pool in pools))
        count = await pools[0].fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await asyncio.gather(*(pool.close() for pool in pools))

    applied = [versions for versions in results if versions]
    assert len(applied) == 1
    assert count == len(load_migrations())
