"""The error middleware's mapping of database outages: a call that meets PostgreSQL down
or starting up is 503 with Retry-After, which callers treat as temporary; a bug is
still a 500 with its traceback in the log."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailstore.middlewares import OUTAGE_RETRY_AFTER, error_middleware


def _closed_mid_transaction() -> BaseException:
    # What a dropped connection looks like from Transaction.__aexit__ (db.is_outage).
    try:
        raise asyncpg.ConnectionDoesNotExistError("connection was closed")
    except asyncpg.ConnectionDoesNotExistError:
        try:
            raise asyncpg.InterfaceError("the underlying connection is closed")
        except asyncpg.InterfaceError as exc:
            return exc


# (id, what the handler raises, status)
RAISED = [
    ("starting-up", asyncpg.CannotConnectNowError("the database system is starting up"), 503),
    ("shutting-down", asyncpg.AdminShutdownError("terminating connection"), 503),
    ("refused", ConnectionRefusedError(111, "Connection refused"), 503),
    ("too-many-connections", asyncpg.TooManyConnectionsError("too many clients"), 503),
    ("closed-mid-transaction", _closed_mid_transaction(), 503),
    ("a-bug", RuntimeError("bug"), 500),
]


@pytest.mark.parametrize(("raised", "status"), [r[1:] for r in RAISED], ids=[r[0] for r in RAISED])
async def test_database_outages_are_503_with_retry_after(
    raised: BaseException, status: int
) -> None:
    async def handler(request: web.Request) -> web.Response:
        raise raised

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/v1/directory", handler)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/v1/directory")

        assert response.status == status
        if status == 503:
            assert response.headers["Retry-After"] == str(OUTAGE_RETRY_AFTER)
            assert await response.json() == {"error": "database unavailable"}
        else:
            assert "Retry-After" not in response.headers
