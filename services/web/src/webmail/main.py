"""The web service's application factory and process entry point."""

from __future__ import annotations

import logging
import os

from aiohttp import web

from webmail.keys import CONFIG
from webmail.routes import setup_routes
from webmail.settings import Config, ConfigError, load_config

log = logging.getLogger(__name__)


def create_app(config: Config) -> web.Application:
    """Wire the web service; no I/O happens until the app starts.

    The mail store HTTP client session will be a ``cleanup_ctx`` entry here.
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
        raise SystemExit(f"web: configuration error: {exc}") from None
    if config.dev:
        log.warning("LOCALPOST_DEV=1: development secrets are allowed")
    log.info("HTTP on %s:%d", config.host, config.port)
    web.run_app(create_app(config), host=config.host, port=config.port, print=None)
