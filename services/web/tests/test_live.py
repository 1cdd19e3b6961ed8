"""Live updates on a real RabbitMQ: the mail store's ``stored`` events reach the open
pages of their account (server-sent events), the live channel checks Origin, and the
polling fallback tells the same story."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from tests.integration.private_rabbitmq import PrivateRabbitMQ
from tests.integration.private_rabbitmq import available as private_rabbitmq_available
from webmail.keys import EVENTS
from webmail.main import create_app
from webmail.settings import DEV_MAILSTORE_TOKEN, load_config
from webmail.views.live import LIVE_ROWS

Client = TestClient[web.Request, web.Application]

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
READ_TIMEOUT = 5.0
# Every standard folder's unread count, none unread (the web lists them all).
NO_UNREAD = {"inbox": 0, "sent": 0, "drafts": 0, "trash": 0, "junk": 0, "archive": 0}


@pytest.fixture
def prefix() -> str:
    return f"webtest-{secrets.token_hex(6)}"


@pytest.fixture
async def events_exchange(prefix: str) -> AsyncIterator[aio_pika.abc.AbstractExchange]:
    """``<prefix>.events`` as the mail store declares it; deleted afterwards."""
    connection = await aio_pika.connect_robust(AMQP_URL)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{prefix}.events", aio_pika.ExchangeType.FANOUT, durable=True
        )
        yield exchange
        await channel.exchange_delete(f"{prefix}.events")
    finally:
        await connection.close()


@pytest.fixture
async def live_client(
    web_environ: dict[str, str], prefix: str, events_exchange: Any
) -> AsyncIterator[Client]:
    async with TestClient(TestServer(live_app(web_environ, prefix, AMQP_URL))) as client:
        await wait_live(client, up=True)
        yield client


def live_app(
    web_environ: dict[str, str], prefix: str, amqp_url: str, **more: str
) -> web.Application:
    environ = {**web_environ, "AMQP_URL": amqp_url, "LOCALPOST_QUEUE_PREFIX": prefix, **more}
    return create_app(load_config(environ), live=True)


async def wait_live(client: Client, *, up: bool, timeout: float = READ_TIMEOUT) -> None:
    """Wait until the web's live channel is up (or down): it connects in the background."""
    async with asyncio.timeout(timeout):
        while True:
            if client.app[EVENTS].up is up:
                return
            await asyncio.sleep(0.05)


async def publish(exchange: Any, event: dict[str, Any]) -> None:
    await exchange.publish(
        aio_pika.Message(json.dumps(event).encode(), content_type="application/json"),
        routing_key="",
    )


async def next_event(
    response: ClientResponse, *, timeout: float = READ_TIMEOUT
) -> tuple[str, dict[str, Any]]:
    """The next named event of an SSE stream (comments and retry lines skipped)."""
    name, data = "", ""
    async with asyncio.timeout(timeout):
        while True:
            line = (await response.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif not line and name:
                return name, json.loads(data)


async def test_a_stored_event_reaches_the_accounts_open_stream_only(
    live_client: Client, h: Any, deliver: Any, events_exchange: Any
) -> None:
    client = live_client
    a, b = await h.register(client), await h.register(client)
    await deliver(
        b"From: Ann <ann@example.com>\r\nTo: b\r\nSubject: Fresh\r\n\r\nnew words\r\n",
        rcpt_to=[b],
    )
    await h.login(client, b)
    entry = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]

    async with client.get("/live/events") as stream:
        assert stream.status == 200
        assert stream.content_type == "text/event-stream"
        name, first = await next_event(stream)
        assert name == "counts"
        assert first["unread"] == {**NO_UNREAD, "inbox": 1}
        # The first event carries the newest rows: mail stored before the stream opened.
        assert [m["id"] for m in first["inbox"]] == [entry]
        # One event per committed batch, for any accounts. A's entry comes first: had
        # it leaked into B's stream, B would see it first (with no row: not B's id).
        batch = [
            {"account": a, "message_id": "01A", "id": entry + 1000, "folder": "inbox"},
            {"account": b.upper(), "message_id": "01B", "id": entry, "folder": "inbox"},
        ]
        await publish(events_exchange, {"event": "stored", "entries": batch})
        name, data = await next_event(stream)
        # A mail store from before batched events sent one entry per event.
        await publish(events_exchange, {"event": "stored", "account": b, "id": entry})
        second = await next_event(stream)

    assert name == "stored"
    assert data["unread"]["inbox"] == 1
    assert data["message"]["id"] == entry
    assert data["message"]["subject"] == "Fresh"
    # Shown as the server-rendered rows show it: the display name, else the address.
    assert data["message"]["from"] == "Ann"
    assert data["message"]["unread"] is True
    assert second[0] == "stored"
    assert second[1]["message"]["id"] == entry


