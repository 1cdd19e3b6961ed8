"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
import hmac
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from webmail.keys import CONFIG, EVENTS, MAILSTORE, METRICS

_FAVICON = Path(__file__).resolve().parents[1] / "static" / "favicon.svg"

# A probe must answer well inside compose's 3 s health-check timeout.
PROBE_TIMEOUT = 1.0


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process runs its event loop. Says nothing about its dependencies."""
    return web.json_response({"status": "ok"})


async def _submission_reachable(host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        pass  # the probe's answer is already known
    return True


async def readyz(request: web.Request) -> web.Response:
    """Ready when the mail store answers our token and the submission port accepts.

    The live channel is reported but not checked: without it pages poll, and a web
    taken out of service for it would serve nobody instead of serving a little later.
    """
    config = request.app[CONFIG]
    mailstore, submission = await asyncio.gather(
        request.app[MAILSTORE].ready(),
        _submission_reachable(config.submission_host, config.submission_port),
    )
    checks = {"mailstore": mailstore, "submission": submission}
    ready = all(checks.values())
    return web.json_response(
        {
            "status": "ready" if ready else "unavailable",
            "checks": checks,
            "live": "up" if request.app[EVENTS].up else "down",
        },
        status=200 if ready else 503,
    )


def metrics_allowed(request: web.Request) -> bool:
    """Whether the request brings ``Authorization: Bearer <MAILSTORE_TOKEN>``.

    The webmail port is public, and its counters (logins by outcome, requests by route)
    tell an outsider how a guessing campaign fares. The mail store's service token is
    the operator's credential already; the client's address proves nothing (behind a
    reverse proxy on the same host every visitor comes from 127.0.0.1).
    """
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    expected = request.app[CONFIG].mailstore_token.encode()
    # compare_digest: the time taken does not depend on how much of the token matched.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(errors="replace"), expected
    )


async def metrics(request: web.Request) -> web.Response:
    if not metrics_allowed(request):
        # RFC 9110 §11.6.1: the challenge names the scheme the call takes.
        return web.json_response(
            {"error": "unauthorized"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="localpost-metrics"'},
        )
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def favicon(request: web.Request) -> web.FileResponse:
    """Browsers ask for /favicon.ico whatever the page links; answer with our icon."""
    response = web.FileResponse(_FAVICON)
    response.content_type = "image/svg+xml"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
