"""Fixtures: the gateway against the real RabbitMQ and a fake of mailstore's directory.

- ``prefix``: a queue prefix no other run uses; ``broker`` deletes its queues and
  exchanges afterwards.
- ``mailstore``: a small aiohttp server on 127.0.0.1:0 speaking the two directory calls
  of docs/architecture.md (the real mail store joins in tests/integration/).
- ``gateway``: ``create_app`` started in this event loop, SMTP on ephemeral ports.
- ``LineClient``: a raw SMTP client that parses replies into ``Reply`` objects, so a
  test writes ``assert reply == replies.MAILBOX_UNAVAILABLE``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from smtp_gateway.handler import WEB_PRINCIPAL
from smtp_gateway.keys import LISTENERS, PUBLISHER
from smtp_gateway.main import create_app
from smtp_gateway.settings import (
    DEV_MAILSTORE_TOKEN,
    DEV_WEB_SUBMISSION_SECRET,
    Config,
    load_config,
)
from smtp_gateway.topology import Names
from smtplib_common import replies
from smtplib_common.replies import Reply

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
DOMAIN = "localpost.test"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
PASSWORDS = {ALICE: "alice-password-123", BOB: "bob-password-456"}
WEB_SECRET = DEV_WEB_SUBMISSION_SECRET
# Every wait in a test is bounded, so a hang fails in seconds.
TIMEOUT = 10.0

_STATUS = re.compile(r"([245]\.\d{1,3}\.\d{1,3}) ")


# --- a raw SMTP client ---------------------------------------------------------------------


def parse_reply(lines: list[bytes]) -> Reply:
    code = int(lines[0][:3])
    texts = [line[4:].rstrip(b"\r\n").decode() for line in lines]
    first = _STATUS.match(texts[0])
    status = first[1] if first else None
    if status is not None and all(t.startswith(status + " ") for t in texts):
        texts = [t[len(status) + 1 :] for t in texts]
    else:
        status = None
    return Reply(code, status, "\n".join(texts))


class LineClient:
    """A raw SMTP client. Test modules cannot import from conftest (importlib mode),
    so the small helpers they share are static methods here."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(
        cls, port: int, *, local_host: str | None = None, tls: ssl.SSLContext | None = None
    ) -> LineClient:
        """Connect to 127.0.0.1:``port``, from ``local_host`` (another 127.0.0.N: another
        client address) when given; with ``tls``, TLS first (implicit TLS, RFC 8314)."""
        local_addr = (local_host, 0) if local_host else None
        reader, writer = await asyncio.open_connection(
            "127.0.0.1",
            port,
            local_addr=local_addr,
            ssl=tls,
            server_hostname="localhost" if tls is not None else None,
        )
        client = cls(reader, writer)
        greeting = await client.read_reply()
        assert greeting.code == 220, greeting
        return client

    async def command(self, line: str | bytes) -> Reply:
        self.writer.write(line if isinstance(line, bytes) else line.encode() + b"\r\n")
        await self.writer.drain()
        return await self.read_reply()

    async def read_reply(self) -> Reply:
        lines: list[bytes] = []
        async with asyncio.timeout(TIMEOUT):
            while True:
                line = await self.reader.readline()
                if not line.endswith(b"\n"):
                    raise ConnectionError(f"connection closed inside a reply: {lines!r}")
                lines.append(line)
                if line[3:4] != b"-":
                    return parse_reply(lines)

    async def ehlo(self) -> Reply:
        return await self.command("EHLO client.test")

    async def starttls(self, context: ssl.SSLContext) -> None:
        await self.writer.start_tls(context, server_hostname="localhost")

    async def auth_plain(self, username: str, password: str) -> Reply:
        token = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
        return await self.command(f"AUTH PLAIN {token}")

    async def data(self, content: bytes) -> Reply:
        reply = await self.command("DATA")
        if reply.code != 354:
            return reply  # e.g. 421 from a server that is shutting down (RFC 5321 §3.8)
        # The client's CRLF before "." ends the last line; it is not added to it.
        ending = b".\r\n" if content.endswith(b"\r\n") else b"\r\n.\r\n"
        return await self.command(content + ending)

    async def transaction(
        self, mail_from: str, rcpts: list[str], content: bytes, *, mail_params: str = ""
    ) -> list[Reply]:
        """MAIL, each RCPT, then DATA if any RCPT was accepted: every reply, in order."""
        answers = [await self.command(f"MAIL FROM:<{mail_from}>{mail_params}")]
        if answers[0].code != 250:
            return answers
        for rcpt in rcpts:
            answers.append(await self.command(f"RCPT TO:<{rcpt}>"))
        if any(reply.code == 250 for reply in answers[1:]):
            answers.append(await self.data(content))
        else:
            answers.append(await self.command("RSET"))
        return answers

    @staticmethod
    def message(subject: str = "Hello") -> bytes:
        return (
            f"From: Alice <{ALICE}>\r\nTo: Bob <{BOB}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@client.test>\r\n\r\nHi Bob!\r\n"
        ).encode()

    @staticmethod
    def results(body: bytes) -> tuple[str, bytes]:
        """The gateway's Authentication-Results field on top of ``body`` (unfolded, without
        its name) and the rest of the body; fails the test when it is not there."""
        name, _, rest = body.partition(b":")
        assert name == b"Authentication-Results", body[:200]
        lines = rest.split(b"\r\n")
        count = 1
        while lines[count][:1] in (b" ", b"\t"):
            count += 1
        value = b"".join(lines[:count]).decode()
        return " ".join(value.split()), b"\r\n".join(lines[count:])

    @staticmethod
    def queued_id(reply: Reply) -> str:
        """The id in ``250 2.0.0 Ok: queued as <id>``; fails the test on any other reply."""
        match = re.fullmatch(r"Ok: queued as ([0-9A-Z]{26})", reply.text)
        assert (reply.code, reply.status) == (250, "2.0.0"), reply
        assert match is not None, reply
        return match[1]

    async def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()


