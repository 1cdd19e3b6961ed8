"""POP3 in the service over real sockets: its listeners beside IMAP's, the shared
per-source limit, the per-account limit's lock delegation, metrics, and the stop.

The app runs with the in-memory backend; every listener on an ephemeral port.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import poplib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from imap_gateway.backends import memory_factory
from imap_gateway.keys import LISTENERS
from imap_gateway.listeners import IMAP, POP3, POP3S, TOO_MANY
from imap_gateway.main import create_app
from imap_gateway.memory import MemoryBackend
from imap_gateway.settings import Config, TLSFiles, load_config

TIMEOUT = 10.0  # a bound on waiting, never a timing assertion
USER = "alice@example.org"
PASSWORD = "correct horse"
App = TestClient[web.Request, web.Application]


@pytest.fixture
def memory() -> MemoryBackend:
    backend = MemoryBackend()
    backend.add_user(USER, PASSWORD)
    return backend


@pytest.fixture
def config() -> Config:
    return dataclasses.replace(
        load_config({"LOCALPOST_DEV": "1"}), imap_port=0, imaps_port=0, pop3_port=0, pop3s_port=0
    )


@contextlib.asynccontextmanager
async def running(config: Config, memory: MemoryBackend) -> AsyncIterator[App]:
    app = create_app(config, backend_factory=memory_factory(memory))
    http = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await http.start_server()
    try:
        yield http
    finally:
        await http.close()


def port(http: App, listener: str) -> int:
    return http.app[LISTENERS].port(listener)


async def metrics(http: App) -> dict[str, float]:
    response = await http.get("/metrics")
    samples = {}
    for line in (await response.text()).splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def test_pop3_listens_beside_imap_and_counts_its_commands(
    config: Config, memory: MemoryBackend
) -> None:
    memory.deliver(USER, b"Subject: x\r\n\r\nhello\r\n")
    async with running(config, memory) as http:
        assert set(http.app[LISTENERS].servers) == {IMAP, POP3}  # no TLS files: no POP3S

        def session() -> tuple[bytes, tuple[int, int]]:
            pop = poplib.POP3("127.0.0.1", port(http, POP3), timeout=TIMEOUT)
            try:
                with contextlib.suppress(poplib.error_proto):
                    pop.user(USER)
                    pop.pass_("wrong")
                pop.user(USER)
                pop.pass_(PASSWORD)
                stat = pop.stat()
                return pop.quit(), stat
            finally:
                pop.close()

        bye, stat = await asyncio.to_thread(session)
        assert bye.startswith(b"+OK")
        assert stat == (1, len(b"Subject: x\r\n\r\nhello\r\n"))
        samples = await metrics(http)
    assert samples['localpost_imap_connections_total{listener="pop3"}'] == 1
    assert samples['localpost_pop3_logins_total{outcome="ok"}'] == 1
    assert samples['localpost_pop3_logins_total{outcome="err"}'] == 1
    assert samples['localpost_pop3_commands_total{command="STAT",status="ok"}'] == 1


async def test_the_per_source_limit_counts_imap_and_pop3_together(
    config: Config, memory: MemoryBackend
) -> None:
    limited = dataclasses.replace(config, max_connections_per_source=1)
    async with running(limited, memory) as http:
        _, imap = await asyncio.open_connection("127.0.0.1", port(http, IMAP))
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port(http, POP3))
            refusal = await asyncio.wait_for(reader.readline(), TIMEOUT)
            writer.close()
        finally:
            imap.close()
    assert refusal == f"-ERR [SYS/TEMP] {TOO_MANY}\r\n".encode()


async def test_the_per_account_limit_still_lets_pop3_lock_its_maildrop(
    config: Config, memory: MemoryBackend
) -> None:
    # AccountLimits wraps every user session: the lock must reach the backend through it.
    async with running(dataclasses.replace(config, max_connections_per_account=5), memory) as http:
        reader, writer = await asyncio.open_connection("127.0.0.1", port(http, POP3))
        try:
            await reader.readline()
            writer.write(f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode())
            await reader.readline()
            logged_in = await asyncio.wait_for(reader.readline(), TIMEOUT)
            assert memory.accounts[USER].maildrop_holder is not None
        finally:
            writer.close()
    assert logged_in.startswith(b"+OK Logged in")


@pytest.fixture
def tls_config(config: Config, tmp_path: Path) -> tuple[Config, ssl.SSLContext]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    files = TLSFiles(cert=tmp_path / "tls.crt", key=tmp_path / "tls.key")
    files.cert.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(files.key))
    client = ssl.create_default_context()
    ca.configure_trust(client)
    # Not a trusted network: plain text needs TLS first.
    return dataclasses.replace(config, tls=files, trusted_networks=()), client


async def test_pop3s_and_stls_with_tls_files(
    tls_config: tuple[Config, ssl.SSLContext], memory: MemoryBackend
) -> None:
    config, client_tls = tls_config
    async with running(config, memory) as http:

        def sessions() -> tuple[dict[str, list[str]], bytes]:
            plain = poplib.POP3("127.0.0.1", port(http, POP3), timeout=TIMEOUT)
            try:
                before = plain.capa()
            finally:
                plain.close()
            secure = poplib.POP3_SSL(
                "127.0.0.1", port(http, POP3S), timeout=TIMEOUT, context=client_tls
            )
            try:
                secure.user(USER)
                reply = secure.pass_(PASSWORD)
                secure.quit()
            finally:
                secure.close()
            return before, reply

        before, reply = await asyncio.to_thread(sessions)
    assert "STLS" in before
    assert "USER" not in before
    assert reply.startswith(b"+OK")


async def test_stop_ends_a_waiting_pop3_session_and_deletes_nothing(
    config: Config, memory: MemoryBackend
) -> None:
    memory.deliver(USER, b"Subject: x\r\n\r\nkeep me\r\n")
    async with running(config, memory) as http:
        reader, writer = await asyncio.open_connection("127.0.0.1", port(http, POP3))
        await reader.readline()
        writer.write(f"USER {USER}\r\nPASS {PASSWORD}\r\nDELE 1\r\n".encode())
        for _ in range(3):
            await asyncio.wait_for(reader.readline(), TIMEOUT)
    # The app's clean-up stopped the listeners: the session was cut, not QUIT.
    assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
    writer.close()
    assert len(memory.accounts[USER].folders["INBOX"].messages) == 1
    assert memory.accounts[USER].maildrop_holder is None
