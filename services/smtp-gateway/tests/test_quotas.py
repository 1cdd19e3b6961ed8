"""Storage quotas at the gateway (issue 16, docs/smtp.md): a full mailbox is 452 4.2.2 at
RCPT, a message larger than the room left 552 5.2.2 at the end of DATA, only when it fits
no recipient; over real sockets, against the real broker and a fake directory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from smtplib_common import replies
from smtplib_common.replies import Reply

if TYPE_CHECKING:
    from conftest import Broker, FakeMailstore, Gateway, LineClient

    Connect = Callable[[int], Awaitable[LineClient]]

ALICE = "alice@localpost.test"
BOB = "bob@localpost.test"


async def test_rcpt_for_a_full_mailbox_is_452_4_2_2_and_the_others_still_take_mail(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore, broker: Broker
) -> None:
    mailstore.rooms[BOB] = 0
    client = await connect(gateway.delivery_port)
    await client.ehlo()

    answers = await client.transaction("sender@example.org", [BOB, ALICE], client.message())

    assert answers[1] == replies.MAILBOX_FULL
    assert str(answers[1]).startswith("452 4.2.2")
    assert answers[2] == replies.RECIPIENT_OK
    client.queued_id(answers[3])
    (queued,) = await broker.drain()
    assert queued.headers["x-localpost-rcpt-to"] == [ALICE]


async def test_postmaster_takes_mail_whatever_its_quota(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore, broker: Broker
) -> None:
    mailstore.rooms["postmaster@localpost.test"] = 0
    client = await connect(gateway.delivery_port)
    await client.ehlo()

    answers = await client.transaction(
        "sender@example.org", ["postmaster@localpost.test"], client.message()
    )

    client.queued_id(answers[-1])
    assert len(await broker.drain()) == 1


async def send_to_both(client: LineClient) -> list[Reply]:
    await client.ehlo()
    return await client.transaction("sender@example.org", [ALICE, BOB], client.message())


async def test_a_message_larger_than_every_recipients_room_is_552_5_2_2(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore, broker: Broker
) -> None:
    mailstore.rooms.update({ALICE: 100, BOB: 200})

    answers = await send_to_both(await connect(gateway.delivery_port))

    assert answers[1:3] == [replies.RECIPIENT_OK, replies.RECIPIENT_OK]
    assert answers[3] == replies.MESSAGE_OVER_QUOTA
    assert str(answers[3]).startswith("552 5.2.2")
    assert await broker.drain() == []


async def test_a_message_that_fits_one_recipient_is_accepted_for_all(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore, broker: Broker
) -> None:
    # SMTP has one reply to DATA: refusing it would refuse Bob too, and a 250 for both
    # means the mail store stores it for both, Alice going over her quota.
    mailstore.rooms.update({ALICE: 100, BOB: 1_000_000})
    client = await connect(gateway.delivery_port)

    answers = await send_to_both(client)

    client.queued_id(answers[3])
    (queued,) = await broker.drain()
    assert queued.headers["x-localpost-rcpt-to"] == [ALICE, BOB]


async def test_a_declared_size_larger_than_one_recipients_room_refuses_that_rcpt_only(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore, broker: Broker
) -> None:
    """RFC 1870 SIZE= on MAIL: 552 5.2.2 at the RCPT of the recipient without the room,
    and the message goes to the others."""
    mailstore.rooms[BOB] = 500
    client = await connect(gateway.delivery_port)
    await client.ehlo()

    answers = await client.transaction(
        "sender@example.org", [BOB, ALICE], client.message(), mail_params=" SIZE=2000"
    )

    assert answers[1] == replies.MESSAGE_OVER_QUOTA
    assert str(answers[1]).startswith("552 5.2.2")
    assert answers[2] == replies.RECIPIENT_OK
    client.queued_id(answers[3])
    (queued,) = await broker.drain()
    assert queued.headers["x-localpost-rcpt-to"] == [ALICE]


async def test_a_declared_size_that_fits_is_accepted(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore, broker: Broker
) -> None:
    mailstore.rooms[BOB] = 5000
    client = await connect(gateway.delivery_port)
    await client.ehlo()

    answers = await client.transaction(
        "sender@example.org", [BOB], client.message(), mail_params=" SIZE=2000"
    )

    assert answers[1] == replies.RECIPIENT_OK
    client.queued_id(answers[2])
    assert len(await broker.drain()) == 1