# --- a fake of mailstore's directory ---------------------------------------------------------


@dataclass
class FakeMailstore:
    """``GET /v1/mailboxes/{address}``, ``/v1/recipients/{address}``,
    ``/v1/accounts/{address}/aliases`` and ``POST /v1/auth/verify``, as documented."""

    accounts: dict[str, str] = field(default_factory=lambda: dict(PASSWORDS))
    # alias address -> the accounts it delivers to
    aliases: dict[str, list[str]] = field(default_factory=dict)
    # True: every call answers 503, as a mail store without its database would.
    failing: bool = False
    # Seconds every call waits before answering, to show the client's timeout.
    delay: float = 0.0
    # Seconds a login check waits on top of that, as a bcrypt on a busy machine does.
    verify_delay: float = 0.0
    token: str = DEV_MAILSTORE_TOKEN
    lookups: list[str] = field(default_factory=list)
    # Accounts an administrator disabled: their lookup says so.
    disabled: set[str] = field(default_factory=set)
    # Bytes an account may still take under its quota (absent: no limit; 0: full).
    rooms: dict[str, int] = field(default_factory=dict)
    # list address -> the senders its posting policy lets post (the rest: sender_refused)
    lists: dict[str, set[str]] = field(default_factory=dict)
    # The ?sender= of each /v1/recipients lookup, in order ("" when absent).
    senders: list[str] = field(default_factory=list)
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/mailboxes/{address}", self._mailbox)
        app.router.add_get("/v1/recipients/{address}", self._recipient)
        app.router.add_get("/v1/accounts/{address}/aliases", self._aliases)
        app.router.add_post("/v1/auth/verify", self._verify)
        return app

    async def _refusal(self, request: web.Request) -> web.Response | None:
        await asyncio.sleep(self.delay)
        if self.failing:
            return web.json_response({"error": "database unavailable"}, status=503)
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("Bearer "):
            return web.json_response({"error": "unauthorized"}, status=401)
        if authorization != f"Bearer {self.token}":  # as the mail store: wrong token is 403
            return web.json_response({"error": "wrong service token"}, status=403)
        return None

    async def _mailbox(self, request: web.Request) -> web.Response:
        address = request.match_info["address"]
        self.lookups.append(address)
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        status = 200 if address.lower() in self.accounts else 404
        body = {"address": address, "disabled": address.lower() in self.disabled}
        return web.json_response(body, status=status)

    async def _recipient(self, request: web.Request) -> web.Response:
        """As the mail store: an account, its subaddress (local+detail@), an alias, a
        list; ``disabled`` when only disabled accounts are behind it, ``sender_refused``
        when a list does not let ``?sender=`` post."""
        address = request.match_info["address"]
        self.lookups.append(address)
        sender = request.query.get("sender", "").lower()
        self.senders.append(sender)
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        local, _, domain = address.lower().rpartition("@")
        base = f"{local.partition('+')[0]}@{domain}"
        known = {*self.accounts, *self.aliases, *self.lists}
        found = address.lower() if address.lower() in known else base
        status = 200 if found in known else 404
        behind = self.aliases.get(found, [found])
        disabled = all(account in self.disabled for account in behind)
        limited = [self.rooms[account] for account in behind if account in self.rooms]
        room = max(limited) if len(limited) == len(behind) else None
        refused = found in self.lists and sender not in self.lists[found]
        body = {
            "address": address,
            "disabled": disabled,
            "sender_refused": refused,
            "full": room == 0,
            "room": room,
        }
        return web.json_response(body, status=status)

    async def _aliases(self, request: web.Request) -> web.Response:
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        account = request.match_info["address"].lower()
        if account not in self.accounts:
            return web.json_response({"error": "no account"}, status=404)
        owned = sorted(alias for alias, targets in self.aliases.items() if account in targets)
        return web.json_response({"aliases": owned})

    async def _verify(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.verify_delay)
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        body = await request.json()
        address = str(body.get("address", "")).lower()
        if self.accounts.get(address) != body.get("password"):
            return web.json_response({"error": "invalid credentials"}, status=401)
        return web.json_response({"address": address, "name": address.split("@")[0]})

    async def start(self) -> None:
        self.server = TestServer(self.app(), host="127.0.0.1", port=0)
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()


