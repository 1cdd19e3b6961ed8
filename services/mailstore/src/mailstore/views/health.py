"""Liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio

import asyncpg
from aiohttp import web

from mailstore import db
from mailstore.db import DATABASE_OUTAGE
from mailstore.keys import CONSUMER, METRICS, POOL
from mailstore.metrics import CONTENT_TYPE
from mailstore.openapi import OPENAPI

READINESS_DB_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process runs its event loop. Says nothing about PostgreSQL or the broker."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database answers and the consumer is on its queue."""
    try:
        async with asyncio.timeout(READINESS_DB_TIMEOUT):
            await db.ping(request.app[POOL])
    except (*DATABASE_OUTAGE, asyncpg.InterfaceError) as exc:
        reason = f"database unavailable: {type(exc).__name__}"
        return web.json_response({"status": "unavailable", "reason": reason}, status=503)
    consumer = request.app.get(CONSUMER)
    if consumer is not None and not consumer.ready:
        reason = "not consuming from the broker"
        return web.json_response({"status": "unavailable", "reason": reason}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=request.app[METRICS].render())
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)
