"""Fixtures for tests against real servers.

Connection URLs come from DATABASE_URL and AMQP_URL, with the same defaults as
deploy/check_services.py, which `make test` runs first: a stopped server fails there
with one clear message rather than here with many.

The ``stack`` fixture runs our three services as processes (tests/integration/stack.py)
or, when LOCALPOST_WEB_URL is set, uses an already running stack.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from deploy.check_services import DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL
from tests.integration.mailapi import MailstoreAPI
from tests.integration.private_postgres import PrivatePostgres
from tests.integration.private_postgres import available as postgres_available
from tests.integration.stack import Endpoints, LocalStack


@pytest.fixture(scope="session")
def database_url() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)


@pytest.fixture
def unique_name() -> str:
    """A name no other test (or earlier run) uses: for queues, databases, mailboxes."""
    return f"lp_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _faults_run_locally(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("faults") and external_stack() is not None:
        pytest.skip("fault scenarios kill processes: they need the stack the tests start")


def external_stack() -> Endpoints | None:
    """The already running stack named by LOCALPOST_* variables, if any (stack.py)."""
    if "LOCALPOST_WEB_URL" not in os.environ:
        return None
    return Endpoints.from_environment(os.environ)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(database_url: str, amqp_url: str) -> AsyncIterator[LocalStack | None]:
    """Our services as processes for one test module (None: an external stack)."""
    if external_stack() is not None:
        yield None
        return
    async with LocalStack(admin_database_url=database_url, amqp_url=amqp_url) as local:
        yield local


@pytest_asyncio.fixture
async def private_database() -> AsyncIterator[PrivatePostgres]:
    """A PostgreSQL of the test's own, for tests that stop and start it (faults, outages)."""
    reason = postgres_available()
    if reason is not None:
        pytest.skip(reason)
    postgres = PrivatePostgres()
    try:
        await postgres.start()
        yield postgres
    finally:
        await postgres.remove()


@pytest.fixture(scope="module")
def endpoints(stack: LocalStack | None) -> Endpoints:
    if stack is None:
        found = external_stack()
        assert found is not None
        return found
    assert stack.endpoints is not None
    return stack.endpoints


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def mailstore(endpoints: Endpoints) -> AsyncIterator[MailstoreAPI]:
    async with aiohttp.ClientSession() as http:
        yield MailstoreAPI(http, endpoints.mailstore_url, endpoints.mailstore_token)


@pytest.fixture
def new_address(endpoints: Endpoints) -> str:
    """A fresh local address (not yet registered)."""
    return f"u{uuid.uuid4().hex[:12]}@{endpoints.domain}"