@pytest.fixture
async def mailstore() -> AsyncIterator[FakeMailstore]:
    fake = FakeMailstore()
    await fake.start()
    yield fake
    await fake.stop()


# --- the broker ------------------------------------------------------------------------------


@pytest.fixture
def prefix() -> str:
    return f"lp-test-{uuid.uuid4().hex[:12]}"


BATCH_CONTENT_TYPE = "application/x-localpost-batch"


@dataclass(frozen=True)
class Queued:
    """One mail message as it stands on the incoming queue."""

    message_id: str
    mail_from: str
    rcpt_to: list[str]
    submitted_by: str | None
    body: bytes
    batch: bool = False


@dataclass
class Broker:
    """The test's own view of the real broker, under the test's prefix."""

    channel: aio_pika.abc.AbstractChannel
    names: Names

    async def drain(self) -> list[AbstractIncomingMessage]:
        """Every AMQP message now on the incoming queue, taken off it."""
        queue = await self.channel.declare_queue(self.names.incoming_queue, passive=True)
        taken = []
        while (msg := await queue.get(no_ack=True, fail=False, timeout=TIMEOUT)) is not None:
            taken.append(msg)
        return taken

    async def drain_mail(self) -> list[Queued]:
        """Every mail message now on the incoming queue, batches opened, as the
        contract in docs/architecture.md describes both forms."""
        mail = []
        for msg in await self.drain():
            if msg.content_type != BATCH_CONTENT_TYPE:
                headers = msg.headers
                mail.append(
                    Queued(
                        str(msg.message_id),
                        str(headers["x-localpost-mail-from"]),
                        [str(r) for r in headers["x-localpost-rcpt-to"]],
                        headers.get("x-localpost-submitted-by"),
                        msg.body,
                    )
                )
                continue
            # Never a gateway id alone: a mail store without batches must not take it for one.
            assert msg.message_id is not None
            assert msg.message_id.startswith("batch-")
            start = msg.headers["x-localpost-manifest"]
            assert isinstance(start, int)
            for entry in json.loads(msg.body[:start]):
                body = msg.body[start : start + entry["size"]]
                start += entry["size"]
                mail.append(
                    Queued(
                        entry["id"],
                        entry["mail_from"],
                        entry["rcpt_to"],
                        entry["submitted_by"],
                        body,
                        batch=True,
                    )
                )
            assert start == len(msg.body), "the manifest's sizes do not cover the body"
        return mail

    async def unbind_incoming(self) -> None:
        queue = await self.channel.declare_queue(self.names.incoming_queue, passive=True)
        await queue.unbind(self.names.mail_exchange, "incoming")


