"""The web service's application factory and process entry point."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from smtplib_common.eventloop import freeze_startup_objects, new_event_loop
from webmail.access_log import AccessLogger
from webmail.consumer import EventsConsumer
from webmail.drafts import MAX_ATTACHMENTS_BYTES
from webmail.events import EventHub
from webmail.keys import CONFIG, EVENTS, MAILSTORE, METRICS, SUBMITTER, TEMPLATES
from webmail.mailstore_client import MailstoreClient
from webmail.metrics import create_metrics
from webmail.middlewares import (
    auth_middleware,
    compression_middleware,
    csrf_middleware,
    error_middleware,
    security_headers,
)
from webmail.pages import create_environment
from webmail.routes import setup_routes
from webmail.settings import Config, ConfigError, load_config
from webmail.submission import Submitter

log = logging.getLogger(__name__)

# A compose form carries the attachments plus the text fields and multipart framing.
MAX_REQUEST_BYTES = MAX_ATTACHMENTS_BYTES + 1024 * 1024


def create_app(config: Config, *, live: bool = True) -> web.Application:
    """Wire the web service; no I/O happens until the app starts.

    ``live=False`` runs without the broker (no live updates; pages still poll).
    """
    app = web.Application(
        middlewares=[
            metrics_middleware,
            compression_middleware,
            error_middleware,
            auth_middleware,
            csrf_middleware,
        ],
        client_max_size=MAX_REQUEST_BYTES,
    )
    app[CONFIG] = config
    app[METRICS] = create_metrics()
    app[TEMPLATES] = create_environment()
    app[EVENTS] = EventHub()
    app.cleanup_ctx.append(mailstore_ctx)
    app.cleanup_ctx.append(submitter_ctx)
    if live:
        app.cleanup_ctx.append(events_ctx)
    app.on_response_prepare.append(security_headers)
    app.on_shutdown.append(close_live_streams)
    setup_routes(app)
    return app


async def mailstore_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    timeout = aiohttp.ClientTimeout(total=config.mailstore_timeout)
    async with aiohttp.ClientSession(timeout=timeout, raise_for_status=False) as session:
        app[MAILSTORE] = MailstoreClient(
            session,
            base_url=config.mailstore_url,
            token=config.mailstore_token,
            timeout=config.mailstore_timeout,
        )
        yield


async def submitter_ctx(app: web.Application) -> AsyncIterator[None]:
    submitter = Submitter(app[CONFIG])
    app[SUBMITTER] = submitter
    yield
    await submitter.close()


async def events_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    # Connects in the background: live updates are a convenience, and the pages poll
    # until the broker answers.
    consumer = EventsConsumer(
        app[EVENTS],
        app[METRICS],
        url=config.amqp_url,
        prefix=config.queue_prefix,
        reconnect_interval=config.broker_reconnect_interval,
    )
    consumer.start()
    yield
    await consumer.close()


async def close_live_streams(app: web.Application) -> None:
    app[EVENTS].close_streams()


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    started = time.perf_counter()
    route = request.match_info.route.name or "unmatched"
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.requests.labels(route=route, status=str(status)).inc()
        metrics.latency.labels(route=route).observe(time.perf_counter() - started)


def run() -> None:
    """Read the configuration from the environment and serve until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        raise SystemExit(f"web: configuration error: {exc}") from None
    if config.dev:
        log.warning("LOCALPOST_DEV=1: development secrets are allowed")
    log.info("HTTP on %s:%d", config.host, config.port)
    app = create_app(config)
    app.on_startup.append(freeze_startup_objects)
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        print=None,
        access_log_class=AccessLogger,
        loop=new_event_loop(),
    )
