"""Connection set-up and the types every query module shares."""

from __future__ import annotations

import json
from typing import Any

Pool = Any  # asyncpg.Pool; asyncpg ships no type information
Connection = Any  # asyncpg.Connection
Record = Any  # asyncpg.Record


async def init_connection(con: Connection) -> None:
    """Per-connection set-up: jsonb in and out as Python objects."""
    await con.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def ping(pool: Pool) -> None:
    await pool.fetchval("SELECT 1")
