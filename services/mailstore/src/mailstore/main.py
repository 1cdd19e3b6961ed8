"""The mailstore service's application factory and process entry point."""

from __future__ import annotations

import logging
import os

from aiohttp import web

from mailstore.keys import CONFIG
from mailstore.routes import setup_routes
from mailstore.settings import Config, ConfigError, load_config

log = logging.getLogger(__name__)


def create_app(config: Config) -> web.Application:
    """Wire the mail store's HTTP API; no I/O happens until the app starts.

    The asyncpg pool (with its migration runner) and the RabbitMQ consumer will be
    ``cleanup_ctx`` entries here.
    """
    app = web.Application()
    app[CONFIG] = config
    setup_routes(app)
    return app


def run() -> None:
    """Read the configuration from the environment and serve until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        raise SystemExit(f"mailstore: configuration error: {exc}") from None
    if config.dev:
        log.warning("LOCALPOST_DEV=1: development secrets are allowed")
    log.info("HTTP on %s:%d", config.host, config.port)
    web.run_app(create_app(config), host=config.host, port=config.port, print=None)
