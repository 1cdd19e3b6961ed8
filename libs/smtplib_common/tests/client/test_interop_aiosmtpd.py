"""Interop: our client against aiosmtpd, an SMTP server we did not write.

aiosmtpd runs in its own thread and event loop (``Controller``) on 127.0.0.1.
It does not offer PIPELINING or CHUNKING, so these tests exercise the
lock-step path; Postfix's smtp-sink covers pipelining.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from smtplib_common.client import (
    SMTPAuthenticationError,
    SMTPClient,
    SMTPPool,
    SMTPSenderRefused,
)
from smtplib_common.client.message import prepare_content, serialize_message

pytestmark = pytest.mark.interop

USERS = {b"ann": b"s3cret pass"}


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    mail_options: list[str]
    smtp_utf8: bool
    peer: Any
    tls: bool


class Collector:
    """aiosmtpd handler: keeps every envelope; refuses recipients named bad*."""

    def __init__(self) -> None:
        self.delivered: list[Delivered] = []
        self.logins: list[tuple[str, bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bad"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.delivered.append(
            Delivered(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.content,
                mail_options=list(envelope.mail_options),
                smtp_utf8=envelope.smtp_utf8,
                peer=session.peer,
                tls=session.ssl is not None,
            )
        )
        return "250 2.0.0 OK delivered"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((mechanism, auth_data.login))
        ok = USERS.get(auth_data.login) == auth_data.password
        # handled=False: aiosmtpd itself then sends the 535 on failure.
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def aiosmtpd_server() -> Iterator[Callable[..., tuple[Collector, int]]]:
    """``collector, port = aiosmtpd_server(**smtp_options)``; stopped at teardown."""
    controllers: list[Controller] = []

    def start(**options: Any) -> tuple[Collector, int]:
        collector = Collector()
        if options.pop("with_auth", False):
            options["authenticator"] = collector.authenticate
        port = free_port()
        controller = Controller(
            collector,
            hostname="127.0.0.1",
            port=port,
            server_hostname="aiosmtpd.test",  # no getfqdn() lookup
            ready_timeout=10,
            **options,
        )
        controller.start()
        controllers.append(controller)
        return collector, port

    yield start
    for controller in controllers:
        controller.stop()


def client(port: int, **options: Any) -> SMTPClient:
    options.setdefault("host", "127.0.0.1")
    return SMTPClient(port=port, timeout=10, connect_timeout=10, data_timeout=10, **options)


async def test_raw_message_arrives_byte_for_byte(aiosmtpd_server) -> None:
    collector, port = aiosmtpd_server()
    content = b"Subject: dots\n\n.leading dot\n..two dots\n.\nlast line without newline"
    async with client(port) as smtp:
        assert not smtp.supports("PIPELINING")
        result = await smtp.send_raw("ann@x.test", ["bob@y.test"], content)
    assert result.data_response.text == "OK delivered"
    (got,) = collector.delivered
    # aiosmtpd hands over the content after undoing the dot-stuffing.
    assert got.content == prepare_content(content)
    assert (got.mail_from, got.rcpt_tos) == ("ann@x.test", ["bob@y.test"])


async def test_8bit_message_is_declared_and_arrives_intact(aiosmtpd_server) -> None:
    collector, port = aiosmtpd_server()
    msg = EmailMessage()
    msg["From"] = "ann@x.test"
    msg["To"] = "bob@y.test"
    msg["Subject"] = "Grüße"
    msg.set_content("Grüße aus Köln, ½ €\n")
    async with client(port) as smtp:
        await smtp.send_email(msg)
    (got,) = collector.delivered
    expected = prepare_content(serialize_message(msg, utf8=False))
    assert got.content == expected
    assert "BODY=8BITMIME" in got.mail_options
    assert f"SIZE={len(expected)}" in got.mail_options
    parsed = message_from_bytes(got.content, policy=policy.default)
    assert parsed["Subject"] == "Grüße"
    assert parsed.get_content().replace("\r\n", "\n") == "Grüße aus Köln, ½ €\n"


async def test_internationalised_addresses_go_through_smtputf8(aiosmtpd_server) -> None:
    collector, port = aiosmtpd_server(enable_SMTPUTF8=True)
    async with client(port) as smtp:
        assert smtp.supports("SMTPUTF8")
        await smtp.send_message("jörg@exämple.test", ["zoë@y.test"], "Hallo", "Grüß dich\n")
    (got,) = collector.delivered
    assert got.smtp_utf8
    assert (got.mail_from, got.rcpt_tos) == ("jörg@exämple.test", ["zoë@y.test"])
    parsed = message_from_bytes(got.content, policy=policy.default)
    assert parsed["From"] == "jörg@exämple.test"


async def test_refused_recipient_is_reported_and_others_receive(aiosmtpd_server) -> None:
    collector, port = aiosmtpd_server()
    async with client(port) as smtp:
        result = await smtp.send_message("a@x.test", ["bad@y.test", "ok@y.test"], "s", "b\n")
    assert list(result.accepted) == ["ok@y.test"]
    assert result.refused["bad@y.test"].code == 550
    assert [d.rcpt_tos for d in collector.delivered] == [["ok@y.test"]]


async def test_many_messages_over_one_connection(aiosmtpd_server) -> None:
    collector, port = aiosmtpd_server()
    async with client(port) as smtp:
        for n in range(20):
            await smtp.send_raw(
                "a@x.test", [f"r{n}@y.test"], f"Subject: {n}\r\n\r\n.{n}\r\n".encode()
            )
        assert (await smtp.noop()).code == 250
        assert (await smtp.rset()).code == 250
        assert (await smtp.vrfy("a@x.test")).code == 252
    assert [d.content for d in collector.delivered] == [
        f"Subject: {n}\r\n\r\n.{n}\r\n".encode() for n in range(20)
    ]
    assert len({d.peer for d in collector.delivered}) == 1


async def test_pool_sends_concurrently_over_few_connections(aiosmtpd_server) -> None:
    collector, port = aiosmtpd_server()
    async with SMTPPool(lambda: client(port), max_size=4) as pool:
        results = await asyncio.gather(
            *(
                pool.send_message("a@x.test", f"r{n}@y.test", f"no. {n}", f"body {n}\n")
                for n in range(30)
            )
        )
    assert all(list(r.accepted) == [f"r{n}@y.test"] for n, r in enumerate(results))
    assert sorted(d.rcpt_tos[0] for d in collector.delivered) == sorted(
        f"r{n}@y.test" for n in range(30)
    )
    assert 1 <= len({d.peer for d in collector.delivered}) <= 4


async def test_size_limit_is_enforced_at_mail_from(aiosmtpd_server) -> None:
    collector, port = aiosmtpd_server(data_size_limit=100)
    async with client(port) as smtp:
        with pytest.raises(SMTPSenderRefused) as caught:
            await smtp.send_raw("a@x.test", "b@y.test", b"x" * 500)
        assert caught.value.code == 552  # RFC 1870 §6.1, thanks to our SIZE=
        await smtp.send_raw("a@x.test", "b@y.test", b"small\r\n")
    assert len(collector.delivered) == 1


async def test_starttls_with_a_private_ca(aiosmtpd_server, server_tls, client_tls) -> None:
    collector, port = aiosmtpd_server(tls_context=server_tls, require_starttls=True)
    async with client(port, host="localhost", starttls=True, ssl_context=client_tls) as smtp:
        assert smtp.is_tls
        assert not smtp.supports("STARTTLS")  # offered only in clear text
        await smtp.send_message("a@x.test", "b@y.test", "tls", "over TLS\n")
    assert collector.delivered[0].tls


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", None])
async def test_auth_after_starttls(aiosmtpd_server, server_tls, client_tls, mechanism) -> None:
    collector, port = aiosmtpd_server(
        tls_context=server_tls, require_starttls=True, auth_required=True, with_auth=True
    )
    async with client(
        port,
        host="localhost",
        starttls=True,
        ssl_context=client_tls,
        username="ann",
        password="s3cret pass",
        auth_mechanism=mechanism,
    ) as smtp:
        assert smtp.is_authenticated
        await smtp.send_message("ann@x.test", "b@y.test", "auth", "hello\n")
    assert collector.logins == [(mechanism or "PLAIN", b"ann")]
    assert len(collector.delivered) == 1


async def test_aiosmtpd_refuses_the_auth_mail_parameter(
    aiosmtpd_server, server_tls, client_tls
) -> None:
    # A gap in aiosmtpd 1.4 found here: it offers AUTH but answers MAIL
    # FROM:<...> AUTH=... (RFC 4954 §5) with 555. We report it, not hide it.
    collector, port = aiosmtpd_server(
        tls_context=server_tls, require_starttls=True, auth_required=True, with_auth=True
    )
    async with client(
        port,
        host="localhost",
        starttls=True,
        ssl_context=client_tls,
        username="ann",
        password="s3cret pass",
    ) as smtp:
        with pytest.raises(SMTPSenderRefused) as caught:
            await smtp.send_message("ann@x.test", "b@y.test", "s", "b\n", auth_address="ann@x.test")
        assert caught.value.code == 555
        await smtp.send_message("ann@x.test", "b@y.test", "s", "b\n")  # RSET put us back in step
    assert len(collector.delivered) == 1


async def test_wrong_password_and_missing_auth_are_refused(
    aiosmtpd_server, server_tls, client_tls
) -> None:
    collector, port = aiosmtpd_server(
        tls_context=server_tls, require_starttls=True, auth_required=True, with_auth=True
    )
    async with client(port, host="localhost", starttls=True, ssl_context=client_tls) as smtp:
        with pytest.raises(SMTPAuthenticationError) as caught:
            await smtp.login("ann", "wrong")
        assert caught.value.code == 535
        with pytest.raises(SMTPSenderRefused) as refused:
            await smtp.send_message("ann@x.test", "b@y.test", "s", "b\n")
        assert refused.value.code == 530  # RFC 4954 §6: authentication required
    assert collector.delivered == []


async def test_implicit_tls(aiosmtpd_server, server_tls, client_tls) -> None:
    collector, port = aiosmtpd_server(ssl_context=server_tls)
    async with client(port, host="localhost", implicit_tls=True, ssl_context=client_tls) as smtp:
        assert smtp.is_tls
        await smtp.send_message("a@x.test", "b@y.test", "465", "implicit\n")
    # (aiosmtpd sets session.ssl only after STARTTLS, so is_tls is the check.)
    assert len(collector.delivered) == 1
