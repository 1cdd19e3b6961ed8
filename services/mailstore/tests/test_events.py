"""``changed`` events: every committed change of the API and the maintenance task is
published on ``<prefix>.events`` after COMMIT, with each entry's folder, UID and MODSEQ
(docs/architecture.md), on a real broker; and ``directory`` events on
``<prefix>.directory`` after each change of who an address reaches."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailstore import db, maintenance
from mailstore.events import EventPublisher
from mailstore.keys import CONSUMER
from mailstore.main import create_app
from mailstore.passwords import hash_password
from mailstore.routes import DIRECTORY_ROUTES
from mailstore.settings import DEV_MAILSTORE_TOKEN, Config
from mailstore.topology import Topology, declare_topology
from tests.integration.amqp_queues import next_message, nothing_more

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE, BOB = "alice@localpost.test", "bob@localpost.test"


def mail(subject: str) -> bytes:
    return f"From: carol@example.com\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\nHi\r\n".encode()


async def bound_queue(
    broker: AbstractRobustConnection, prefix: str, exchange: str
) -> AsyncIterator[AbstractQueue]:
    """A queue of this test's own on ``exchange``, the topology declared first."""
    channel = await broker.channel()
    await declare_topology(channel, Topology(prefix))
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange)
    yield queue
    await channel.close()


@pytest.fixture
async def events(broker: AbstractRobustConnection, prefix: str) -> AsyncIterator[AbstractQueue]:
    """A queue of this test's own on the events exchange, as a web process binds one."""
    async for queue in bound_queue(broker, prefix, Topology(prefix).events_exchange):
        yield queue


@pytest.fixture
async def consuming(config: Config, pool: Any, events: AbstractQueue) -> AsyncIterator[Client]:
    """The HTTP API of a mail store that consumes, and so is attached to the broker."""
    app = create_app(config, maintenance=False)
    async with TestClient(TestServer(app)) as client:
        # The consumer attaches the publisher once it is connected.
        async with asyncio.timeout(10):
            while not app[CONSUMER].ready:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        yield client


async def next_event(queue: AbstractQueue) -> dict[str, Any]:
    message = await next_message(queue)
    await message.ack()
    event: dict[str, Any] = json.loads(message.body)
    return event


async def skip_stored(queue: AbstractQueue) -> dict[str, Any]:
    """The next event that is not a ``stored`` one (deliveries made by the test)."""
    while (event := await next_event(queue))["event"] == "stored":
        pass
    return event


@pytest.fixture
async def alice(pool: Any) -> int:
    ids = [
        (await db.create_account(pool, address=address, name="", password_hash="x"))["id"]
        for address in (ALICE, BOB)
    ]
    account_id: int = ids[0]
    return account_id


async def test_trash_through_the_api_is_an_expunge_and_an_exists_event(
    consuming: Client, events: AbstractQueue, deliver: Any, alice: int
) -> None:
    await deliver(mail("one"), rcpt_to=[ALICE])
    entry = (await deliver(mail("two"), rcpt_to=[ALICE])).entries[0].id

    response = await consuming.post(f"/v1/accounts/{ALICE}/messages/{entry}/trash", headers=AUTH)

    assert response.status == 200
    event = await skip_stored(events)
    assert event["event"] == "changed"
    assert sorted(
        (e["account"], e["id"], e["folder_id"], e["uid"], e["kind"]) for e in event["entries"]
    ) == [
        (ALICE, entry, "inbox", 2, "expunge"),
        (ALICE, entry, "trash", 1, "exists"),
    ]
    assert all(e["modseq"] == 4 for e in event["entries"] if e["folder_id"] == "inbox")


async def test_read_unread_and_delete_publish_flags_and_expunge_events(
    consuming: Client, events: AbstractQueue, deliver: Any, alice: int
) -> None:
    entry = (await deliver(mail("one"), rcpt_to=[ALICE])).entries[0].id
    base = f"/v1/accounts/{ALICE}/messages"

    read = await consuming.post(
        base + "/bulk", json={"action": "read", "ids": [entry]}, headers=AUTH
    )
    unchanged = await consuming.patch(f"{base}/{entry}", json={"read": True}, headers=AUTH)
    deleted = await consuming.delete(f"{base}/{entry}", headers=AUTH)

    assert (read.status, unchanged.status, deleted.status) == (200, 200, 204)
    flags = await skip_stored(events)
    # Marking read what is read changes nothing and announces nothing.
    expunge = await next_event(events)
    assert [(e["kind"], e["uid"], e["modseq"]) for e in flags["entries"]] == [("flags", 1, 3)]
    assert [(e["kind"], e["uid"], e["modseq"]) for e in expunge["entries"]] == [("expunge", 1, 4)]