async def test_a_large_batch_sends_its_newest_rows(
    live_client: Client, h: Any, deliver: Any, events_exchange: Any
) -> None:
    client = live_client
    b = await h.register(client)
    for n in range(3):
        await deliver(f"From: a@example.com\r\nSubject: n{n}\r\n\r\nx\r\n".encode(), rcpt_to=[b])
    await h.login(client, b)
    ids = [m["id"] for m in (await (await client.get("/api/v1/messages")).json())["messages"]]
    newest_last = sorted(ids)
    # Entries the page cannot show (deleted already) still count towards the batch.
    gone = [max(ids) + 1 + n for n in range(LIVE_ROWS)]
    entries = [{"account": b, "id": i, "folder": "inbox"} for i in [*gone, *newest_last]]

    async with client.get("/live/events") as stream:
        assert (await next_event(stream))[0] == "counts"
        await publish(events_exchange, {"event": "stored", "entries": entries})
        got = [await next_event(stream) for _ in range(LIVE_ROWS)]

    assert {name for name, _ in got} == {"stored"}
    # The newest LIVE_ROWS entries, in order: the last three have rows.
    assert [d.get("message", {}).get("id") for _, d in got[-3:]] == newest_last
    assert all("message" not in d for _, d in got[:-3])
    assert all(d["unread"]["inbox"] == 3 for _, d in got)


# Headers of a cross-origin request; {host} is this server's host:port, {port} its port.
FOREIGN_ORIGINS = [
    {"Origin": "https://evil.test"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "https://{host}"},  # same host and port, other scheme
    {"Origin": "http://localhost:{port}"},  # same server, another name: another origin
    {"Origin": "http://{host}.evil.test"},
    {"Origin": "http://evil.test/http://{host}"},
    {"Origin": "http://{host}", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "http://{host}, https://evil.test"},
]


@pytest.mark.parametrize("headers", FOREIGN_ORIGINS)
async def test_the_live_channel_refuses_a_foreign_origin(
    live_client: Client, h: Any, headers: dict[str, str]
) -> None:
    await h.login(live_client, await h.register(live_client))
    url = live_client.make_url("/")
    own = {"host": f"{url.host}:{url.port}", "port": str(url.port)}

    response = await live_client.get(
        "/live/events", headers={name: value.format(**own) for name, value in headers.items()}
    )

    assert response.status == 403


async def test_the_live_channel_accepts_its_own_origin(live_client: Client, h: Any) -> None:
    await h.login(live_client, await h.register(live_client))
    origin = str(live_client.make_url("/")).rstrip("/")

    async with live_client.get(
        "/live/events", headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"}
    ) as stream:
        assert stream.status == 200
        assert (await next_event(stream))[0] == "counts"


async def test_the_live_channel_needs_a_login(live_client: Client) -> None:
    response = await live_client.get("/live/events", allow_redirects=False)

    assert response.status == 303


