"""The pool's reset (db.keep_session): no reset query, yet nothing left behind."""

from __future__ import annotations

from typing import Any

import asyncpg

from mailstore import db


async def test_a_released_connection_has_no_transaction_left_open(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1, reset=db.keep_session)
    try:
        async with pool.acquire() as con:
            # An unmanaged transaction, as a bug would leave it.
            await con.execute("BEGIN")
            await con.execute("CREATE TEMPORARY TABLE left_behind (x int)")
        async with pool.acquire() as con:
            in_transaction = con.is_in_transaction()
            table = await con.fetchval("SELECT to_regclass('pg_temp.left_behind')")
            timeout = await con.fetchval("SHOW lock_timeout")
            async with con.transaction():
                await con.execute("SET LOCAL lock_timeout = '5s'")
        async with pool.acquire() as con:
            after_local = await con.fetchval("SHOW lock_timeout")
    finally:
        await pool.close()

    assert not in_transaction
    assert table is None
    assert after_local == timeout


async def test_the_services_sessions_never_compile_statements_with_jit(client: Any) -> None:
    # A short statement whose cost estimate passes jit_above_cost spent 30 ms compiling
    # to run in 3 (db.SESSION_SETTINGS); the service's own pool must carry the setting.
    from mailstore.keys import POOL

    pool = client.server.app[POOL]
    async with pool.acquire() as con:
        jit = await con.fetchval("SHOW jit")

    assert jit == "off"
