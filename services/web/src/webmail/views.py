"""HTTP handlers of the web service: liveness and readiness."""

from __future__ import annotations

from aiohttp import web


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process runs its event loop. Says nothing about the mail store."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: may users be sent to this web service?

    Ready will mean "templates are loaded and the mail store answers with our token".
    That arrives with the mail pipeline (a later issue); until then the service
    truthfully never reports ready.
    """
    reason = "templates and the mail store client are not implemented yet"
    return web.json_response({"status": "starting", "reason": reason}, status=503)
