"""Creating databases and the migration runner's bookkeeping."""

from __future__ import annotations

from mailstore.db.connection import Connection

# pg_advisory_xact_lock key of the migration runner: an arbitrary constant ("lpst" in ASCII)
# that every replica agrees on.
MIGRATION_LOCK_KEY = 0x6C707374


def quote_ident(name: str) -> str:
    # CREATE DATABASE takes no parameters, so the name must be quoted into the statement;
    # doubling embedded quotes is PostgreSQL's own quote_ident rule.
    return '"' + name.replace('"', '""') + '"'


async def create_database(con: Connection, *, name: str) -> None:
    await con.execute("CREATE DATABASE " + quote_ident(name))


async def drop_database(con: Connection, *, name: str) -> None:
    await con.execute("DROP DATABASE IF EXISTS " + quote_ident(name) + " WITH (FORCE)")


async def lock_migrations(con: Connection) -> None:
    # Transaction-scoped: released by COMMIT or ROLLBACK, so a crashed runner cannot leak it.
    await con.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)


async def applied_migration_versions(con: Connection) -> set[int]:
    # Safe to run concurrently only under lock_migrations: two CREATE TABLE IF NOT EXISTS
    # racing each other can still fail on pg_type's unique index.
    await con.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    return {row["version"] for row in await con.fetch("SELECT version FROM schema_migrations")}


async def record_migration(con: Connection, *, version: int, name: str) -> None:
    await con.execute(
        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
    )
