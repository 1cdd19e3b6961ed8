"""The connection itself: STARTTLS, the idle and command timeouts, refused literals."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import pytest
import trustme

from imap_gateway import backend as bk
from imap_gateway.memory import MemoryMessage, MemoryUser
from imap_gateway.session import SessionSettings
from imap_gateway.wire.fetch import Section
from imap_gateway.wire.limits import WireLimits

if TYPE_CHECKING:
    from conftest import Client, Server

    ServerFactory = Callable[..., Awaitable[Server]]


async def test_starttls_then_login_works_for_an_untrusted_client(
    make_server: ServerFactory,
) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    server = await make_server(trusted=False, settings=SessionSettings(tls_context=server_context))
    client = await server.connect()

    before = await client.ok("CAPABILITY")
    await client.ok("STARTTLS")
    await client.writer.start_tls(client_context, server_hostname="localhost")
    after = await client.ok("CAPABILITY")
    login = await client.command(f'LOGIN {client.USER} "{client.PASSWORD}"')

    assert b"STARTTLS" in before[0]
    assert b"LOGINDISABLED" in before[0]
    assert b"STARTTLS" not in after[0]
    assert b"AUTH=PLAIN" in after[0]
    assert client.status_of(login) == b"OK"


async def test_starttls_without_a_certificate_is_bad(server: Server) -> None:
    client = await server.connect()

    lines = await client.command("STARTTLS")

    assert client.status_of(lines) == b"BAD"


async def test_commands_pipelined_after_starttls_are_refused(make_server: ServerFactory) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    server = await make_server(trusted=False, settings=SessionSettings(tls_context=context))
    client = await server.connect()

    await client.send("s1 STARTTLS\r\ns2 NOOP\r\n")
    refused = await client.until_tagged("s1")

    assert client.status_of(refused) == b"BAD"


async def test_idle_client_is_logged_out_with_bye(make_server: ServerFactory) -> None:
    server = await make_server(settings=SessionSettings(idle_timeout=0.2, command_timeout=0.1))
    client = await server.connect()

    bye = await client.response()

    assert bye == b"* BYE Autologout; idle for too long"
    assert await client.closed()


async def test_a_command_trickling_in_is_cut_off_with_bye(make_server: ServerFactory) -> None:
    settings = SessionSettings(idle_timeout=60, command_timeout=0.1)
    server = await make_server(settings=settings)
    client = await server.connect()

    await client.send("a1 NO")
    bye = await client.response()

    assert bye == b"* BYE Command not completed in time"


async def test_a_slow_client_within_the_timeouts_is_served(make_server: ServerFactory) -> None:
    server = await make_server(settings=SessionSettings(idle_timeout=60, command_timeout=5))
    client = await server.connect()

    await client.send("a1 NO")
    await asyncio.sleep(0.05)
    await client.send("OP\r\n")
    lines = await client.until_tagged("a1")

    assert client.status_of(lines) == b"OK"


async def test_a_too_long_line_is_bad_and_the_session_goes_on(make_server: ServerFactory) -> None:
    settings = SessionSettings(wire=WireLimits(max_line_length=8192))
    server = await make_server(settings=settings)
    client = await server.connect()

    lines = await client.command("NOOP " + "x" * 10_000)
    after = await client.command("NOOP")

    assert client.status_of(lines) == b"BAD"
    assert client.status_of(after) == b"OK"


async def test_a_huge_nonsync_literal_closes_with_bye(make_server: ServerFactory) -> None:
    settings = SessionSettings(wire=WireLimits(max_nonsync_literal=None, max_discard=1024))
    server = await make_server(settings=settings)
    client = await server.connect()

    await client.send(b"a1 LOGIN {999999999+}\r\n")
    refused = await client.response()
    bye = await client.response()

    assert refused.startswith(b"a1 BAD [TOOBIG]")
    assert bye.startswith(b"* BYE")
    assert await client.closed()


async def test_a_bug_in_the_backend_is_serverbug_and_the_session_goes_on(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: MemoryUser, name: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(MemoryUser, "status", broken)
    client = await server.logged_in(select=None)

    lines = await client.command("STATUS INBOX (MESSAGES)")
    after = await client.command("NOOP")

    assert lines[-1].endswith(b"NO [SERVERBUG] Internal server error")
    assert client.status_of(after) == b"OK"


async def _second_body_fails(
    server: Server, monkeypatch: pytest.MonkeyPatch, *, after: bytes
) -> Client:
    """Two messages in INBOX, selected; the second one's body source yields ``after``
    and then the mail store fails."""
    server.deliver("one")
    uid = server.deliver("two")
    section = MemoryMessage.section

    async def failing(
        self: MemoryMessage, which: Section, partial: tuple[int, int] | None
    ) -> bk.BodyData:
        if self.uid != uid:
            return await section(self, which, partial)

        async def chunks() -> AsyncIterator[bytes]:
            if after:
                yield after
            raise bk.BackendUnavailable("mail store went away")

        return bk.BodyData(len(after) + 100, chunks())

    monkeypatch.setattr(MemoryMessage, "section", failing)
    return await server.logged_in()


async def test_a_store_failing_mid_literal_closes_the_connection_instead_of_hanging(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await _second_body_fails(server, monkeypatch, after=b"From: half of it")

    await client.send("f1 FETCH 1:2 BODY.PEEK[]\r\n")
    first = await client.response()
    head = await asyncio.wait_for(client.reader.readuntil(b"}\r\n"), 5)
    rest = await asyncio.wait_for(client.reader.read(), 5)

    assert first.startswith(b"* 1 FETCH (BODY[] {")
    assert first.endswith(b")")
    assert head == b"* 2 FETCH (BODY[] {116}\r\n"
    # Nothing after the octets sent: a tagged answer would be read as the literal's.
    assert rest == b"From: half of it"
    assert client.reader.at_eof()


async def test_a_store_failing_on_a_body_request_is_answered_after_whole_responses(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await _second_body_fails(server, monkeypatch, after=b"")

    lines = await client.command("FETCH 1:2 (UID BODY.PEEK[])")
    after = await client.command("NOOP")

    assert len(lines) == 2
    assert lines[0].startswith(b"* 1 FETCH (UID 1 BODY[] {")
    assert lines[0].endswith(b")")
    assert lines[-1].endswith(b"NO [UNAVAILABLE] Mail store unavailable, try again later")
    assert client.status_of(after) == b"OK"


async def test_a_body_source_breaking_its_size_after_the_literal_is_bye_serverbug(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def too_long(
        self: MemoryMessage, which: Section, partial: tuple[int, int] | None
    ) -> bk.BodyData:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"more than announced"

        return bk.BodyData(0, chunks())

    monkeypatch.setattr(MemoryMessage, "section", too_long)
    server.deliver("one")
    client = await server.logged_in()

    await client.send("f1 FETCH 1 BODY.PEEK[]\r\n")
    cut = await client.response()
    bye = await client.response()

    # The {0} literal is whole; the response is cut at its end and a BYE follows.
    assert cut == b"* 1 FETCH (BODY[] {0}\r\n"
    assert bye.startswith(b"* BYE [SERVERBUG]")
    assert await client.closed()


async def test_a_vanished_client_leaves_no_subscription_behind(server: Server) -> None:
    client = await server.logged_in()
    inbox = server.backend.accounts[client.USER].folders["INBOX"]
    assert len(inbox.feeds) == 1

    await client.close()
    for _ in range(100):  # bounded: the session notices the closed socket on its next read
        if not inbox.feeds:
            break
        await asyncio.sleep(0.01)

    assert not inbox.feeds
    assert server.backend.accounts[client.USER].sessions == 0
