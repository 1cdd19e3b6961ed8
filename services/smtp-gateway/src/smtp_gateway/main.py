"""The gateway's application factory and process entry point."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from smtp_gateway import listeners
from smtp_gateway.directory import Directory
from smtp_gateway.directory_events import DirectoryEvents
from smtp_gateway.keys import CONFIG, DIRECTORY, DIRECTORY_EVENTS, LISTENERS, METRICS, PUBLISHER
from smtp_gateway.metrics import Metrics
from smtp_gateway.publisher import Publisher
from smtp_gateway.routes import setup_routes
from smtp_gateway.settings import Config, ConfigError, load_config
from smtplib_common.eventloop import freeze_startup_objects, new_event_loop

log = logging.getLogger(__name__)


def create_app(config: Config) -> web.Application:
    """Wire the gateway; no I/O happens until the app starts.

    The cleanup contexts run in order on start and in reverse on stop, so on SIGTERM
    the SMTP listeners stop first (transactions in flight still publish and still
    reach the directory), then the broker connection closes, then the HTTP session.
    """
    app = web.Application()
    app[CONFIG] = config
    app[METRICS] = Metrics.create()
    setup_routes(app)
    app.cleanup_ctx.append(directory_ctx)
    app.cleanup_ctx.append(directory_events_ctx)
    app.cleanup_ctx.append(publisher_ctx)
    app.cleanup_ctx.append(smtp_ctx)
    return app


async def directory_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    async with aiohttp.ClientSession() as session:
        app[DIRECTORY] = Directory(
            session,
            config.mailstore_url,
            config.mailstore_token,
            timeout=config.directory_timeout,
            auth_timeout=config.auth_timeout,
            positive_ttl=config.directory_cache_ttl,
            negative_ttl=config.directory_negative_ttl,
        )
        yield


async def directory_events_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    events = DirectoryEvents(
        app[DIRECTORY],
        url=config.amqp_url,
        prefix=config.queue_prefix,
        reconnect_interval=config.broker_reconnect_interval,
        on_event=app[METRICS].directory_events.inc,
    )
    # Connects in the background, like the publisher; cached answers expire by their
    # TTL until it listens.
    events.start()
    app[DIRECTORY_EVENTS] = events
    yield
    await events.close()


async def publisher_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    publisher = Publisher(
        config.amqp_url,
        config.queue_prefix,
        publish_timeout=config.publish_timeout,
        reconnect_interval=config.broker_reconnect_interval,
        on_batch=app[METRICS].publish_batch.observe,
    )
    # Connects in the background: the gateway starts while the broker is still coming
    # up, refuses mail with 451 meanwhile and says so on /readyz.
    await publisher.start()
    app[PUBLISHER] = publisher
    yield
    await publisher.close()


async def smtp_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    smtp = listeners.build(
        config, directory=app[DIRECTORY], publisher=app[PUBLISHER], metrics=app[METRICS]
    )
    await smtp.start(
        config.host,
        smtp_port=config.smtp_port,
        submission_port=config.submission_port,
        submissions_port=config.submissions_port,
    )
    app[LISTENERS] = smtp
    yield
    log.info("stopping SMTP listeners (up to %.1f s for transactions in flight)", config.stop_grace)
    await smtp.stop(config.stop_grace)


def run() -> None:
    """Read the configuration from the environment and serve until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        raise SystemExit(f"smtp-gateway: configuration error: {exc}") from None
    if config.dev:
        log.warning("LOCALPOST_DEV=1: development secrets are allowed")
    log.info("HTTP on %s:%d", config.host, config.http_port)
    # run_app turns SIGTERM into a graceful shutdown (the cleanup contexts above in
    # reverse) and returns normally, so the process exits 0.
    app = create_app(config)
    app.on_startup.append(freeze_startup_objects)
    web.run_app(
        app,
        host=config.host,
        port=config.http_port,
        print=None,
        loop=new_event_loop(),
    )
