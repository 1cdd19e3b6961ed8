"""The administrators' audit log (migration 0022), written in the action's transaction.

``audited`` opens a transaction, hands the caller a pool-shaped view of its connection
and records the row when the block ends without an error: the functions written for the
pool (``set_disabled``, ``delete_account``, ``add_alias``...) run unchanged inside it,
their own ``transaction()`` becoming a savepoint (asyncpg nests them so). An action that
raises (no such account) rolls back and leaves no row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mailstore.db.connection import Connection, Pool, Record


class InTransaction:
    """A pool whose ``acquire`` lends the one connection already in a transaction."""

    def __init__(self, con: Connection) -> None:
        self._con = con

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        yield self._con

    def __getattr__(self, name: str) -> Any:
        # execute, fetch, fetchrow, fetchval, executemany: the connection's own.
        return getattr(self._con, name)


@asynccontextmanager
async def audited(
    pool: Pool, *, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None
) -> AsyncIterator[InTransaction]:
    """Run the block's statements and the audit row as one transaction.

    ``detail`` may be filled in by the block (what the action found or made) before the
    row is written at its end."""
    found = detail if detail is not None else {}
    async with pool.acquire() as con, con.transaction():
        yield InTransaction(con)
        await con.execute(
            "INSERT INTO admin_audit (actor, action, target, detail) VALUES ($1, $2, $3, $4)",
            actor,
            action,
            target,
            found,
        )


async def list_audit(pool: Pool, *, before: int | None, limit: int) -> list[Record]:
    """Newest first; ``before``: the last id of the previous page (keyset paging)."""
    return list(
        await pool.fetch(
            """
            SELECT id, at, actor, action, target, detail FROM admin_audit
            WHERE $1::bigint IS NULL OR id < $1 ORDER BY id DESC LIMIT $2
            """,
            before,
            limit,
        )
    )
