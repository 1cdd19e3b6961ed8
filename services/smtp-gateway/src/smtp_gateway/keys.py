"""Every typed key the gateway stores in its aiohttp application."""

from __future__ import annotations

from aiohttp import web

from smtp_gateway.directory import Directory
from smtp_gateway.directory_events import DirectoryEvents
from smtp_gateway.listeners import Listeners
from smtp_gateway.metrics import Metrics
from smtp_gateway.publisher import Publisher
from smtp_gateway.settings import Config

CONFIG = web.AppKey("config", Config)
METRICS = web.AppKey("metrics", Metrics)
DIRECTORY = web.AppKey("directory", Directory)
DIRECTORY_EVENTS = web.AppKey("directory_events", DirectoryEvents)
PUBLISHER = web.AppKey("publisher", Publisher)
LISTENERS = web.AppKey("listeners", Listeners)
