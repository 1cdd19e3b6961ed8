"""The service over real sockets: HTTP health, both listeners, limits, graceful stop.

The app runs with the in-memory backend (``memory_factory``); IMAP and HTTP listen on
ephemeral ports of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from imap_gateway.backends import BackendFactory, ReadyMemory, ServiceBackend, memory_factory
from imap_gateway.keys import LISTENERS
from imap_gateway.listeners import IMAP, IMAPS, POP3, TOO_MANY
from imap_gateway.main import create_app
from imap_gateway.memory import MemoryBackend
from imap_gateway.settings import Config, TLSFiles, load_config
from imap_gateway.wire import codes

if TYPE_CHECKING:
    from conftest import Client, HeldStatus

TIMEOUT = 5.0  # a bound on waiting, never a timing assertion
USER = "alice@example.org"
PASSWORD = "correct horse"


@dataclass
class Service:
    app: web.Application
    http: TestClient[web.Request, web.Application]
    client_class: type[Client]
    clients: list[Client] = dataclasses.field(default_factory=list)

    def port(self, listener: str) -> int:
        return self.app[LISTENERS].port(listener)

    async def connect(self, listener: str = IMAP, *, tls: ssl.SSLContext | None = None) -> Client:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", self.port(listener), ssl=tls, server_hostname="localhost" if tls else None
        )
        client = self.client_class(reader, writer)
        self.clients.append(client)
        return client

    async def greeted(self, listener: str = IMAP, *, tls: ssl.SSLContext | None = None) -> Client:
        client = await self.connect(listener, tls=tls)
        greeting = await client.response()
        assert greeting.startswith(b"* OK [CAPABILITY "), greeting
        return client

    async def metrics(self) -> dict[str, float]:
        response = await self.http.get("/metrics")
        assert response.status == 200
        samples = {}
        for line in (await response.text()).splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples


StartService = Callable[..., Awaitable[Service]]


@pytest.fixture
def config() -> Config:
    return dataclasses.replace(
        load_config({"LOCALPOST_DEV": "1"}), imap_port=0, imaps_port=0, pop3_port=0, pop3s_port=0
    )


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_files(ca: trustme.CA, tmp_path: Path) -> TLSFiles:
    cert = ca.issue_cert("localhost", "127.0.0.1")
    files = TLSFiles(cert=tmp_path / "tls.crt", key=tmp_path / "tls.key")
    files.cert.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(files.key))
    return files


@pytest.fixture
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
async def start_service(
    backend: MemoryBackend, client_class: type[Client]
) -> AsyncIterator[StartService]:
    services: list[Service] = []

    async def start(config: Config, factory: BackendFactory | None = None) -> Service:
        app = create_app(config, backend_factory=factory or memory_factory(backend))
        http = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await http.start_server()
        service = Service(app, http, client_class)
        services.append(service)
        return service

    yield start
    for service in services:
        for client in service.clients:
            await client.close()
        await service.http.close()


@pytest.fixture
async def service(start_service: StartService, config: Config) -> Service:
    return await start_service(config)


# --- HTTP ------------------------------------------------------------------------------------


async def test_healthz_is_200_ok(service: Service) -> None:
    response = await service.http.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_200_with_the_memory_backend(service: Service) -> None:
    response = await service.http.get("/readyz")

    assert response.status == 200
    assert await response.json() == {"status": "ready"}


class Unready(ReadyMemory):
    async def unready_reason(self) -> str | None:
        return "mailstore answered 503"


async def test_readyz_is_503_with_the_backends_reason(
    start_service: StartService, config: Config, backend: MemoryBackend
) -> None:
    @contextlib.asynccontextmanager
    async def unready(config: Config) -> AsyncIterator[ServiceBackend]:
        yield Unready(backend)

    service = await start_service(config, unready)

    response = await service.http.get("/readyz")

    assert response.status == 503
    assert await response.json() == {"status": "unavailable", "reason": "mailstore answered 503"}


async def test_metrics_count_connections_commands_logins_and_bytes(service: Service) -> None:
    client = await service.greeted()
    await client.command('LOGIN alice@example.org "wrong"')
    await client.login()
    await client.ok("SELECT INBOX")

    samples = await service.metrics()

    assert samples['localpost_imap_connections_total{listener="imap"}'] == 1
    assert samples['localpost_imap_open_connections{listener="imap"}'] == 1
    assert samples['localpost_imap_sessions{state="selected"}'] == 1
    assert samples['localpost_imap_sessions{state="not authenticated"}'] == 0
    assert samples["localpost_imap_idle_sessions"] == 0
    assert samples['localpost_imap_commands_total{command="LOGIN",status="NO"}'] == 1
    assert samples['localpost_imap_commands_total{command="SELECT",status="OK"}'] == 1
    assert samples['localpost_imap_logins_total{outcome="ok"}'] == 1
    assert samples['localpost_imap_logins_total{outcome="authenticationfailed"}'] == 1
    assert samples["localpost_imap_sent_bytes_total"] > 100
    assert samples['localpost_imap_limit_refusals_total{limit="connections_per_source"}'] == 0


# --- listeners and TLS -----------------------------------------------------------------------


async def test_without_tls_files_only_the_plain_listener_opens(service: Service) -> None:
    assert set(service.app[LISTENERS].servers) == {IMAP, POP3}
    client = await service.greeted()

    capability = await client.ok("CAPABILITY")

    assert b"STARTTLS" not in capability[0]


async def test_untrusted_client_sees_logindisabled_until_starttls(
    start_service: StartService, config: Config, tls_files: TLSFiles, client_tls: ssl.SSLContext
) -> None:
    untrusted = (ipaddress.ip_network("10.0.0.0/8"),)
    service = await start_service(
        dataclasses.replace(config, tls=tls_files, trusted_networks=untrusted)
    )
    client = await service.greeted()

    before = (await client.ok("CAPABILITY"))[0].split(b" ")
    refused = await client.command(f'LOGIN {USER} "{PASSWORD}"')
    await client.ok("STARTTLS")
    await client.writer.start_tls(client_tls, server_hostname="localhost")
    after = (await client.ok("CAPABILITY"))[0].split(b" ")
    await client.login()

    assert b"LOGINDISABLED" in before
    assert b"STARTTLS" in before
    assert b"AUTH=PLAIN" not in before
    assert refused[-1].split(b" ")[1:3] == [b"NO", b"[PRIVACYREQUIRED]"]
    assert b"LOGINDISABLED" not in after
    assert b"STARTTLS" not in after
    assert b"AUTH=PLAIN" in after


async def test_trusted_client_may_log_in_without_tls(service: Service) -> None:
    client = await service.greeted()

    capability = (await client.ok("CAPABILITY"))[0].split(b" ")
    await client.login()

    assert b"AUTH=PLAIN" in capability
    assert b"LOGINDISABLED" not in capability


async def test_implicit_tls_listener_serves_imap_inside_tls(
    start_service: StartService, config: Config, tls_files: TLSFiles, client_tls: ssl.SSLContext
) -> None:
    untrusted = (ipaddress.ip_network("10.0.0.0/8"),)
    service = await start_service(
        dataclasses.replace(config, tls=tls_files, trusted_networks=untrusted)
    )
    client = await service.greeted(IMAPS, tls=client_tls)

    capability = (await client.ok("CAPABILITY"))[0].split(b" ")
    await client.login()
    samples = await service.metrics()

    assert b"STARTTLS" not in capability
    assert b"LOGINDISABLED" not in capability
    assert b"AUTH=PLAIN" in capability
    assert samples['localpost_imap_connections_total{listener="imaps"}'] == 1


async def test_appendlimit_is_announced_from_the_configuration(
    start_service: StartService, config: Config
) -> None:
    service = await start_service(dataclasses.replace(config, append_limit=1000))
    client = await service.greeted()
    await client.login()

    capability = (await client.ok("CAPABILITY"))[0].split(b" ")
    refused = await client.command(b"APPEND INBOX {2000+}\r\n" + b"x" * 2000)

    assert b"APPENDLIMIT=1000" in capability
    assert refused[-1].split(b" ")[1:3] == [b"NO", b"[TOOBIG]"]


# --- limits ----------------------------------------------------------------------------------


async def test_connections_beyond_the_per_source_limit_get_bye_unavailable(
    start_service: StartService, config: Config
) -> None:
    service = await start_service(dataclasses.replace(config, max_connections_per_source=2))
    first = await service.greeted()
    await service.greeted()

    third = await service.connect()
    refusal = await third.response()

    assert refusal == f"* BYE [{codes.UNAVAILABLE}] {TOO_MANY}".encode()
    assert await third.closed()
    samples = await service.metrics()
    assert samples['localpost_imap_limit_refusals_total{limit="connections_per_source"}'] == 1
    # A place frees up when a connection ends.
    await first.command("LOGOUT")
    assert await first.closed()
    for _ in range(50):
        if (await service.metrics())['localpost_imap_open_connections{listener="imap"}'] < 2:
            break
        await asyncio.sleep(0.02)
    await service.greeted()


async def test_logins_beyond_the_per_account_limit_get_no_limit(
    start_service: StartService, config: Config
) -> None:
    service = await start_service(dataclasses.replace(config, max_connections_per_account=1))
    first = await service.greeted()
    await first.login()
    second = await service.greeted()

    refused = await second.command(f'LOGIN {USER} "{PASSWORD}"')
    await first.ok("LOGOUT")
    assert await first.closed()
    await second.login()

    assert refused[-1].split(b" ")[1:3] == [b"NO", b"[LIMIT]"]
    samples = await service.metrics()
    assert samples['localpost_imap_limit_refusals_total{limit="connections_per_account"}'] == 1
    assert samples['localpost_imap_logins_total{outcome="limit"}'] == 1


# --- graceful stop ---------------------------------------------------------------------------


async def test_stop_says_bye_to_idle_sessions_and_finishes_a_command_in_flight(
    service: Service, held_status: HeldStatus
) -> None:
    idling = await service.greeted()
    await idling.login()
    await idling.ok("SELECT INBOX")
    await idling.send("i1 IDLE\r\n")
    assert await idling.response() == b"+ idling"
    busy = await service.greeted()
    await busy.login()
    await busy.send("s1 STATUS INBOX (MESSAGES)\r\n")
    await asyncio.wait_for(held_status.entered.wait(), TIMEOUT)
    port = service.port(IMAP)

    stopping = asyncio.ensure_future(service.http.close())
    assert await idling.response() == b"* BYE Server shutting down"
    assert await idling.closed()
    held_status.gate.set()
    answered = await busy.until_tagged("s1")
    await asyncio.wait_for(stopping, TIMEOUT)

    assert busy.status_of(answered) == b"OK"
    assert await busy.response() == b"* BYE Server shutting down"
    assert await busy.closed()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
