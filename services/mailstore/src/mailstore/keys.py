"""Every typed key the mailstore service stores in its aiohttp application."""

from __future__ import annotations

from aiohttp import web

from mailstore.settings import Config

CONFIG = web.AppKey("config", Config)
