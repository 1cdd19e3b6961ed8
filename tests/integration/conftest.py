"""Fixtures for tests against real servers.

Connection URLs come from DATABASE_URL and AMQP_URL, with the same defaults as
deploy/check_services.py, which `make test` runs first: a stopped server fails there
with one clear message rather than here with many.
"""

from __future__ import annotations

import os
import uuid

import pytest

from deploy.check_services import DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL


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
