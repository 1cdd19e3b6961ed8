"""STARTTLS (RFC 3207) and implicit TLS (RFC 8314 §3)."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import Credentials, ServerConfig, Session

if TYPE_CHECKING:
    from conftest import Connect, LineClient, MakeServer, Running, Trace

Config = Callable[..., ServerConfig]
Plain = Callable[[Reply], Reply]
Received = Callable[[bytes], "tuple[Trace, bytes]"]
BODY = b"Subject: tls\r\n\r\nover TLS\r\n"
PLAIN_ALICE = base64.b64encode(b"\0alice\0secret").decode()


async def accept_alice(session: Session, credentials: Credentials) -> bool:
    return (credentials.username, credentials.password) == ("alice", "secret")


def keywords(ehlo: Reply) -> list[str]:
    return ehlo.text.split("\n")[1:]


@pytest.fixture
async def tls_server(make_server: MakeServer, server_tls: ssl.SSLContext) -> Running:
    return await make_server(tls_context=server_tls)


async def upgrade(client: LineClient, context: ssl.SSLContext) -> None:
    assert await client.command("STARTTLS") == replies.READY_FOR_TLS
    await client.starttls(context)


async def send_mail(client: LineClient) -> Reply:
    got = await client.send(
        "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", BODY + b".\r\n"
    )
    return got[-1]


async def test_starttls_is_advertised_only_with_a_tls_context(
    server: Running, tls_server: Running, connect: Connect
) -> None:
    without = await connect(server)
    with_tls = await connect(tls_server)

    assert "STARTTLS" not in keywords(await without.ehlo())
    assert "STARTTLS" in keywords(await with_tls.ehlo())


async def test_starttls_upgrades_and_mail_flows_over_tls(
    tls_server: Running, connect: Connect, client_tls: ssl.SSLContext, received: Received
) -> None:
    client = await connect(tls_server)
    await client.ehlo()

    await upgrade(client, client_tls)
    ehlo = await client.ehlo()

    assert ehlo.code == 250
    assert "STARTTLS" not in keywords(ehlo)  # RFC 3207 §4.2: not after TLS is up
    assert (await send_mail(client)).code == 250
    (delivery,) = tls_server.deliveries
    assert delivery.session.tls
    assert (delivery.session.tls_version or "").startswith("TLSv1.")
    trace, content = received(delivery.message)
    assert trace.protocol == "ESMTPS"  # RFC 3848
    assert content == BODY


async def test_starttls_forgets_everything_learned_in_plaintext(
    make_server: MakeServer,
    connect: Connect,
    config: Config,
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
    plain: Plain,
) -> None:
    # RFC 3207 §4.2: EHLO name, AUTH identity and any state are discarded.
    running = await make_server(
        config(auth_require_tls=False), tls_context=server_tls, authenticate=accept_alice
    )
    client = await connect(running)
    await client.ehlo("plaintext-name.test")
    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.AUTH_SUCCEEDED

    await upgrade(client, client_tls)

    assert await client.command("MAIL FROM:<a@example.test>") == plain(replies.NEED_EHLO)
    ehlo = await client.ehlo("tls-name.test")
    assert "AUTH PLAIN LOGIN" in keywords(ehlo)  # no longer authenticated
    assert (await send_mail(client)).code == 250
    session = running.deliveries[0].session
    assert session.helo_name == "tls-name.test"
    assert session.authenticated_as is None


@pytest.mark.parametrize(
    "injected",
    [b"RSET\r\n", b"EHLO injected.test\r\nMAIL FROM:<evil@example.test>\r\n"],
    ids=["RSET", "EHLO+MAIL"],
)
async def test_commands_pipelined_after_starttls_are_never_executed(
    tls_server: Running,
    connect: Connect,
    client_tls: ssl.SSLContext,
    plain: Plain,
    injected: bytes,
) -> None:
    # CVE-2021-33515 class: plaintext sent with STARTTLS must not be answered
    # before the handshake nor executed after it.
    client = await connect(tls_server)
    await client.ehlo()

    assert await client.command(b"STARTTLS\r\n" + injected) == replies.READY_FOR_TLS
    # A plaintext reply sent before the handshake would either break it or
    # sit in the reader's buffer and be read as the first reply below.
    await client.starttls(client_tls)

    # No EHLO took effect over TLS, so MAIL is out of sequence ...
    assert await client.command("MAIL FROM:<a@example.test>") == plain(replies.NEED_EHLO)
    # ... and the next reply is to the next command, not to an injected one.
    ehlo = await client.ehlo()
    assert ehlo.text.startswith(f"{tls_server.server.config.hostname} Hello client.test")


async def test_second_starttls_is_503(
    tls_server: Running, connect: Connect, client_tls: ssl.SSLContext
) -> None:
    client = await connect(tls_server)
    await client.ehlo()
    await upgrade(client, client_tls)
    await client.ehlo()

    assert await client.command("STARTTLS") == replies.TLS_ALREADY_ACTIVE


async def test_starttls_before_ehlo_is_503(
    tls_server: Running, connect: Connect, plain: Plain
) -> None:
    client = await connect(tls_server)

    assert await client.command("STARTTLS") == plain(replies.NEED_EHLO)


async def test_starttls_with_an_argument_is_501(tls_server: Running, connect: Connect) -> None:
    client = await connect(tls_server)
    await client.ehlo()

    assert await client.command("STARTTLS now") == replies.SYNTAX_NO_ARGUMENTS


async def test_starttls_in_a_transaction_is_503(tls_server: Running, connect: Connect) -> None:
    client = await connect(tls_server)
    await client.ehlo()

    got = await client.send("MAIL FROM:<a@example.test>", "STARTTLS", "NOOP")

    assert got == [replies.SENDER_OK, replies.BAD_SEQUENCE, replies.OK]


async def test_starttls_without_a_tls_context_is_502(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command("STARTTLS") == replies.COMMAND_NOT_IMPLEMENTED


async def test_failed_handshake_closes_the_connection_and_frees_its_slot(
    tls_server: Running, connect: Connect
) -> None:
    client = await connect(tls_server)
    await client.ehlo()
    assert await client.command("STARTTLS") == replies.READY_FOR_TLS

    await client.write(b"this is not a TLS ClientHello\r\n" * 10)

    # Whatever the server sends now (a TLS alert at most) is not SMTP.
    assert b"250" not in await client.read_rest()
    assert tls_server.server.connection_count == 0


async def test_implicit_tls_listener_speaks_tls_from_the_first_byte(
    make_server: MakeServer,
    connect: Connect,
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
    received: Received,
) -> None:
    running = await make_server(tls_context=server_tls, implicit_tls=True)
    client = await connect(running, tls=client_tls)

    assert client.greeting is not None
    assert client.greeting.code == 220
    assert "STARTTLS" not in keywords(await client.ehlo())
    assert (await send_mail(client)).code == 250
    assert received(running.messages[0])[0].protocol == "ESMTPS"