@pytest.fixture
async def broker(prefix: str) -> AsyncIterator[Broker]:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        names = Names.for_prefix(prefix)
        yield Broker(channel, names)
        # A fresh channel: a failed passive declaration may have closed the first one.
        cleanup = await connection.channel()
        for queue in (names.incoming_queue, names.dead_queue):
            await cleanup.queue_delete(queue)
        exchanges = (
            names.mail_exchange,
            names.dead_exchange,
            names.events_exchange,
            names.directory_exchange,
        )
        for exchange in exchanges:
            await cleanup.exchange_delete(exchange)


# --- the gateway -----------------------------------------------------------------------------


def gateway_environ(prefix: str, mailstore_url: str, amqp_url: str = AMQP_URL) -> dict[str, str]:
    return {
        "LOCALPOST_DEV": "1",
        "LOCALPOST_DOMAIN": f"{DOMAIN},other-local.test",
        "AMQP_URL": amqp_url,
        "LOCALPOST_QUEUE_PREFIX": prefix,
        "MAILSTORE_URL": mailstore_url,
        "GATEWAY_PUBLISH_TIMEOUT": "2",
        "GATEWAY_DIRECTORY_TIMEOUT": "2",
        "GATEWAY_BROKER_RECONNECT_INTERVAL": "0.2",
        "GATEWAY_STOP_GRACE": "5",
    }


@pytest.fixture
def gateway_env(prefix: str, mailstore: FakeMailstore) -> dict[str, str]:
    """The environment of a gateway process for this test (ports not included)."""
    return gateway_environ(prefix, mailstore.url)


ConfigFor = Callable[[str], Config]


@pytest.fixture
def config_for(prefix: str) -> ConfigFor:
    """``config_for(mailstore_url)``: this test's gateway configuration, against that mail
    store (the real one in test_auth_throttle.py)."""

    def make(mailstore_url: str) -> Config:
        # Ports 0: the listeners pick free ports (load_config refuses 0 on purpose).
        return dataclasses.replace(
            load_config(gateway_environ(prefix, mailstore_url)),
            smtp_port=0,
            submission_port=0,
            submissions_port=0,
        )

    return make


@pytest.fixture
def config(config_for: ConfigFor, mailstore: FakeMailstore) -> Config:
    return config_for(mailstore.url)


@dataclass
class Gateway:
    app: web.Application
    http: TestClient[web.Request, web.Application]

    @property
    def delivery_port(self) -> int:
        return self.app[LISTENERS].delivery.port

    @property
    def submission_port(self) -> int:
        return self.app[LISTENERS].submission.port

    @property
    def submissions_port(self) -> int:
        submissions = self.app[LISTENERS].submissions
        assert submissions is not None, "no TLS files: no implicit-TLS submission listener"
        return submissions.port

    async def wait_connected(self) -> None:
        async with asyncio.timeout(TIMEOUT):
            # "connected" is a state (up, then topology declared), not an event.
            while not self.app[PUBLISHER].connected:  # noqa: ASYNC110
                await asyncio.sleep(0.02)


