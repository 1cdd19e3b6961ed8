"""Interop with ``aiosmtplib``, an asyncio client we did not write.

aiosmtplib sends one command at a time (it does not pipeline even when
PIPELINING is offered), so its load here is many messages on one connection
and several connections at once.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from typing import TYPE_CHECKING

import aiosmtplib
import pytest

from smtplib_common import replies
from smtplib_common.server import Credentials, ServerConfig, Session

if TYPE_CHECKING:
    from conftest import MakeServer, Running, Trace

pytestmark = pytest.mark.interop

Config = Callable[..., ServerConfig]
Received = Callable[[bytes], "tuple[Trace, bytes]"]


def make_message(n: int = 0) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "alice@example.test"
    message["To"] = "bob@example.test"
    message["Subject"] = f"message {n}"
    message.set_content(f"Body {n}\n.\n..dots\n\u00fcnicode\n")
    return message


async def accept_alice(session: Session, credentials: Credentials) -> bool:
    return (credentials.username, credentials.password) == ("alice", "secret")


async def test_send_message(server: Running) -> None:
    message = make_message()

    async with aiosmtplib.SMTP(
        hostname="127.0.0.1", port=server.port, local_hostname="client.test"
    ) as smtp:
        refused, reply = await smtp.send_message(message)

    assert refused == {}
    envelope = server.deliveries[0].envelope
    assert reply == f"{replies.MESSAGE_ACCEPTED.status} OK: queued as {envelope.id}"
    assert server.contents == [message.as_bytes(policy=SMTP)]


async def test_many_messages_over_one_connection(server: Running) -> None:
    messages = [make_message(n) for n in range(50)]

    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port) as smtp:
        for message in messages:
            await smtp.send_message(message)

    assert server.contents == [m.as_bytes(policy=SMTP) for m in messages]
    assert server.deliveries[-1].session.transactions == 50


async def test_several_connections_at_once(server: Running) -> None:
    async def send(n: int) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port) as smtp:
            for i in range(5):
                await smtp.send_message(make_message(n * 100 + i))

    await asyncio.gather(*(send(n) for n in range(10)))

    subjects = sorted(
        d.message.split(b"Subject: message ")[1].split(b"\r\n")[0] for d in server.deliveries
    )
    assert subjects == sorted(str(n * 100 + i).encode() for n in range(10) for i in range(5))


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", None])
async def test_starttls_and_login(
    make_server: MakeServer,
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
    received: Received,
    mechanism: str | None,
) -> None:
    running = await make_server(tls_context=server_tls, authenticate=accept_alice)
    message = make_message()

    async with aiosmtplib.SMTP(
        hostname="127.0.0.1", port=running.port, start_tls=True, tls_context=client_tls
    ) as smtp:
        # auth_plain/auth_login, unlike login, do not send the EHLO that
        # RFC 3207 §4.2 requires after the handshake.
        await smtp.ehlo()
        if mechanism == "PLAIN":
            await smtp.auth_plain("alice", "secret")
        elif mechanism == "LOGIN":
            await smtp.auth_login("alice", "secret")
        else:
            await smtp.login("alice", "secret")  # aiosmtplib's own choice
        await smtp.send_message(message)

    (delivery,) = running.deliveries
    assert delivery.session.tls
    assert delivery.session.authenticated_as == "alice"
    trace, content = received(delivery.message)
    assert trace.protocol == "ESMTPSA"
    assert content == message.as_bytes(policy=SMTP)


async def test_starttls_is_used_automatically_when_offered(
    make_server: MakeServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    running = await make_server(tls_context=server_tls)

    async with aiosmtplib.SMTP(
        hostname="127.0.0.1", port=running.port, tls_context=client_tls
    ) as smtp:
        await smtp.send_message(make_message())

    assert running.deliveries[0].session.tls


async def test_implicit_tls(
    make_server: MakeServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    running = await make_server(tls_context=server_tls, implicit_tls=True)

    async with aiosmtplib.SMTP(
        hostname="127.0.0.1", port=running.port, use_tls=True, tls_context=client_tls
    ) as smtp:
        await smtp.send_message(make_message())

    assert running.deliveries[0].session.tls


async def test_refusals_reach_aiosmtplib_as_exceptions(
    make_server: MakeServer, config: Config
) -> None:
    running = await make_server(config(max_message_size=1000))
    message = make_message()
    message.set_content("x" * 2000)

    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=running.port) as smtp:
        # aiosmtplib sends SIZE= when offered, so the refusal comes at MAIL.
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as excinfo:
            await smtp.send_message(message)
        assert excinfo.value.code == replies.MESSAGE_TOO_BIG.code
        await smtp.send_message(make_message())  # the connection is still usable

    assert len(running.deliveries) == 1
