"""BDAT (RFC 3030 CHUNKING): octet-counted chunks instead of a terminator."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from smtplib_common import replies
from smtplib_common.server import ServerConfig

if TYPE_CHECKING:
    from conftest import Connect, LineClient, MakeServer, Running

Config = Callable[..., ServerConfig]


def bdat(chunk: bytes, *, last: bool = False) -> bytes:
    """A BDAT command and its chunk, as one item for ``LineClient.send``."""
    return b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk


async def start(client: LineClient) -> None:
    got = await client.send("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>")
    assert got == [replies.SENDER_OK, replies.RECIPIENT_OK]


async def test_chunks_are_acknowledged_and_last_delivers(
    ehlo_client: LineClient, server: Running
) -> None:
    await start(ehlo_client)

    got = await ehlo_client.send(bdat(b"Subject: hi\r\n\r\nhel"), bdat(b"lo\r\n", last=True))

    assert got[0] == replies.CHUNK_OK
    envelope = server.deliveries[0].envelope
    assert got[1] == replies.MESSAGE_ACCEPTED.with_text(f"OK: queued as {envelope.id}")
    assert envelope.used_bdat
    assert server.contents == [b"Subject: hi\r\n\r\nhello\r\n"]


async def test_bdat_0_last_ends_a_chunked_message(ehlo_client: LineClient, server: Running) -> None:
    await start(ehlo_client)

    got = await ehlo_client.send(bdat(b"Subject: s\r\n\r\nbody\r\n"), "BDAT 0 LAST")

    assert got[0] == replies.CHUNK_OK
    assert got[1].code == 250
    assert server.contents == [b"Subject: s\r\n\r\nbody\r\n"]


async def test_bdat_0_last_alone_delivers_an_empty_message(
    ehlo_client: LineClient, server: Running
) -> None:
    await start(ehlo_client)

    assert (await ehlo_client.command("BDAT 0 LAST")).code == 250
    assert server.contents == [b""]


async def test_chunk_content_is_passed_on_exactly_as_sent(
    ehlo_client: LineClient, server: Running
) -> None:
    # No dot-unstuffing and no end marker in BDAT: the octets are the message.
    content = b"Subject: raw\r\n\r\n..two dots\r\n.\r\nNUL \x00 and 8-bit \xff\r\n"
    await start(ehlo_client)

    assert (await ehlo_client.command(bdat(content, last=True))).code == 250
    assert server.contents == [content]


async def test_chunk_split_across_many_writes_arrives_whole(
    ehlo_client: LineClient, server: Running
) -> None:
    content = b"Subject: s\r\n\r\n" + b"0123456789" * 1000
    await start(ehlo_client)

    await ehlo_client.write(b"BDAT %d LAST\r\n" % len(content))
    for i in range(0, len(content), 777):
        await ehlo_client.write(content[i : i + 777])

    assert (await ehlo_client.read_reply()).code == 250
    assert server.contents == [content]


async def test_bdat_without_mail_reads_the_chunk_then_503(
    ehlo_client: LineClient, server: Running
) -> None:
    # RFC 3030 §2: the chunk is consumed even when refused; its bytes look
    # like commands and must not run.
    got = await ehlo_client.send(bdat(b"QUIT\r\nRSET\r\n"), "NOOP")

    assert got == [replies.NEED_MAIL, replies.OK]
    assert server.deliveries == []


async def test_bdat_without_recipients_reads_the_chunk_then_554(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command("MAIL FROM:<a@example.test>") == replies.SENDER_OK

    got = await ehlo_client.send(bdat(b"QUIT\r\n", last=True), "RCPT TO:<b@example.test>")

    # The refused BDAT ends the transaction: the RCPT has no MAIL any more.
    assert got == [replies.NO_VALID_RECIPIENTS, replies.NEED_MAIL]


async def test_data_after_bdat_in_one_transaction_is_503(
    ehlo_client: LineClient, server: Running
) -> None:
    await start(ehlo_client)

    got = await ehlo_client.send(bdat(b"part one\r\n"), "DATA")

    assert got == [replies.CHUNK_OK, replies.BDAT_AFTER_DATA]
    assert server.deliveries == []


async def test_rcpt_after_a_chunk_is_503(ehlo_client: LineClient) -> None:
    await start(ehlo_client)

    got = await ehlo_client.send(bdat(b"part one\r\n"), "RCPT TO:<c@example.test>")

    assert got == [replies.CHUNK_OK, replies.BAD_SEQUENCE]


async def test_rset_discards_the_chunks_received_so_far(
    ehlo_client: LineClient, server: Running
) -> None:
    await start(ehlo_client)
    await ehlo_client.send(bdat(b"discarded\r\n"), "RSET")
    await start(ehlo_client)

    assert (await ehlo_client.command(bdat(b"kept\r\n", last=True))).code == 250
    assert server.contents == [b"kept\r\n"]


@pytest.mark.parametrize(
    "line",
    [
        "BDAT",
        "BDAT x",
        "BDAT 5 NOTLAST",
        "BDAT 5 LAST more",
        "BDAT -1",
        "BDAT \u00b2",
        "BDAT \u0661\u0660",
    ],
)
async def test_malformed_bdat_is_501_and_closes_the_session(
    ehlo_client: LineClient, line: str
) -> None:
    # Without a size the end of the chunk is unknown: reading on would run
    # message octets as commands.
    await start(ehlo_client)

    assert await ehlo_client.command(line + "\r\nQUIT\r\n") == replies.SYNTAX_BDAT
    assert await ehlo_client.read_rest() == b""


async def test_oversized_chunk_is_read_to_its_end_then_552(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    running = await make_server(config(max_message_size=100))
    client = await connect(running)
    await client.ehlo()
    await start(client)
    chunk = b"x" * 120 + b"\r\nQUIT\r\nRSET\r\n"

    got = await client.send(bdat(chunk, last=True), "NOOP")

    assert got == [replies.MESSAGE_TOO_BIG, replies.OK]
    assert running.deliveries == []
    # The session stays usable for a message that fits.
    await start(client)
    assert (await client.command(bdat(b"small\r\n", last=True))).code == 250
    assert running.contents == [b"small\r\n"]


async def test_chunks_that_add_up_past_the_limit_are_552(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    running = await make_server(config(max_message_size=100))
    client = await connect(running)
    await client.ehlo()
    await start(client)

    got = await client.send(bdat(b"a" * 60), bdat(b"b" * 60))

    assert got == [replies.CHUNK_OK, replies.MESSAGE_TOO_BIG]
    # RFC 3030 §4.2: the failed chunk ended the transaction.
    assert await client.command(bdat(b"c", last=True)) == replies.NEED_MAIL
    assert running.deliveries == []


# --- line endings: refused as DATA refuses them (RFC 5321 §2.3.8) -----------


@pytest.mark.parametrize(
    "chunks",
    [
        [b"Subject: x\r\n\r\nbare\nlf\r\n"],
        [b"Subject: x\r\n\r\nbare\rcr\r\n"],
        [b"Subject: x\r\n\r\n", b"a\n.\nsmuggled\r\n"],
        [b"Subject: x\r\n\r\nends in cr\r"],  # no LF can follow the LAST chunk
        [b"Subject: x\r\n\r\nline\r", b"not lf\r\n"],  # the CR before the split is bare
    ],
    ids=["bare-lf", "bare-cr", "lf-dot-lf-in-second-chunk", "cr-at-the-end", "cr-then-no-lf"],
)
async def test_bare_line_ending_in_bdat_is_554_as_in_data(
    ehlo_client: LineClient, server: Running, chunks: list[bytes]
) -> None:
    await start(ehlo_client)
    *first, final = chunks

    got = await ehlo_client.send(*(bdat(c) for c in first), bdat(final, last=True))

    assert got == [replies.CHUNK_OK] * len(first) + [replies.BARE_LINE_ENDING_IN_DATA]
    assert server.deliveries == []


async def test_crlf_split_between_two_chunks_is_a_line_ending(
    ehlo_client: LineClient, server: Running
) -> None:
    await start(ehlo_client)

    got = await ehlo_client.send(
        bdat(b"Subject: s\r"), bdat(b"\n\r\nbody\r"), bdat(b"\n", last=True)
    )

    assert got[:2] == [replies.CHUNK_OK, replies.CHUNK_OK]
    assert got[2].code == 250
    assert server.contents == [b"Subject: s\r\n\r\nbody\r\n"]


async def test_chunks_pipelined_after_a_bare_line_ending_are_read_and_refused(
    ehlo_client: LineClient, server: Running
) -> None:
    """RFC 3030 §2: the failed chunk ends the transaction; chunks already in the
    pipeline are read to their end (never run as commands) and refused; then a
    new transaction goes through."""
    await start(ehlo_client)

    got = await ehlo_client.send(
        bdat(b"Subject: x\r\n\r\nbare\nlf\r\n"), bdat(b"QUIT\r\n", last=True), "NOOP"
    )

    assert got == [replies.BARE_LINE_ENDING_IN_DATA, replies.NEED_MAIL, replies.OK]
    await start(ehlo_client)
    assert (await ehlo_client.command(bdat(b"clean\r\n", last=True))).code == 250
    assert server.contents == [b"clean\r\n"]
