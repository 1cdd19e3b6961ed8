"""HTTP handlers of the gateway: liveness, readiness and metrics."""

from __future__ import annotations

from aiohttp import web

from smtp_gateway.directory import probe_or_reason
from smtp_gateway.keys import CONFIG, DIRECTORY, LISTENERS, METRICS, PUBLISHER
from smtp_gateway.metrics import CONTENT_TYPE_LATEST


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process runs its event loop. Says nothing about the broker."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: may mail be sent to this gateway?

    Ready means both SMTP listeners are bound, the broker connection is open with the
    topology declared, and the mail store's directory answers (RCPT needs it). Each
    probe asks the directory afresh, past the cache.
    """
    app = request.app
    reason = None
    if LISTENERS not in app:
        reason = "SMTP listeners are not started"
    elif app[LISTENERS].delivery.closing:
        reason = "shutting down"
    elif not app[PUBLISHER].connected:
        reason = "no broker connection"
    else:
        # A local address, so that a mail store that refuses foreign domains still
        # answers 200 or 404; whether this mailbox exists does not matter.
        postmaster = f"postmaster@{app[CONFIG].domains[0]}"
        reason = await probe_or_reason(app[DIRECTORY], postmaster)
    if reason is not None:
        return web.json_response({"status": "unavailable", "reason": reason}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition format."""
    body = request.app[METRICS].render()
    response = web.Response(body=body)
    # CONTENT_TYPE_LATEST carries a version parameter, which aiohttp's content_type
    # argument would refuse; set the header as it is.
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
