"""Fixtures on real servers: a fresh PostgreSQL database per run, fresh AMQP names per test.

The servers come from DATABASE_URL and AMQP_URL (the same defaults as `make check-services`).
The run's database is created with a random name, migrated once, and dropped at the end;
tests that need empty tables ask for ``pool``, which truncates them first.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aio_pika
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailstore import db
from mailstore.main import create_app
from mailstore.middlewares import AccessLogger
from mailstore.settings import DEV_MAILSTORE_TOKEN, Config, load_config
from mailstore.testing import scratch_database
from mailstore.topology import Topology

SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}

Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated database of this run's own, dropped afterwards."""
    with scratch_database(SERVER_URL, prefix="mailstore_test") as url:
        yield url


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Any]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=10, init=db.init_connection)
    try:
        await pool.execute(
            "TRUNCATE accounts, folders, subscriptions, expunged, uid_backfill, messages,"
            " attachments, mailbox_entries, sessions, api_tokens,"
            " throttle_events, login_clients, pop3_locks, retired_addresses, password_resets,"
            " imap_search_backfill, aliases, admin_audit, invitations, service_settings,"
            " lists, list_members, catchalls"
        )
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def prefix() -> str:
    return f"mstest-{secrets.token_hex(6)}"


@pytest.fixture
def config(database_url: str, prefix: str) -> Config:
    environ = {
        "LOCALPOST_DEV": "1",
        "DATABASE_URL": database_url,
        "AMQP_URL": AMQP_URL,
        "LOCALPOST_QUEUE_PREFIX": prefix,
        "LOCALPOST_DOMAIN": "localpost.test,other.test",
        "MAILSTORE_PREFETCH": "8",
    }
    # The lowest cost bcrypt accepts: hashing is not what these tests measure.
    return dataclasses.replace(load_config(environ), bcrypt_rounds=4)


@pytest.fixture
async def broker(prefix: str) -> AsyncIterator[aio_pika.abc.AbstractRobustConnection]:
    """A connection for the test's own publishing; deletes the prefix's names afterwards."""
    connection = await aio_pika.connect_robust(AMQP_URL)
    try:
        yield connection
    finally:
        topology = Topology(prefix)
        channel = await connection.channel()
        for queue in (topology.incoming_queue, topology.dead_queue):
            await channel.queue_delete(queue)
        exchanges = (
            topology.mail_exchange,
            topology.dead_exchange,
            topology.events_exchange,
            topology.directory_exchange,
        )
        for exchange in exchanges:
            await channel.exchange_delete(exchange)
        await connection.close()


@pytest.fixture
async def client(config: Config, pool: Any) -> AsyncIterator[Client]:
    """The HTTP API on an empty database, without a broker consumer."""
    async with TestClient(
        TestServer(create_app(config, consume=False, maintenance=False))
    ) as client:
        yield client


@pytest.fixture
async def logged_client(
    config: Config, pool: Any, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Client]:
    """``client`` with the service's access log (AccessLogger) recorded by caplog."""
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    server = TestServer(create_app(config, consume=False, maintenance=False))
    await server.start_server(access_log_class=AccessLogger)
    async with TestClient(server) as client:
        yield client


@pytest.fixture
def deliver(pool: Any) -> Any:
    """Store a message as the consumer would (no broker): ``await deliver(raw, rcpt_to=[...])``."""
    from mailstore.parsing import parse_message

    async def deliver(
        raw: bytes,
        *,
        rcpt_to: list[str],
        gateway_id: str | None = None,
        mail_from: str = "sender@example.com",
        submitted_by: str | None = None,
    ) -> db.StoreOutcome:
        return await db.store_message(
            pool,
            gateway_id=gateway_id or secrets.token_hex(13).upper(),
            mail_from=mail_from,
            rcpt_to=rcpt_to,
            submitted_by=submitted_by,
            raw=raw,
            parsed=parse_message(raw),
        )

    return deliver
