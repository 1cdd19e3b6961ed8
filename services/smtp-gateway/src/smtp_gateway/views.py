"""HTTP handlers of the gateway: liveness and readiness."""

from __future__ import annotations

from aiohttp import web


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process runs its event loop. Says nothing about the broker."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: may mail be sent to this gateway?

    Ready will mean "both SMTP listeners are bound and the broker connection is open
    with publisher confirms". Those resources arrive with the mail pipeline (a later
    issue); until then the gateway truthfully never reports ready.
    """
    reason = "SMTP listeners and broker connection are not implemented yet"
    return web.json_response({"status": "starting", "reason": reason}, status=503)
