"""Every typed key the mailstore service stores in its aiohttp application."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from mailstore.consumer import Consumer
from mailstore.events import EventPublisher
from mailstore.metrics import Metrics
from mailstore.passwords import PasswordHasher
from mailstore.settings import Config

CONFIG = web.AppKey("config", Config)
# An asyncpg.Pool; asyncpg ships no type information, hence Any.
POOL = web.AppKey[Any]("pool")
CONSUMER = web.AppKey("consumer", Consumer)
METRICS = web.AppKey("metrics", Metrics)
HASHER = web.AppKey("hasher", PasswordHasher)
EVENTS = web.AppKey("events", EventPublisher)
MAINTENANCE = web.AppKey("maintenance", asyncio.Task[None])