StartGateway = Callable[[Config], Awaitable[Gateway]]


@pytest.fixture
async def start_gateway(broker: Broker) -> AsyncIterator[StartGateway]:
    """``await start_gateway(config)``; stopped (before the broker clean-up) after the test."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def start(config: Config) -> Gateway:
        app = create_app(config)
        client = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
        return Gateway(app, client)

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def gateway(start_gateway: StartGateway, config: Config) -> Gateway:
    gateway = await start_gateway(config)
    await gateway.wait_connected()
    return gateway


@pytest.fixture
async def alice(gateway: Gateway, connect: Callable[[int], Awaitable[LineClient]]) -> LineClient:
    """A submission client authenticated as Alice."""
    client = await connect(gateway.submission_port)
    await client.ehlo()
    assert await client.auth_plain(ALICE, PASSWORDS[ALICE]) == replies.AUTH_SUCCEEDED
    return client


@pytest.fixture(name="web")
async def web_principal(
    gateway: Gateway, connect: Callable[[int], Awaitable[LineClient]]
) -> LineClient:
    """A submission client authenticated as the web service's principal."""
    client = await connect(gateway.submission_port)
    await client.ehlo()
    assert await client.auth_plain(WEB_PRINCIPAL, WEB_SECRET) == replies.AUTH_SUCCEEDED
    return client


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[int], Awaitable[LineClient]]]:
    """``await connect(port)``: a greeted client, closed after the test;
    ``connect(port, "127.0.0.N")`` connects from that address, ``connect(port, tls=ctx)``
    over implicit TLS."""
    clients: list[LineClient] = []

    async def open_client(
        port: int, local_host: str | None = None, *, tls: ssl.SSLContext | None = None
    ) -> LineClient:
        client = await LineClient.open(port, local_host=local_host, tls=tls)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.close()


# --- a TCP proxy in front of the broker, for faults ------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the broker; can freeze, cut and refuse.

    ``freeze()`` holds every byte in both directions (a broker that stopped sending
    confirms), ``cut()`` aborts every connection and refuses new ones until
    ``restore()`` (a broker that went away).
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._refusing = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        self._flowing.clear()

    def restore(self) -> None:
        self._refusing = False
        self._flowing.set()

    def cut(self) -> None:
        self._refusing = True
        for writer in self._writers:
            writer.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        except ConnectionError:
            pass
        finally:
            sink.transport.abort()
            self._writers.discard(sink)

    async def close(self) -> None:
        self.restore()
        if self._server is not None:
            self._server.close()
        # Connections first: since Python 3.12.1 wait_closed() waits for every accepted
        # connection to close (it used to return at once).
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


@pytest.fixture
async def broker_proxy() -> AsyncIterator[TcpProxy]:
    url = aio_pika.connection.make_url(AMQP_URL)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5672))
    await proxy.start()
    yield proxy
    await proxy.close()


StartProxied = Callable[..., Awaitable[Gateway]]


@pytest.fixture
def start_proxied(
    broker_proxy: TcpProxy, start_gateway: StartGateway, config: Config
) -> StartProxied:
    """``await start_proxied(publish_timeout=..., **config_changes)``: a connected
    gateway whose broker connection runs through ``broker_proxy``."""

    async def start(*, publish_timeout: float, **changes: Any) -> Gateway:
        url = f"amqp://guest:guest@127.0.0.1:{broker_proxy.port}/"
        changed = dataclasses.replace(
            config, amqp_url=url, publish_timeout=publish_timeout, **changes
        )
        gateway = await start_gateway(changed)
        await gateway.wait_connected()
        return gateway

    return start
