"""Every typed key the gateway stores in its aiohttp application."""

from __future__ import annotations

from aiohttp import web

from smtp_gateway.settings import Config

CONFIG = web.AppKey("config", Config)
