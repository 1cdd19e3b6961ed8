"""The gateway's application factory and process entry point."""

from __future__ import annotations

import logging
import os

from aiohttp import web

from smtp_gateway.keys import CONFIG
from smtp_gateway.routes import setup_routes
from smtp_gateway.settings import Config, ConfigError, load_config

log = logging.getLogger(__name__)


def create_app(config: Config) -> web.Application:
    """Wire the gateway's HTTP side; no I/O happens until the app starts.

    The SMTP listeners and the broker connection will be ``cleanup_ctx`` entries here.
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
        raise SystemExit(f"smtp-gateway: configuration error: {exc}") from None
    if config.dev:
        log.warning("LOCALPOST_DEV=1: development secrets are allowed")
    log.info("HTTP on %s:%d", config.host, config.http_port)
    web.run_app(create_app(config), host=config.host, port=config.http_port, print=None)
