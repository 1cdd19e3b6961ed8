"""The IMAP service's application factory and process entry point."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator

from aiohttp import web

from imap_gateway import listeners
from imap_gateway.backends import BackendFactory, BackendMissing, default_factory
from imap_gateway.keys import BACKEND, BACKEND_FACTORY, CONFIG, LISTENERS, METRICS
from imap_gateway.limits import AccountLimits
from imap_gateway.mailstore_backend import MailstoreBackend
from imap_gateway.metrics import Metrics
from imap_gateway.routes import setup_routes
from imap_gateway.settings import Config, ConfigError, load_config

log = logging.getLogger(__name__)


def create_app(config: Config, *, backend_factory: BackendFactory) -> web.Application:
    """Wire the service; no I/O happens until the app starts.

    The cleanup contexts run in order on start and in reverse on stop, so on SIGTERM
    the IMAP listeners stop first (commands in flight still reach the backend), then
    the backend closes.
    """
    app = web.Application()
    app[CONFIG] = config
    app[METRICS] = Metrics.create()
    app[BACKEND_FACTORY] = backend_factory
    setup_routes(app)
    app.cleanup_ctx.append(backend_ctx)
    app.cleanup_ctx.append(imap_ctx)
    return app


async def backend_ctx(app: web.Application) -> AsyncIterator[None]:
    async with app[BACKEND_FACTORY](app[CONFIG]) as backend:
        app[BACKEND] = backend
        yield


async def imap_ctx(app: web.Application) -> AsyncIterator[None]:
    config, metrics = app[CONFIG], app[METRICS]
    backend = AccountLimits(
        app[BACKEND], config.max_connections_per_account, on_limit=metrics.count_limit_refusal
    )
    imap = listeners.build(config, backend=backend, metrics=metrics)
    if isinstance(served := app[BACKEND], MailstoreBackend):
        # The mail store says when an administrator disables an account: its sessions
        # end at once (issue 16), not at their next login.
        served.hub.on_disabled.append(imap.end_account)
    ports = {
        listeners.IMAP: config.imap_port,
        listeners.IMAPS: config.imaps_port,
        listeners.POP3: config.pop3_port,
        listeners.POP3S: config.pop3s_port,
    }
    await imap.start(config.host, ports)
    app[LISTENERS] = imap
    yield
    log.info(
        "stopping IMAP listeners and POP3's (up to %.1f s for commands in flight)",
        config.stop_grace,
    )
    await imap.stop(config.stop_grace)


def run() -> None:
    """Read the configuration from the environment and serve until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        raise SystemExit(f"imap-gateway: configuration error: {exc}") from None
    try:
        factory = default_factory(config)
    except BackendMissing as exc:
        raise SystemExit(str(exc)) from None
    if config.dev:
        log.warning("LOCALPOST_DEV=1: development secrets are allowed")
    if config.test_memory_user is not None:
        log.warning("IMAP_TEST_MEMORY_USER: serving an in-memory backend (tests only)")
    log.info(
        "IMAP on %s:%d%s, POP3 on port %d%s, HTTP on port %d",
        config.host,
        config.imap_port,
        f", IMAPS on port {config.imaps_port}" if config.tls else " (no TLS files: no IMAPS)",
        config.pop3_port,
        f", POP3S on port {config.pop3s_port}" if config.tls else " (no POP3S)",
        config.http_port,
    )
    app = create_app(config, backend_factory=factory)
    app.on_startup.append(_freeze_startup_objects)
    # run_app turns SIGTERM into a graceful shutdown (the cleanup contexts above in
    # reverse) and returns normally, so the process exits 0.
    web.run_app(app, host=config.host, port=config.http_port, print=None, loop=_new_event_loop())


def _new_event_loop() -> asyncio.AbstractEventLoop:
    # uvloop, a dependency, as in the other services; asyncio's loop where it is missing.
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _freeze_startup_objects(app: web.Application) -> None:
    # As smtplib_common.eventloop.freeze_startup_objects, which this service does not
    # import (it does not depend on the SMTP library): a full collection walking every
    # module loaded stalls every session in flight.
    gc.collect()
    gc.freeze()
