"""Throwaway databases for the tests of the mail store and of services built on it.

The web service's tests run a real mail store in-process; both test suites need
the same "create a database of their own, migrate it, drop it afterwards".
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from mailstore import db
from mailstore.migrations import apply_migrations


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@contextlib.contextmanager
def scratch_database(server_url: str, *, prefix: str) -> Iterator[str]:
    """A migrated database of its own on ``server_url``'s server, dropped on exit.

    Synchronous (it runs its own event loop), so that session-scoped pytest
    fixtures can use it whatever loop the tests run on.
    """
    name = f"{prefix}_{secrets.token_hex(6)}"
    url = with_database(server_url, name)
    asyncio.run(_create_and_migrate(server_url, url, name))
    try:
        yield url
    finally:
        asyncio.run(_drop(server_url, name))


async def _create_and_migrate(server_url: str, url: str, name: str) -> None:
    con = await asyncpg.connect(server_url)
    try:
        await db.create_database(con, name=name)
    finally:
        await con.close()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2, init=db.init_connection)
    try:
        await apply_migrations(pool)
    finally:
        await pool.close()


async def _drop(server_url: str, name: str) -> None:
    con = await asyncpg.connect(server_url)
    try:
        await db.drop_database(con, name=name)
    finally:
        await con.close()
