"""Every typed key the IMAP service stores in its aiohttp application."""

from __future__ import annotations

from aiohttp import web

from imap_gateway.backends import BackendFactory, ServiceBackend
from imap_gateway.listeners import Listeners
from imap_gateway.metrics import Metrics
from imap_gateway.settings import Config

CONFIG = web.AppKey("config", Config)
METRICS = web.AppKey("metrics", Metrics)
BACKEND_FACTORY: web.AppKey[BackendFactory] = web.AppKey("backend_factory")
BACKEND = web.AppKey("backend", ServiceBackend)
LISTENERS = web.AppKey("listeners", Listeners)
