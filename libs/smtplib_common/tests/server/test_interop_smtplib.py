"""Interop with Python's own ``smtplib`` (run in a thread; the server keeps the loop)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from typing import TYPE_CHECKING

import pytest

from smtplib_common import replies
from smtplib_common.server import BodyType, Credentials, ServerConfig, Session

if TYPE_CHECKING:
    from conftest import MakeServer, Running, Trace

pytestmark = pytest.mark.interop

Config = Callable[..., ServerConfig]
Received = Callable[[bytes], "tuple[Trace, bytes]"]

# smtplib sends bytes as given (only str gets its line endings fixed), so the
# wire form must already use CRLF; the leading dots exercise dot-stuffing.
MESSAGE = (
    b"From: Alice <alice@example.test>\r\n"
    b"To: Bob <bob@example.test>\r\n"
    b"Subject: interop\r\n"
    b"\r\n"
    b".a line starting with a dot\r\n"
    b"..and one with two\r\n"
    b".\r\n"
    b"end\r\n"
)


def session_with(port: int) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=10)


async def accept_alice(session: Session, credentials: Credentials) -> bool:
    return (credentials.username, credentials.password) == ("alice", "secret")


async def test_sendmail_to_several_recipients(server: Running) -> None:
    def send() -> dict[str, tuple[int, bytes]]:
        with session_with(server.port) as smtp:
            return smtp.sendmail(
                "alice@example.test", ["bob@example.test", "carol@example.test"], MESSAGE
            )

    refused = await asyncio.to_thread(send)

    assert refused == {}
    (delivery,) = server.deliveries
    assert delivery.envelope.mail_from == "alice@example.test"
    assert delivery.envelope.rcpt_tos == ["bob@example.test", "carol@example.test"]
    assert server.contents == [MESSAGE]


async def test_eight_bit_body_with_body_8bitmime(server: Running) -> None:
    message = b"Subject: 8bit\r\nContent-Type: text/plain; charset=latin-1\r\n\r\n\xe9t\xe9\r\n"

    def send() -> None:
        with session_with(server.port) as smtp:
            smtp.sendmail(
                "alice@example.test", ["bob@example.test"], message, mail_options=["BODY=8BITMIME"]
            )

    await asyncio.to_thread(send)

    assert server.deliveries[0].envelope.body_type is BodyType.EIGHT_BIT_MIME
    assert server.contents == [message]


async def test_smtputf8_addresses(server: Running, received: Received) -> None:
    message = "Subject: gr\u00fc\u00dfe\r\n\r\n\u4f60\u597d\r\n".encode()

    def send() -> None:
        with session_with(server.port) as smtp:
            smtp.sendmail(
                "j\u00f6ran@b\u00fccher.test",
                ["\u7528\u6237@\u4f8b\u3048.test"],
                message,
                mail_options=["SMTPUTF8", "BODY=8BITMIME"],
            )

    await asyncio.to_thread(send)

    (delivery,) = server.deliveries
    assert delivery.envelope.mail_from == "j\u00f6ran@b\u00fccher.test"
    assert delivery.envelope.rcpt_tos == ["\u7528\u6237@\u4f8b\u3048.test"]
    trace, content = received(delivery.message)
    assert trace.protocol == "UTF8SMTP"
    assert content == message


async def test_send_message_of_an_email_message(server: Running) -> None:
    message = EmailMessage()
    message["From"] = "Alice <alice@example.test>"
    message["To"] = "Bob <bob@example.test>, Carol <carol@example.test>"
    message["Bcc"] = "Dave <dave@example.test>"
    message["Subject"] = "A message with a long enough subject to be folded by the generator"
    message.set_content("Hello,\n.\n.. dots and \u00fcnicode\n")

    def send() -> None:
        with session_with(server.port) as smtp:
            smtp.send_message(message)

    await asyncio.to_thread(send)

    (delivery,) = server.deliveries
    assert delivery.envelope.rcpt_tos == [
        "bob@example.test",
        "carol@example.test",
        "dave@example.test",
    ]
    del message["Bcc"]  # send_message strips it before sending
    assert server.contents == [message.as_bytes(policy=SMTP)]


async def test_send_message_with_non_ascii_addresses_uses_smtputf8(server: Running) -> None:
    message = EmailMessage(policy=SMTPUTF8)
    message["From"] = "j\u00f6ran@b\u00fccher.test"
    message["To"] = "\u7528\u6237@\u4f8b\u3048.test"
    message["Subject"] = "\u00fcnicode everywhere"
    message.set_content("\u4f60\u597d\n")

    def send() -> None:
        with session_with(server.port) as smtp:
            smtp.send_message(message)

    await asyncio.to_thread(send)

    (delivery,) = server.deliveries
    assert delivery.envelope.smtputf8
    assert server.contents == [message.as_bytes(policy=SMTPUTF8.clone(linesep="\r\n"))]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_starttls_then_login(
    make_server: MakeServer,
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
    received: Received,
    mechanism: str,
) -> None:
    running = await make_server(tls_context=server_tls, authenticate=accept_alice)

    def send() -> None:
        with session_with(running.port) as smtp:
            smtp.starttls(context=client_tls)
            smtp.ehlo("client.test")
            smtp.user, smtp.password = "alice", "secret"
            authobject = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
            smtp.auth(mechanism, authobject)
            smtp.sendmail("alice@example.test", ["bob@example.test"], MESSAGE)

    await asyncio.to_thread(send)

    (delivery,) = running.deliveries
    assert delivery.session.authenticated_as == "alice"
    assert delivery.session.auth_mechanism == mechanism
    trace, content = received(delivery.message)
    assert trace.protocol == "ESMTPSA"
    assert content == MESSAGE


async def test_login_is_refused_with_a_wrong_password(
    make_server: MakeServer, config: Config
) -> None:
    running = await make_server(config(auth_require_tls=False), authenticate=accept_alice)

    def login() -> None:
        with session_with(running.port) as smtp:
            smtp.login("alice", "wrong")

    with pytest.raises(smtplib.SMTPAuthenticationError) as excinfo:
        await asyncio.to_thread(login)
    assert excinfo.value.smtp_code == replies.AUTH_FAILED.code


async def test_recipient_refusals_reach_smtplib(make_server: MakeServer) -> None:
    async def only_bob(s: Session, e: object, address: str, params: object) -> object:
        return None if address == "bob@example.test" else replies.MAILBOX_UNAVAILABLE

    running = await make_server(handle_rcpt=only_bob)

    def send() -> dict[str, tuple[int, bytes]]:
        with session_with(running.port) as smtp:
            return smtp.sendmail(
                "alice@example.test", ["bob@example.test", "eve@example.test"], MESSAGE
            )

    refused = await asyncio.to_thread(send)

    refusal = replies.MAILBOX_UNAVAILABLE
    assert refused == {
        "eve@example.test": (refusal.code, f"{refusal.status} {refusal.text}".encode())
    }
    assert running.deliveries[0].envelope.rcpt_tos == ["bob@example.test"]
