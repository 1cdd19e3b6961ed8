"""HTTP handlers of the mail store: liveness and readiness."""

from __future__ import annotations

from aiohttp import web


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process runs its event loop. Says nothing about PostgreSQL or the broker."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: may the web service and the gateway rely on this store?

    Ready will mean "the database pool is open with migrations applied and the broker consumer
    is running".
    That arrives with the mail pipeline (a later issue); until then the service
    truthfully never reports ready.
    """
    reason = "database pool, migrations and broker consumer are not implemented yet"
    return web.json_response({"status": "starting", "reason": reason}, status=503)
