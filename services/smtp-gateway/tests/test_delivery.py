"""The delivery listener (SMTP_PORT) against the real broker and a fake directory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aio_pika
import pytest

from smtplib_common import replies
from smtplib_common.replies import Reply

if TYPE_CHECKING:
    from conftest import Broker, FakeMailstore, Gateway, LineClient

    Connect = Callable[[int], Awaitable[LineClient]]

ALICE = "alice@localpost.test"
BOB = "bob@localpost.test"


async def test_mail_for_an_existing_mailbox_is_queued_once_as_the_contract_says(
    gateway: Gateway, broker: Broker, connect: Connect
) -> None:
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    content = client.message("Contract")

    answers = await client.transaction("sender@example.org", [BOB], content)

    assert answers[:2] == [replies.SENDER_OK, replies.RECIPIENT_OK]
    message_id = client.queued_id(answers[2])
    (queued,) = await broker.drain()
    assert queued.message_id == message_id
    assert queued.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert queued.content_type == "message/rfc822"
    assert queued.timestamp is not None
    # x-delivery-count is the quorum queue's own.
    headers = {k: v for k, v in queued.headers.items() if k != "x-delivery-count"}
    assert headers == {
        "x-localpost-mail-from": "sender@example.org",
        "x-localpost-rcpt-to": [BOB],
    }
    # Our Authentication-Results (RFC 8601), the Received: header (RFC 5321 §4.4) naming
    # the id, then the bytes as sent. From 127.0.0.1, a trusted network, From: Alice passes.
    results, body = client.results(queued.body)
    assert results == (
        "localpost.test; localpost-sender=pass header.from=alice@localpost.test (trusted network)"
    )
    assert body.startswith(b"Received: from client.test ")
    assert f" id {message_id}".encode() in body.split(b"\r\n\r\n")[0]
    assert body.endswith(content)


async def test_null_sender_is_an_empty_mail_from_header(
    gateway: Gateway, broker: Broker, connect: Connect
) -> None:
    client = await connect(gateway.delivery_port)
    await client.ehlo()

    answers = await client.transaction("", [BOB], client.message())

    client.queued_id(answers[-1])
    (queued,) = await broker.drain()
    assert queued.headers["x-localpost-mail-from"] == ""


async def test_rcpt_for_an_unknown_mailbox_is_550_5_1_1(gateway: Gateway, connect: Connect) -> None:
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    await client.command("MAIL FROM:<sender@example.org>")

    assert await client.command("RCPT TO:<nobody@localpost.test>") == replies.MAILBOX_UNAVAILABLE


async def test_rcpt_for_a_disabled_mailbox_is_550_5_2_1(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore
) -> None:
    mailstore.disabled.add(BOB)
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    await client.command("MAIL FROM:<sender@example.org>")

    assert await client.command(f"RCPT TO:<{BOB}>") == replies.MAILBOX_DISABLED


async def test_rcpt_for_another_domain_is_relay_denied(gateway: Gateway, connect: Connect) -> None:
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    await client.command("MAIL FROM:<sender@example.org>")

    for rcpt in ("bob@example.org", "bob@localpost.test.example.org", "bob@[127.0.0.1]"):
        assert await client.command(f"RCPT TO:<{rcpt}>") == replies.RELAY_DENIED, rcpt


async def test_domains_are_compared_without_case(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore
) -> None:
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    await client.command("MAIL FROM:<sender@example.org>")

    assert await client.command("RCPT TO:<bob@LocalPost.TEST>") == replies.RECIPIENT_OK


async def test_postmaster_is_accepted_without_a_mailbox(
    gateway: Gateway, broker: Broker, connect: Connect, mailstore: FakeMailstore
) -> None:
    client = await connect(gateway.delivery_port)
    await client.ehlo()

    answers = await client.transaction(
        "sender@example.org", ["postmaster@other-local.test", "postmaster"], client.message()
    )

    assert answers[1:3] == [replies.RECIPIENT_OK, replies.RECIPIENT_OK]
    client.queued_id(answers[3])
    (queued,) = await broker.drain()
    # RFC 5321 §4.1.1.3: the bare <postmaster> is this server's, on its first domain.
    assert queued.headers["x-localpost-rcpt-to"] == [
        "postmaster@other-local.test",
        "postmaster@localpost.test",
    ]
    assert mailstore.lookups == []


async def test_only_accepted_recipients_are_in_the_message(
    gateway: Gateway, broker: Broker, connect: Connect
) -> None:
    client = await connect(gateway.delivery_port)
    await client.ehlo()

    answers = await client.transaction(
        "sender@example.org", [ALICE, "nobody@localpost.test", "x@example.org", BOB], b"Hi\r\n"
    )

    assert answers[1:5] == [
        replies.RECIPIENT_OK,
        replies.MAILBOX_UNAVAILABLE,
        replies.RELAY_DENIED,
        replies.RECIPIENT_OK,
    ]
    client.queued_id(answers[5])
    (queued,) = await broker.drain()
    assert queued.headers["x-localpost-rcpt-to"] == [ALICE, BOB]


# (RCPT address, the reply): every kind of address the mail store expands, and unknown
# ones, which get one answer whatever they resemble (it names no kind of address).
RECIPIENT_KINDS = [
    ("alice@localpost.test", replies.RECIPIENT_OK),
    ("Alice@LocalPost.test", replies.RECIPIENT_OK),
    ("alice+shopping@localpost.test", replies.RECIPIENT_OK),
    ("alice+@localpost.test", replies.RECIPIENT_OK),
    ("info@localpost.test", replies.RECIPIENT_OK),
    ("info+sales@localpost.test", replies.RECIPIENT_OK),
    ("abuse@localpost.test", replies.RECIPIENT_OK),  # an alias says who reads it
    ("nobody@localpost.test", replies.MAILBOX_UNAVAILABLE),
    ("nobody+alice@localpost.test", replies.MAILBOX_UNAVAILABLE),
    ("+alice@localpost.test", replies.MAILBOX_UNAVAILABLE),
    ("hostmaster@localpost.test", replies.MAILBOX_UNAVAILABLE),  # no alias, no admin
    ("info.old@localpost.test", replies.MAILBOX_UNAVAILABLE),
]


@pytest.mark.parametrize(("address", "reply"), RECIPIENT_KINDS)
async def test_rcpt_answers_for_every_kind_of_address(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore, address: str, reply: Reply
) -> None:
    mailstore.aliases = {
        "info@localpost.test": [ALICE, BOB],
        "abuse@localpost.test": [BOB],
    }
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    await client.command("MAIL FROM:<sender@example.org>")

    answer = await client.command(f"RCPT TO:<{address}>")

    assert answer == reply
    assert answer.text == reply.text  # the same words for every unknown address


async def test_rcpt_while_the_directory_fails_is_451_4_4_3(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore
) -> None:
    mailstore.failing = True
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    await client.command("MAIL FROM:<sender@example.org>")

    assert await client.command(f"RCPT TO:<{BOB}>") == replies.DIRECTORY_UNAVAILABLE


async def test_rcpt_while_the_directory_is_unreachable_is_451_4_4_3(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore
) -> None:
    await mailstore.stop()
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    await client.command("MAIL FROM:<sender@example.org>")

    assert await client.command(f"RCPT TO:<{BOB}>") == replies.DIRECTORY_UNAVAILABLE


async def test_directory_answers_are_cached_briefly(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore
) -> None:
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    await client.command("MAIL FROM:<sender@example.org>")

    for _ in range(3):
        await client.command(f"RCPT TO:<{BOB}>")
        await client.command("RCPT TO:<nobody@localpost.test>")

    assert sorted(mailstore.lookups) == [BOB, "nobody@localpost.test"]


async def test_local_part_is_sent_as_one_path_segment(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore
) -> None:
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    await client.command("MAIL FROM:<sender@example.org>")

    reply = await client.command("RCPT TO:<a/b%2F?x#y@localpost.test>")

    assert reply == replies.MAILBOX_UNAVAILABLE
    assert mailstore.lookups == ["a/b%2F?x#y@localpost.test"]


async def test_delivery_listener_offers_no_auth(gateway: Gateway, connect: Connect) -> None:
    client = await connect(gateway.delivery_port)

    ehlo = await client.ehlo()

    assert not any(line.startswith("AUTH") for line in ehlo.text.split("\n"))
    assert await client.command("AUTH PLAIN AGFsaWNlAHg=") == replies.COMMAND_NOT_IMPLEMENTED


async def test_a_list_refusing_the_sender_is_550_5_7_1_and_asked_per_sender(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore
) -> None:
    mailstore.lists["team@localpost.test"] = {"friend@example.org"}
    client = await connect(gateway.delivery_port)
    await client.ehlo()

    await client.command("MAIL FROM:<Stranger@example.org>")
    refused = await client.command("RCPT TO:<team@localpost.test>")
    await client.command("RSET")
    await client.command("MAIL FROM:<friend@example.org>")
    accepted = await client.command("RCPT TO:<team@localpost.test>")
    await client.command("RSET")
    await client.command("MAIL FROM:<>")
    null_sender = await client.command("RCPT TO:<team@localpost.test>")
    await client.command("RCPT TO:<nobody@localpost.test>")

    assert refused == replies.SENDER_NOT_AUTHORIZED
    assert (refused.code, refused.status) == (550, "5.7.1")
    assert accepted.code == 250
    assert null_sender == replies.SENDER_NOT_AUTHORIZED
    # Each sender asked once (the answer is cached per recipient and sender); the null
    # sender sends no ?sender= at all.
    assert mailstore.senders == ["stranger@example.org", "friend@example.org", "", ""]
