"""HTTP handlers of the IMAP service: liveness, readiness and metrics.

``/metrics`` is open, as the other services' are: compose does not publish the HTTP
port, and the numbers hold no addresses or names.
"""

from __future__ import annotations

from aiohttp import web

from imap_gateway.keys import BACKEND, LISTENERS, METRICS
from imap_gateway.metrics import CONTENT_TYPE_LATEST


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process runs its event loop. Says nothing about the mail store."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: may IMAP clients be sent here? The listeners are bound and not
    stopping, and the backend says it can serve (each probe asks it afresh)."""
    app = request.app
    reason = None
    if LISTENERS not in app:
        reason = "IMAP listeners are not started"
    elif app[LISTENERS].closing:
        reason = "shutting down"
    else:
        reason = await app[BACKEND].unready_reason()
    if reason is not None:
        return web.json_response({"status": "unavailable", "reason": reason}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition format."""
    response = web.Response(body=request.app[METRICS].render())
    # CONTENT_TYPE_LATEST carries a version parameter, which aiohttp's content_type
    # argument would refuse; set the header as it is.
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
