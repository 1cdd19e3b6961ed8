"""The handler's optional hooks: refusals, custom replies and failures (handler.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import Envelope, Session

if TYPE_CHECKING:
    from conftest import Connect, MakeServer

Plain = Callable[[Reply], Reply]
BODY = b"Subject: s\r\n\r\nbody\r\n"


def answer(reply: Reply | None) -> Callable[..., object]:
    async def hook(*args: object) -> Reply | None:
        return reply

    return hook


async def fail(*args: object) -> Reply | None:
    raise RuntimeError("the handler has a bug")


async def test_connect_hook_refusal_replaces_the_greeting_and_closes(
    make_server: MakeServer, connect: Connect, plain: Plain
) -> None:
    client = await connect(await make_server(handle_connect=answer(replies.SERVICE_REFUSED)))

    assert client.greeting == plain(replies.SERVICE_REFUSED)
    assert await client.read_rest() == b""


async def test_connect_hook_failure_is_451_and_closes(
    make_server: MakeServer, connect: Connect, plain: Plain
) -> None:
    client = await connect(await make_server(handle_connect=fail))

    assert client.greeting == plain(replies.LOCAL_ERROR)
    assert await client.read_rest() == b""


async def test_connect_hook_sees_the_peer(make_server: MakeServer, connect: Connect) -> None:
    peers: list[tuple[str, int]] = []

    async def record(session: Session) -> None:
        peers.append(session.peer)

    client = await connect(await make_server(handle_connect=record))

    assert client.greeting is not None
    assert client.greeting.code == 220
    assert peers == [client.writer.get_extra_info("sockname")]


async def test_ehlo_hook_refusal_is_sent_and_the_session_stays_unnamed(
    make_server: MakeServer, connect: Connect, plain: Plain
) -> None:
    client = await connect(await make_server(handle_ehlo=answer(replies.SERVICE_REFUSED)))

    got = await client.send("EHLO spammer.test", "MAIL FROM:<a@example.test>")

    assert got == [plain(replies.SERVICE_REFUSED), plain(replies.NEED_EHLO)]


async def test_ehlo_hook_failure_is_451(
    make_server: MakeServer, connect: Connect, plain: Plain
) -> None:
    client = await connect(await make_server(handle_ehlo=fail))

    assert await client.ehlo() == plain(replies.LOCAL_ERROR)


@pytest.mark.parametrize("refusal", [replies.MAILBOX_UNAVAILABLE, replies.SENDER_NOT_OWNED])
async def test_mail_hook_refusal_is_sent_and_starts_no_transaction(
    make_server: MakeServer, connect: Connect, refusal: Reply
) -> None:
    client = await connect(await make_server(handle_mail=answer(refusal)))
    await client.ehlo()

    got = await client.send("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>")

    assert got == [refusal, replies.NEED_MAIL]


async def test_mail_hook_positive_reply_replaces_the_default(
    make_server: MakeServer, connect: Connect
) -> None:
    custom = Reply(250, "2.1.0", "Sender looks fine")
    client = await connect(await make_server(handle_mail=answer(custom)))
    await client.ehlo()

    got = await client.send("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>")

    assert got == [custom, replies.RECIPIENT_OK]


async def test_mail_hook_failure_is_451_never_250(
    make_server: MakeServer, connect: Connect
) -> None:
    client = await connect(await make_server(handle_mail=fail))
    await client.ehlo()

    got = await client.send("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>")

    assert got == [replies.LOCAL_ERROR, replies.NEED_MAIL]


async def test_rcpt_hook_refusal_leaves_the_recipient_out(
    make_server: MakeServer, connect: Connect
) -> None:
    async def only_bob(s: Session, e: Envelope, address: str, params: object) -> Reply | None:
        return None if address == "bob@example.test" else replies.MAILBOX_UNAVAILABLE

    running = await make_server(handle_rcpt=only_bob)
    client = await connect(running)
    await client.ehlo()

    got = await client.send(
        "MAIL FROM:<a@example.test>", "RCPT TO:<carol@example.test>", "RCPT TO:<bob@example.test>"
    )
    await client.send("DATA", BODY + b".\r\n")

    assert got[1:] == [replies.MAILBOX_UNAVAILABLE, replies.RECIPIENT_OK]
    assert running.deliveries[0].envelope.rcpt_tos == ["bob@example.test"]


async def test_all_recipients_refused_makes_data_554(
    make_server: MakeServer, connect: Connect
) -> None:
    client = await connect(await make_server(handle_rcpt=answer(replies.RELAY_DENIED)))
    await client.ehlo()

    got = await client.send("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA")

    assert got == [replies.SENDER_OK, replies.RELAY_DENIED, replies.NO_VALID_RECIPIENTS]


async def test_rcpt_hook_failure_is_451_never_250(
    make_server: MakeServer, connect: Connect
) -> None:
    client = await connect(await make_server(handle_rcpt=fail))
    await client.ehlo()

    got = await client.send("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA")

    assert got == [replies.SENDER_OK, replies.LOCAL_ERROR, replies.NO_VALID_RECIPIENTS]


async def test_message_hook_refusal_is_the_reply_to_data(
    make_server: MakeServer, connect: Connect
) -> None:
    running = await make_server(on_message=answer(replies.TRANSACTION_FAILED))
    client = await connect(running)
    await client.ehlo()

    got = await client.send(
        "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", BODY + b".\r\n"
    )

    assert got[-1] == replies.TRANSACTION_FAILED
    assert running.deliveries[0].session.transactions == 0


async def test_message_hook_failure_is_451_never_250(
    make_server: MakeServer, connect: Connect
) -> None:
    client = await connect(await make_server(on_message=fail))
    await client.ehlo()

    got = await client.send(
        "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", BODY + b".\r\n", "NOOP"
    )

    assert got[-2:] == [replies.LOCAL_ERROR, replies.OK]


async def test_message_hook_failure_after_bdat_is_451(
    make_server: MakeServer, connect: Connect
) -> None:
    client = await connect(await make_server(on_message=fail))
    await client.ehlo()

    got = await client.send(
        "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", b"BDAT 4 LAST\r\nbody"
    )

    assert got[-1] == replies.LOCAL_ERROR


async def test_vrfy_hook_answers_vrfy(make_server: MakeServer, connect: Connect) -> None:
    custom = Reply(250, "2.1.5", "Bob <bob@example.test>")
    client = await connect(await make_server(handle_vrfy=answer(custom)))
    await client.ehlo()

    assert await client.command("VRFY bob") == custom


async def test_vrfy_hook_failure_is_451(make_server: MakeServer, connect: Connect) -> None:
    client = await connect(await make_server(handle_vrfy=fail))
    await client.ehlo()

    assert await client.command("VRFY bob") == replies.LOCAL_ERROR


async def test_disconnect_hook_runs_when_the_client_leaves(
    make_server: MakeServer, connect: Connect
) -> None:
    left: asyncio.Queue[int] = asyncio.Queue()

    async def record(session: Session) -> None:
        left.put_nowait(session.transactions)

    client = await connect(await make_server(handle_disconnect=record))
    await client.ehlo()
    await client.send(
        "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", BODY + b".\r\n"
    )
    await client.command("QUIT")

    async with asyncio.timeout(5):
        assert await left.get() == 1


async def test_disconnect_hook_failure_does_not_disturb_other_sessions(
    make_server: MakeServer, connect: Connect, plain: Plain
) -> None:
    running = await make_server(handle_disconnect=fail)
    first = await connect(running)
    assert await first.command("QUIT") == plain(replies.CLOSING)
    assert await first.read_rest() == b""

    second = await connect(running)
    assert (await second.ehlo()).code == 250
