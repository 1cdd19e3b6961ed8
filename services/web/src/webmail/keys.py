"""Every typed key the web service stores in its aiohttp application."""

from __future__ import annotations

from aiohttp import web

from webmail.settings import Config

CONFIG = web.AppKey("config", Config)