async def test_the_polling_fallback_returns_unread_counts_and_rows(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    for subject in ("one", "two"):
        raw = f"From: ann@example.com\r\nTo: {address}\r\nSubject: {subject}\r\n\r\nx\r\n"
        await deliver(raw.encode(), rcpt_to=[address])
    await h.login(client, address)

    state = await (await client.get("/live/state")).json()

    assert state["unread"] == {**NO_UNREAD, "inbox": 2}
    assert [row["subject"] for row in state["inbox"]] == ["two", "one"]
    assert all(row["unread"] for row in state["inbox"])
    assert state["inbox"][0]["url"] == f"/messages/{state['inbox'][0]['id']}"


# -- the live channel's state -----------------------------------------------------------------


async def test_a_stream_opened_while_the_channel_is_down_says_so(client: Client, h: Any) -> None:
    # No broker connection (live=False): the page must poll, not wait for events.
    await h.login(client, await h.register(client))

    async with client.get("/live/events") as stream:
        assert (await next_event(stream))[0] == "counts"
        assert await next_event(stream) == ("down", {})


async def test_the_stream_follows_the_channel_down_and_up_with_a_fresh_snapshot(
    client: Client, h: Any, deliver: Any
) -> None:
    hub = client.app[EVENTS]
    hub.set_up(True)
    address = await h.register(client)
    await h.login(client, address)

    async with client.get("/live/events") as stream:
        assert (await next_event(stream))[0] == "counts"
        hub.set_up(False)
        assert await next_event(stream) == ("down", {})
        # Stored while down: no event announces it, the "up" snapshot shows it.
        await deliver(b"From: a@example.com\r\nSubject: missed\r\n\r\nx\r\n", rcpt_to=[address])
        hub.set_up(True)
        name, data = await next_event(stream)

    assert name == "up"
    assert [m["subject"] for m in data["inbox"]] == ["missed"]
    assert data["unread"]["inbox"] == 1


async def test_a_reconnection_between_two_reads_still_sends_a_snapshot(
    client: Client, h: Any
) -> None:
    hub = client.app[EVENTS]
    hub.set_up(True)
    await h.login(client, await h.register(client))

    async with client.get("/live/events") as stream:
        assert (await next_event(stream))[0] == "counts"
        # Down and up before the stream wakes: events may have been lost all the same.
        hub.set_up(False)
        hub.set_up(True)
        name, data = await next_event(stream)

    assert name == "up"
    assert "inbox" in data


async def test_readiness_reports_the_live_channel_without_depending_on_it(
    client: Client,
) -> None:
    down = await client.get("/readyz")
    client.app[EVENTS].set_up(True)
    up = await client.get("/readyz")

    assert (down.status, (await down.json())["live"]) == (200, "down")
    assert (up.status, (await up.json())["live"]) == (200, "up")


# -- a broker that is not there yet, or goes away (a private node: never the shared one) ----

# Long enough for the node to start and the web to try again (RECONNECT_INTERVAL).
BROKER_WAIT = 15.0
RECONNECT_INTERVAL = "0.5"


@pytest.fixture
async def late_broker() -> AsyncIterator[PrivateRabbitMQ]:
    """A private RabbitMQ with its port chosen but not started: the test starts it."""
    reason = private_rabbitmq_available()
    if reason is not None:
        pytest.skip(reason)
    broker = PrivateRabbitMQ()
    try:
        yield broker
    finally:
        await broker.remove()


@pytest.fixture
async def broker_client(
    web_environ: dict[str, str], prefix: str, late_broker: PrivateRabbitMQ
) -> AsyncIterator[Client]:
    """The web, started against ``late_broker`` before that answers."""
    app = live_app(
        web_environ, prefix, late_broker.url, WEB_BROKER_RECONNECT_INTERVAL=RECONNECT_INTERVAL
    )
    async with TestClient(TestServer(app)) as client:
        yield client


async def publish_stored(broker: PrivateRabbitMQ, prefix: str, event: dict[str, Any]) -> None:
    """As the mail store announces a batch: on the durable fanout ``<prefix>.events``."""
    connection = await aio_pika.connect(broker.url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{prefix}.events", aio_pika.ExchangeType.FANOUT, durable=True
        )
        await publish(exchange, event)


async def metric(client: Client, name: str) -> float:
    auth = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
    text = await (await client.get("/metrics", headers=auth)).text()
    values = [line.split()[-1] for line in text.splitlines() if line.startswith(f"{name} ")]
    assert values, f"{name} not in /metrics"
    return float(values[0])


@pytest.mark.slow
async def test_the_web_started_before_the_broker_gets_live_events_once_it_answers(
    broker_client: Client, late_broker: PrivateRabbitMQ, prefix: str, h: Any, deliver: Any
) -> None:
    client = broker_client
    address = await h.register(client)
    await deliver(b"From: a@example.com\r\nSubject: hello\r\n\r\nx\r\n", rcpt_to=[address])
    await h.login(client, address)
    entry = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]
    # Serving without the broker: pages, and readiness, do not wait for it.
    ready = await client.get("/readyz")
    assert (ready.status, (await ready.json())["live"]) == (200, "down")
    assert await metric(client, "webmail_live_channel_up") == 0

    async with client.get("/live/events") as stream:
        assert (await next_event(stream))[0] == "counts"
        assert (await next_event(stream))[0] == "down"
        await late_broker.start()
        # Bounded, not timed: the web's next attempt after the node answers.
        assert (await next_event(stream, timeout=BROKER_WAIT))[0] == "up"
        batch = [{"account": address, "id": entry, "folder": "inbox"}]
        await publish_stored(late_broker, prefix, {"event": "stored", "entries": batch})
        name, data = await next_event(stream)

    assert name == "stored"
    assert data["message"]["id"] == entry
    assert await metric(client, "webmail_live_channel_up") == 1
    assert (await (await client.get("/readyz")).json())["live"] == "up"


@pytest.mark.slow
async def test_the_stream_says_down_when_the_broker_stops_and_resumes_when_it_is_back(
    broker_client: Client, late_broker: PrivateRabbitMQ, prefix: str, h: Any
) -> None:
    client = broker_client
    await late_broker.start()
    await wait_live(client, up=True, timeout=BROKER_WAIT)
    address = await h.register(client)
    await h.login(client, address)

    async with client.get("/live/events") as stream:
        assert (await next_event(stream))[0] == "counts"
        await late_broker.stop()
        # Told at once, not left with keep-alives: the page polls meanwhile.
        assert await next_event(stream, timeout=BROKER_WAIT) == ("down", {})
        assert await metric(client, "webmail_live_channel_up") == 0
        await late_broker.start()
        assert (await next_event(stream, timeout=BROKER_WAIT))[0] == "up"
        # The robust connection declared our queue, its binding and consumer again.
        event = {"event": "stored", "entries": [{"account": address, "id": 1}]}
        await publish_stored(late_broker, prefix, event)
        assert (await next_event(stream))[0] == "stored"

    assert await metric(client, "webmail_live_reconnects_total") == 1
    assert await metric(client, "webmail_live_channel_up") == 1
