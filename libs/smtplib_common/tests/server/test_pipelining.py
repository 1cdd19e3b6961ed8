"""PIPELINING (RFC 2920): a batch of commands in one write, every reply in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import Envelope, ServerConfig, Session

if TYPE_CHECKING:
    from conftest import Connect, LineClient, MakeServer, Running

Config = Callable[..., ServerConfig]

BODY = b"Subject: pipelined\r\n\r\nbody\r\n"


async def refuse_nobody(s: Session, e: Envelope, address: str, params: object) -> Reply | None:
    return replies.MAILBOX_UNAVAILABLE if address.startswith("nobody@") else None


async def test_a_whole_batch_in_one_write_is_answered_in_order(
    make_server: MakeServer, connect: Connect
) -> None:
    running = await make_server(handle_rcpt=refuse_nobody)
    client = await connect(running)

    got = await client.send(
        "EHLO client.test",
        "MAIL FROM:<a@example.test>",
        "RCPT TO:<b@example.test>",
        "RCPT TO:<nobody@example.test>",
        "RCPT TO:<c@example.test>",
        "DATA",
    )

    assert got[0].code == 250
    assert "PIPELINING" in got[0].text.split("\n")
    assert got[1:] == [
        replies.SENDER_OK,
        replies.RECIPIENT_OK,
        replies.MAILBOX_UNAVAILABLE,
        replies.RECIPIENT_OK,
        replies.START_MAIL_INPUT,
    ]
    assert (await client.command(BODY + b".\r\n")).code == 250
    assert running.deliveries[0].envelope.rcpt_tos == ["b@example.test", "c@example.test"]


async def test_transaction_with_its_data_and_quit_in_one_write(
    ehlo_client: LineClient, server: Running
) -> None:
    # Not what RFC 2920 lets a client do (DATA ends a batch), but a server
    # must cope: the data is read from the same buffer as the commands.
    got = await ehlo_client.send(
        "MAIL FROM:<a@example.test>",
        "RCPT TO:<b@example.test>",
        "DATA",
        BODY + b".\r\n",
        "MAIL FROM:<a@example.test>",
        "RCPT TO:<c@example.test>",
        "DATA",
        BODY + b".\r\n",
        "QUIT",
    )

    assert [r.code for r in got] == [250, 250, 354, 250, 250, 250, 354, 250, 221]
    assert server.contents == [BODY, BODY]
    assert await ehlo_client.read_rest() == b""


async def test_bdat_chunks_pipelined_with_the_envelope(
    ehlo_client: LineClient, server: Running
) -> None:
    got = await ehlo_client.send(
        "MAIL FROM:<a@example.test>",
        "RCPT TO:<b@example.test>",
        b"BDAT 10\r\n" + BODY[:10],
        b"BDAT %d LAST\r\n" % (len(BODY) - 10) + BODY[10:],
        "NOOP",
    )

    assert got[:3] == [replies.SENDER_OK, replies.RECIPIENT_OK, replies.CHUNK_OK]
    assert got[3].code == 250
    assert got[4] == replies.OK
    assert server.contents == [BODY]


async def test_five_thousand_noops_in_one_write_get_five_thousand_replies(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    # Pipelining, not the junk-command limit, is under test here.
    ehlo_client = await connect(
        await make_server(config(max_junk_commands=None, max_commands_before_mail=None))
    )
    await ehlo_client.ehlo()
    count = 5000
    ok = replies.OK.encode()
    await ehlo_client.write(b"NOOP\r\n" * count)

    async with asyncio.timeout(10):
        data = await ehlo_client.reader.readexactly(len(ok) * count)

    assert data == ok * count
    assert await ehlo_client.command("RSET") == replies.RESET_OK  # nothing extra was queued


async def test_errors_inside_a_batch_do_not_stop_the_rest_of_it(ehlo_client: LineClient) -> None:
    got = await ehlo_client.send(
        "RCPT TO:<b@example.test>",
        "MAIL FROM:<bad",
        "MAIL FROM:<a@example.test>",
        "RCPT TO:<b@example.test>",
        "RSET",
    )

    assert got == [
        replies.NEED_MAIL,
        replies.BAD_SENDER_SYNTAX,
        replies.SENDER_OK,
        replies.RECIPIENT_OK,
        replies.RESET_OK,
    ]
