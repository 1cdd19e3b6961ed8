"""Versioned schema migrations, applied at start-up in order, each exactly once.

Migrations are the ``NNNN_name.sql`` files beside this module. :func:`apply_migrations`
runs every pending one inside a single transaction that first takes a transaction-level
advisory lock, so replicas starting at the same moment queue up behind each other: the
first applies the schema, the others then find nothing left to do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from mailstore import db

log = logging.getLogger(__name__)

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    found = []
    for entry in resources.files(__package__).iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            version, name = int(match[1]), match[2]
            found.append(Migration(version, name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


async def apply_migrations(pool: asyncpg.Pool, *, upto: int | None = None) -> list[int]:
    """Apply the pending migrations; return the versions applied by this call.

    ``upto`` stops after that version: tests build an older schema to migrate from.
    """
    migrations = [m for m in load_migrations() if upto is None or m.version <= upto]
    async with pool.acquire() as con, con.transaction():
        await db.lock_migrations(con)
        applied = await db.applied_migration_versions(con)
        pending = [migration for migration in migrations if migration.version not in applied]
        for migration in pending:
            log.info("applying migration %04d_%s", migration.version, migration.name)
            await con.execute(migration.sql)
            await db.record_migration(con, version=migration.version, name=migration.name)
    return [migration.version for migration in pending]
