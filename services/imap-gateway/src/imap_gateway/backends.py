"""What the service needs of a backend beyond the session's Protocol, and where it comes from.

A backend for the service is a :class:`~imap_gateway.backend.Backend` that can also
say whether it can serve now (``/readyz``), opened and closed by an async context
manager (its HTTP session to the mail store, its broker connection): a
:data:`BackendFactory`. The production one is ``imap_gateway.mailstore_backend.create``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from imap_gateway import backend as bk
from imap_gateway.memory import MemoryBackend
from imap_gateway.settings import Config

MAILSTORE_BACKEND = "imap_gateway.mailstore_backend"
NOT_BUILT = "imap_gateway: the mail store backend is not built yet"


class ServiceBackend(bk.Backend, Protocol):
    async def unready_reason(self) -> str | None:
        """None when the backend can serve (the mail store answers, and the broker
        when it is configured), else why not, for ``/readyz``."""
        ...


BackendFactory = Callable[[Config], AbstractAsyncContextManager[ServiceBackend]]


class BackendMissing(RuntimeError):
    """The production backend module is not there (:data:`NOT_BUILT`)."""


def default_factory(config: Config) -> BackendFactory:
    """The in-memory backend when IMAP_TEST_MEMORY_USER is set (tests, LOCALPOST_DEV=1
    only), else ``imap_gateway.mailstore_backend.create``; :class:`BackendMissing`
    while that module does not exist."""
    if config.test_memory_user is not None:
        memory = MemoryBackend()
        memory.add_user(config.test_memory_user.address, config.test_memory_user.password)
        return memory_factory(memory)
    try:
        module = importlib.import_module(MAILSTORE_BACKEND)
    except ModuleNotFoundError as error:
        if error.name != MAILSTORE_BACKEND:
            raise  # the module is there but something it imports is not: a real bug
        raise BackendMissing(NOT_BUILT) from None
    factory: BackendFactory = module.create
    return factory


class ReadyMemory:
    """The in-memory backend as a service backend: always ready, nothing to open."""

    def __init__(self, memory: MemoryBackend) -> None:
        self.memory = memory

    async def authenticate(self, credentials: bk.Credentials) -> bk.UserSession:
        return await self.memory.authenticate(credentials)

    async def unready_reason(self) -> str | None:
        return None


def memory_factory(memory: MemoryBackend) -> BackendFactory:
    @contextlib.asynccontextmanager
    async def open_memory(config: Config) -> AsyncIterator[ServiceBackend]:
        yield ReadyMemory(memory)

    return open_memory