async def test_the_trash_purge_is_announced_for_each_account(
    pool: Any,
    events: AbstractQueue,
    deliver: Any,
    alice: int,
    broker: AbstractRobustConnection,
    prefix: str,
) -> None:
    shared = await deliver(mail("old"), rcpt_to=[ALICE, BOB])
    for entry in shared.entries:
        account_id = await pool.fetchval(
            "SELECT account_id FROM mailbox_entries WHERE id = $1", entry.id
        )
        await db.move_to_trash(pool, account_id=account_id, entry_id=entry.id)
    await pool.execute("UPDATE mailbox_entries SET trashed_at = now() - interval '40 days'")
    publisher = EventPublisher()
    channel = await broker.channel()
    publisher.attach(await channel.get_exchange(Topology(prefix).events_exchange))

    await maintenance.run_once(pool, trash_days=30, vanished_days=30, events=publisher)

    event = await next_event(events)
    assert event["event"] == "changed"
    assert sorted((e["account"], e["folder_id"], e["kind"]) for e in event["entries"]) == [
        (ALICE, "trash", "expunge"),
        (BOB, "trash", "expunge"),
    ]
    await channel.close()


@pytest.fixture
async def directory(broker: AbstractRobustConnection, prefix: str) -> AsyncIterator[AbstractQueue]:
    """A queue of this test's own on the directory exchange, as a gateway binds one."""
    async for queue in bound_queue(broker, prefix, Topology(prefix).directory_exchange):
        yield queue


async def test_a_change_of_who_an_address_reaches_is_announced_to_the_gateways(
    consuming: Client, directory: AbstractQueue, events: AbstractQueue, alice: int
) -> None:
    aliases = "/v1/admin/aliases"
    refused = await consuming.post(
        aliases,
        json={"actor": BOB, "address": "info@localpost.test", "targets": ["x@y"]},
        headers=AUTH,
    )
    looked = await consuming.get(f"/v1/recipients/{ALICE}", headers=AUTH)
    added = await consuming.post(
        aliases,
        json={"actor": BOB, "address": "info@localpost.test", "targets": [ALICE]},
        headers=AUTH,
    )
    disabled = await consuming.post(
        f"/v1/admin/accounts/{ALICE}/disable", json={"actor": BOB}, headers=AUTH
    )

    assert (refused.status, looked.status, added.status, disabled.status) == (422, 200, 200, 200)
    # A refusal changed nothing and a lookup is no change: only the two that committed.
    assert await next_event(directory) == {"event": "directory", "reason": "admin_add_alias"}
    assert await next_event(directory) == {"event": "directory", "reason": "admin_disable"}
    assert await nothing_more(directory) is None
    # The live-update readers are not told: the gateways have an exchange of their own.
    assert (await next_event(events))["event"] == "disabled"
    assert await nothing_more(events) is None


def test_every_directory_route_is_a_route(config: Config) -> None:
    # A misspelt name would never announce anything, silently.
    names = {route.name for route in create_app(config, consume=False).router.routes()}

    assert names >= DIRECTORY_ROUTES


async def test_deleting_ones_own_account_ends_its_imap_and_pop3_sessions(
    consuming: Client, events: AbstractQueue, pool: Any
) -> None:
    # /settings/delete: the IMAP gateways hear it as they hear an administrator's Delete.
    password_hash = hash_password("alice password 123", rounds=4)
    await db.create_account(pool, address=ALICE, name="", password_hash=password_hash)
    body = {"password": "alice password 123", "client": "192.0.2.1"}

    deleted = await consuming.post(f"/v1/accounts/{ALICE}/delete", json=body, headers=AUTH)

    assert deleted.status == 204
    assert await next_event(events) == {"event": "disabled", "account": ALICE}


async def test_mail_an_administrator_delivers_to_an_account_is_announced_as_stored(
    consuming: Client, events: AbstractQueue, deliver: Any, alice: int
) -> None:
    # The web's open Inbox takes only ``stored`` events: without one the message showed
    # at the page's next refresh.
    lost = "01CCCCCCCCCCCCCCCCCCCCCCCC"
    await deliver(mail("for nobody"), rcpt_to=["x@localpost.test"], gateway_id=lost)
    await deliver(mail("one"), rcpt_to=[ALICE])

    delivered = await consuming.post(
        f"/v1/admin/unclaimed/{lost}/deliver", json={"actor": BOB, "address": ALICE}, headers=AUTH
    )

    assert delivered.status == 204
    event = await next_event(events)
    assert event["event"] == "stored"
    [entry] = event["entries"]
    assert (entry["account"], entry["message_id"], entry["folder"], entry["uid"]) == (
        ALICE,
        lost,
        "inbox",
        2,
    )
    assert isinstance(entry["modseq"], int)
    # The entry the web fetches for the new row: the delivered message.
    shown = await consuming.get(f"/v1/accounts/{ALICE}/messages/{entry['id']}", headers=AUTH)
    assert (await shown.json())["subject"] == "for nobody"
    assert await nothing_more(events) is None
