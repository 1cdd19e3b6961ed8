"""The mail transaction: MAIL, RCPT, DATA, their parameters and limits (RFC 5321 §3.3)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import BodyType, ServerConfig

if TYPE_CHECKING:
    from conftest import Connect, LineClient, MakeServer, Running, Trace

Plain = Callable[[Reply], Reply]
Received = Callable[[bytes], "tuple[Trace, bytes]"]
Config = Callable[..., ServerConfig]

BODY = b"Subject: hello\r\n\r\nHello, world.\r\n"


async def send_mail(
    client: LineClient,
    body: bytes = BODY,
    *,
    mail_from: str = "<alice@example.test>",
    rcpts: tuple[str, ...] = ("<bob@example.test>",),
) -> Reply:
    """One transaction whose every step must succeed; the reply to the data."""
    got = await client.send(f"MAIL FROM:{mail_from}", *(f"RCPT TO:{r}" for r in rcpts), "DATA")
    assert got[-1] == replies.START_MAIL_INPUT, got
    return await client.command(body + b".\r\n")


# --- the happy path ---------------------------------------------------------


async def test_message_is_handed_over_with_envelope_and_content(
    ehlo_client: LineClient, server: Running
) -> None:
    await send_mail(ehlo_client, rcpts=("<bob@example.test>", "<carol@example.test>"))

    (delivery,) = server.deliveries
    assert delivery.envelope.mail_from == "alice@example.test"
    assert delivery.envelope.rcpt_tos == ["bob@example.test", "carol@example.test"]
    assert server.contents == [BODY]


async def test_default_reply_to_data_is_250_queued_as_the_envelope_id(
    ehlo_client: LineClient, server: Running
) -> None:
    reply = await send_mail(ehlo_client)

    envelope_id = server.deliveries[0].envelope.id
    assert reply == replies.MESSAGE_ACCEPTED.with_text(f"OK: queued as {envelope_id}")


async def test_each_transaction_gets_its_own_id(ehlo_client: LineClient, server: Running) -> None:
    first = await send_mail(ehlo_client)
    second = await send_mail(ehlo_client)

    ids = [d.envelope.id for d in server.deliveries]
    assert len(set(ids)) == 2
    assert [first.text, second.text] == [f"OK: queued as {i}" for i in ids]


async def test_null_reverse_path_is_accepted(ehlo_client: LineClient, server: Running) -> None:
    assert await ehlo_client.command("MAIL FROM:<>") == replies.SENDER_OK
    await ehlo_client.send("RCPT TO:<bob@example.test>", "DATA")
    await ehlo_client.command(BODY + b".\r\n")

    assert server.deliveries[0].envelope.mail_from == ""


async def test_helo_session_can_send_mail(client: LineClient, server: Running) -> None:
    await client.command("HELO client.test")

    reply = await send_mail(client)

    assert reply.code == 250
    assert reply.status is None
    assert server.contents == [BODY]


# --- the Received: trace header (RFC 5321 §4.4) -------------------------------


async def test_received_header_names_client_server_protocol_id_and_recipient(
    ehlo_client: LineClient, server: Running, received: Received
) -> None:
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    await send_mail(ehlo_client)

    (delivery,) = server.deliveries
    trace, content = received(delivery.message)
    assert trace.helo == "client.test"
    assert trace.ip == "127.0.0.1"
    assert trace.by == server.server.config.hostname
    assert trace.protocol == "ESMTP"
    assert trace.id == delivery.envelope.id
    assert trace.rcpt == "bob@example.test"
    assert before <= trace.date <= datetime.datetime.now(datetime.UTC)
    assert content == BODY


async def test_received_header_does_not_list_several_recipients(
    ehlo_client: LineClient, server: Running, received: Received
) -> None:
    # RFC 5321 §7.2: naming them all would disclose Bcc recipients.
    await send_mail(ehlo_client, rcpts=("<bob@example.test>", "<carol@example.test>"))

    trace, _ = received(server.messages[0])
    assert trace.rcpt is None
    assert b"carol" not in server.messages[0].split(b"\r\n\r\n")[0]


async def test_received_protocol_is_smtp_after_helo(
    client: LineClient, server: Running, received: Received
) -> None:
    await client.command("HELO client.test")
    await send_mail(client)

    assert received(server.messages[0])[0].protocol == "SMTP"


async def test_received_protocol_is_utf8smtp_with_smtputf8(
    ehlo_client: LineClient, server: Running, received: Received
) -> None:
    # RFC 6531 §4.3
    await send_mail(ehlo_client, mail_from="<alice@example.test> SMTPUTF8")

    assert received(server.messages[0])[0].protocol == "UTF8SMTP"


async def test_no_received_header_when_disabled(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    running = await make_server(config(add_received_header=False))
    client = await connect(running)
    await client.ehlo()

    await send_mail(client)

    assert running.handler.messages == [BODY]


# --- sequence errors ---------------------------------------------------------


async def test_second_mail_in_a_transaction_is_503(ehlo_client: LineClient) -> None:
    got = await ehlo_client.send("MAIL FROM:<a@example.test>", "MAIL FROM:<b@example.test>")

    assert got == [replies.SENDER_OK, replies.NESTED_MAIL]


async def test_rcpt_before_mail_is_503(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command("RCPT TO:<b@example.test>") == replies.NEED_MAIL


async def test_data_before_mail_is_503(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command("DATA") == replies.NEED_MAIL


async def test_data_without_an_accepted_recipient_is_554(ehlo_client: LineClient) -> None:
    # RFC 5321 §3.3 allows 503 or 554 here; 554 says what is wrong.
    got = await ehlo_client.send("MAIL FROM:<a@example.test>", "DATA")

    assert got == [replies.SENDER_OK, replies.NO_VALID_RECIPIENTS]


async def test_data_with_an_argument_is_501(ehlo_client: LineClient) -> None:
    got = await ehlo_client.send("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA x")

    assert got[-1] == replies.SYNTAX_NO_ARGUMENTS


async def test_rset_ends_the_transaction(ehlo_client: LineClient) -> None:
    got = await ehlo_client.send(
        "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "RSET", "RCPT TO:<c@x.test>"
    )

    assert got == [replies.SENDER_OK, replies.RECIPIENT_OK, replies.RESET_OK, replies.NEED_MAIL]


async def test_ehlo_ends_the_transaction(ehlo_client: LineClient) -> None:
    # RFC 5321 §4.1.4: EHLO in a transaction is an implicit RSET.
    got = await ehlo_client.send(
        "MAIL FROM:<a@example.test>", "EHLO client.test", "RCPT TO:<b@example.test>", "DATA"
    )

    assert got[0] == replies.SENDER_OK
    assert got[2:] == [replies.NEED_MAIL, replies.NEED_MAIL]
    assert await ehlo_client.command("MAIL FROM:<a@example.test>") == replies.SENDER_OK


# --- MAIL and RCPT syntax ----------------------------------------------------


@pytest.mark.parametrize("line", ["MAIL TO:<a@example.test>", "MAIL", "MAIL FROM"])
async def test_mail_without_from_is_501(ehlo_client: LineClient, line: str) -> None:
    assert await ehlo_client.command(line) == replies.SYNTAX_MAIL


@pytest.mark.parametrize(
    "arg", ["<a@example.test> =x", "<a@example.test> SIZE=1 SIZE=2", "<a@example.test> B\u00c4D"]
)
async def test_mail_with_a_malformed_parameter_list_is_501(
    ehlo_client: LineClient, arg: str
) -> None:
    assert await ehlo_client.command(f"MAIL FROM:{arg}") == replies.SYNTAX_MAIL


@pytest.mark.parametrize(
    "path", ["<no-at-sign>", "<a@example.test", "<a@example.test>junk", "<a@@example.test>", "<@>"]
)
async def test_malformed_sender_is_501_bad_sender_syntax(
    ehlo_client: LineClient, path: str
) -> None:
    assert await ehlo_client.command(f"MAIL FROM:{path}") == replies.BAD_SENDER_SYNTAX


async def test_rcpt_without_to_is_501(ehlo_client: LineClient) -> None:
    got = await ehlo_client.send("MAIL FROM:<a@example.test>", "RCPT FROM:<b@example.test>")

    assert got[-1] == replies.SYNTAX_RCPT


async def test_rcpt_with_a_malformed_parameter_list_is_501(ehlo_client: LineClient) -> None:
    got = await ehlo_client.send("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test> =x")

    assert got[-1] == replies.SYNTAX_RCPT


@pytest.mark.parametrize("path", ["<>", "<no-at-sign>", "<b@example.test"])
async def test_malformed_recipient_is_501_bad_recipient_syntax(
    ehlo_client: LineClient, path: str
) -> None:
    got = await ehlo_client.send("MAIL FROM:<a@example.test>", f"RCPT TO:{path}")

    assert got[-1] == replies.BAD_RECIPIENT_SYNTAX


async def test_path_without_angle_brackets_is_accepted(
    ehlo_client: LineClient, server: Running
) -> None:
    # Postfix accepts this too; scripts send it.
    await send_mail(ehlo_client, mail_from="alice@example.test", rcpts=("bob@example.test",))

    assert server.deliveries[0].envelope.rcpt_tos == ["bob@example.test"]


async def test_source_route_is_accepted_and_dropped(
    ehlo_client: LineClient, server: Running
) -> None:
    # RFC 5321 §4.1.2 / Appendix C: accept the obsolete A-d-l and ignore it.
    await send_mail(ehlo_client, rcpts=("<@relay.test,@hop.test:bob@example.test>",))

    assert server.deliveries[0].envelope.rcpt_tos == ["bob@example.test"]


async def test_local_part_of_64_octets_is_accepted(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command(f"MAIL FROM:<{'a' * 64}@example.test>") == replies.SENDER_OK


@pytest.mark.parametrize(
    "address",
    [
        "a" * 65 + "@example.test",  # RFC 5321 §4.5.3.1.1: local part ≤ 64
        "a@" + ".".join(["b" * 63] * 4) + ".test",  # §4.5.3.1.2: domain ≤ 255
    ],
    ids=["local-part-65", "domain-260"],
)
async def test_overlong_sender_is_501_path_too_long(ehlo_client: LineClient, address: str) -> None:
    assert await ehlo_client.command(f"MAIL FROM:<{address}>") == replies.PATH_TOO_LONG


async def test_overlong_recipient_is_501_path_too_long(ehlo_client: LineClient) -> None:
    got = await ehlo_client.send("MAIL FROM:<a@example.test>", f"RCPT TO:<{'b' * 65}@example.test>")

    assert got[-1] == replies.PATH_TOO_LONG


# --- SMTPUTF8 (RFC 6531) ----------------------------------------------------


async def test_non_ascii_sender_without_smtputf8_is_553(ehlo_client: LineClient) -> None:
    reply = await ehlo_client.command("MAIL FROM:<j\u00f6ran@b\u00fccher.test>")

    assert reply == replies.NON_ASCII_NOT_PERMITTED


async def test_non_ascii_recipient_without_smtputf8_is_553(ehlo_client: LineClient) -> None:
    got = await ehlo_client.send(
        "MAIL FROM:<a@example.test>", "RCPT TO:<\u7528\u6237@example.test>"
    )

    assert got[-1] == replies.NON_ASCII_NOT_PERMITTED


async def test_non_ascii_addresses_are_accepted_with_smtputf8(
    ehlo_client: LineClient, server: Running
) -> None:
    body = "Subject: gr\u00fc\u00dfe\r\n\r\n\u4f60\u597d\r\n".encode()

    reply = await send_mail(
        ehlo_client,
        body,
        mail_from="<j\u00f6ran@b\u00fccher.test> SMTPUTF8",
        rcpts=("<\u7528\u6237@\u4f8b\u3048.test>",),
    )

    assert reply.code == 250
    envelope = server.deliveries[0].envelope
    assert envelope.smtputf8
    assert envelope.mail_from == "j\u00f6ran@b\u00fccher.test"
    assert envelope.rcpt_tos == ["\u7528\u6237@\u4f8b\u3048.test"]
    assert server.contents == [body]


# --- MAIL parameters (RFC 1869, 1870, 6152, 6531, 4954) ----------------------


@pytest.mark.parametrize("param", ["FOO=bar", "RET=HDRS", "X-TRACE"])
async def test_unknown_mail_parameter_is_555(ehlo_client: LineClient, param: str) -> None:
    reply = await ehlo_client.command(f"MAIL FROM:<a@example.test> {param}")

    assert reply == replies.UNKNOWN_PARAMETER


async def test_any_rcpt_parameter_is_555(ehlo_client: LineClient) -> None:
    # We offer no RCPT parameters (no DSN, RFC 3461).
    got = await ehlo_client.send(
        "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test> NOTIFY=NEVER"
    )

    assert got[-1] == replies.UNKNOWN_PARAMETER


@pytest.mark.parametrize("param", ["SIZE=10", "BODY=8BITMIME", "SMTPUTF8"])
async def test_any_mail_parameter_after_helo_is_555(
    client: LineClient, plain: Plain, param: str
) -> None:
    # RFC 1869 §4.5: a HELO session has no extensions, so no parameters.
    await client.command("HELO client.test")

    reply = await client.command(f"MAIL FROM:<a@example.test> {param}")

    assert reply == plain(replies.UNKNOWN_PARAMETER)


@pytest.mark.parametrize(
    "param",
    [
        "SIZE",
        "SIZE=ten",
        "SIZE=-1",
        "SIZE=" + "9" * 21,
        "BODY",
        "BODY=9BIT",
        "SMTPUTF8=yes",
        "AUTH",
        "AUTH=bad+zz",
    ],
)
async def test_mail_parameter_with_an_invalid_value_is_501(
    ehlo_client: LineClient, param: str
) -> None:
    reply = await ehlo_client.command(f"MAIL FROM:<a@example.test> {param}")

    assert reply == replies.INVALID_PARAMETER_VALUE


async def test_body_binarymime_is_504_not_implemented(ehlo_client: LineClient) -> None:
    # RFC 3030 §3: BINARYMIME needs CHUNKING and is not advertised by us.
    reply = await ehlo_client.command("MAIL FROM:<a@example.test> BODY=BINARYMIME")

    assert reply == replies.PARAMETER_NOT_IMPLEMENTED


async def test_mail_parameters_are_recorded_on_the_envelope(
    ehlo_client: LineClient, server: Running
) -> None:
    await send_mail(ehlo_client, mail_from="<a@example.test> size=30 body=8bitmime")

    envelope = server.deliveries[0].envelope
    assert envelope.declared_size == 30
    assert envelope.body_type is BodyType.EIGHT_BIT_MIME
    assert envelope.mail_params == {"SIZE": "30", "BODY": "8bitmime"}


async def test_eight_bit_body_is_passed_on_unchanged(
    ehlo_client: LineClient, server: Running
) -> None:
    body = b"Subject: 8bit\r\n\r\n\xe9t\xe9 \xff\x80\x00 binary-ish\r\n"

    await send_mail(ehlo_client, body, mail_from="<a@example.test> BODY=8BITMIME")

    assert server.contents == [body]


async def test_auth_parameter_is_ignored_without_authentication(
    ehlo_client: LineClient, server: Running
) -> None:
    # RFC 4954 §5: an unauthenticated client is treated as if it sent AUTH=<>.
    await send_mail(ehlo_client, mail_from="<a@example.test> AUTH=a@example.test")

    assert server.deliveries[0].envelope.auth_mailbox is None


# --- size limits (RFC 1870) ---------------------------------------------------


async def test_declared_size_above_the_limit_is_552_at_mail(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    client = await connect(await make_server(config(max_message_size=1000)))
    await client.ehlo()

    got = await client.send(
        "MAIL FROM:<a@example.test> SIZE=1001", "MAIL FROM:<a@example.test> SIZE=1000"
    )

    assert got == [replies.MESSAGE_TOO_BIG, replies.SENDER_OK]


async def test_oversized_data_is_read_to_its_end_then_552(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    running = await make_server(config(max_message_size=1000))
    client = await connect(running)
    await client.ehlo()
    # Past the limit the data holds lines that look like commands: they must
    # be swallowed as data, not executed.
    body = b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n" + (b"y" * 78 + b"\r\n") * 20
    body += b"QUIT\r\nMAIL FROM:<evil@example.test>\r\n"

    reply = await send_mail(client, body)

    assert reply == replies.MESSAGE_TOO_BIG
    assert running.deliveries == []
    # The session goes on: the next transaction fits and is accepted.
    assert (await send_mail(client)).code == 250
    assert running.contents == [BODY]


async def test_message_of_exactly_the_size_limit_is_accepted(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    running = await make_server(config(max_message_size=len(BODY)))
    client = await connect(running)
    await client.ehlo()

    assert (await send_mail(client)).code == 250
    assert (await send_mail(client, BODY + b"x\r\n")) == replies.MESSAGE_TOO_BIG


# --- recipients limit -------------------------------------------------------


async def test_recipient_beyond_the_limit_is_452_and_the_others_stay(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    running = await make_server(config(max_recipients=3))
    client = await connect(running)
    await client.ehlo()
    rcpts = [f"RCPT TO:<r{i}@example.test>" for i in range(4)]

    got = await client.send("MAIL FROM:<a@example.test>", *rcpts, "DATA")

    assert got == [
        replies.SENDER_OK,
        replies.RECIPIENT_OK,
        replies.RECIPIENT_OK,
        replies.RECIPIENT_OK,
        replies.TOO_MANY_RECIPIENTS,
        replies.START_MAIL_INPUT,
    ]
    assert (await client.command(BODY + b".\r\n")).code == 250
    assert running.deliveries[0].envelope.rcpt_tos == [f"r{i}@example.test" for i in range(3)]


# --- postmaster (RFC 5321 §4.5.1) ---------------------------------------------


@pytest.mark.parametrize("postmaster", ["postmaster", "POSTMASTER", "PostMaster"])
async def test_domainless_postmaster_is_accepted_even_when_the_handler_refuses_all(
    make_server: MakeServer, connect: Connect, postmaster: str
) -> None:
    async def refuse(*args: object) -> Reply:
        return replies.RELAY_DENIED

    running = await make_server(handle_rcpt=refuse)
    client = await connect(running)
    await client.ehlo()

    got = await client.send(
        "MAIL FROM:<a@example.test>", "RCPT TO:<bob@example.test>", f"RCPT TO:<{postmaster}>"
    )

    assert got == [replies.SENDER_OK, replies.RELAY_DENIED, replies.RECIPIENT_OK]
    assert (await client.command("DATA")) == replies.START_MAIL_INPUT
    assert (await client.command(BODY + b".\r\n")).code == 250
    assert running.deliveries[0].envelope.rcpt_tos == [postmaster]


# --- DATA framing over the wire (RFC 5321 §4.1.1.4, §4.5.2) -------------------


async def test_dot_stuffed_lines_are_unstuffed(ehlo_client: LineClient, server: Running) -> None:
    wire = b"..starts with a dot\r\n...two dots\r\n.\tdot and tab\r\nmid.dle\r\n..\r\n"

    await send_mail(ehlo_client, wire)

    assert server.contents == [
        b".starts with a dot\r\n..two dots\r\n\tdot and tab\r\nmid.dle\r\n.\r\n"
    ]


async def test_empty_message_is_accepted(ehlo_client: LineClient, server: Running) -> None:
    assert (await send_mail(ehlo_client, b"")).code == 250
    assert server.contents == [b""]


async def test_message_split_across_many_writes_arrives_whole(
    ehlo_client: LineClient, server: Running
) -> None:
    wire = b"Subject: s\r\n\r\n" + b"".join(b"..line %d\r\n" % i for i in range(200)) + b".\r\n"
    await ehlo_client.send("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA")

    # Byte by byte near the end, so the end marker arrives split every way.
    for i in range(0, len(wire) - 20, 97):
        await ehlo_client.write(wire[i : min(i + 97, len(wire) - 20)])
    for byte in wire[len(wire) - 20 :]:
        await ehlo_client.write(bytes([byte]))

    assert (await ehlo_client.read_reply()).code == 250
    assert server.contents == [wire[:-3].replace(b"\r\n..", b"\r\n.")]


@pytest.mark.parametrize(
    "fake_end", [b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\n.\n", b"\r\n.\r"], ids=repr
)
async def test_data_ends_only_at_crlf_dot_crlf(
    ehlo_client: LineClient, server: Running, fake_end: bytes
) -> None:
    # SMTP smuggling (CVE-2023-51764 class): after a fake end, a second
    # transaction must stay inside the first message, which is then refused.
    smuggled = b"MAIL FROM:<evil@example.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\n"
    wire = b"Subject: s\r\n\r\nhello" + fake_end + smuggled + b"Subject: smuggled\r\n\r\nx\r\n"

    reply = await send_mail(ehlo_client, wire)

    assert reply == replies.BARE_LINE_ENDING_IN_DATA
    assert await ehlo_client.command("NOOP") == replies.OK  # nothing else was answered
    assert server.deliveries == []


@pytest.mark.parametrize("bare", [b"\n", b"\r"], ids=["LF", "CR"])
async def test_bare_line_ending_in_data_is_554_after_the_real_end(
    ehlo_client: LineClient, server: Running, bare: bytes
) -> None:
    reply = await send_mail(ehlo_client, b"Subject: s\r\n\r\nfirst" + bare + b"second\r\n")

    assert reply == replies.BARE_LINE_ENDING_IN_DATA
    assert server.deliveries == []
    assert (await send_mail(ehlo_client)).code == 250  # the session goes on


async def test_data_line_at_the_limit_is_accepted_and_one_longer_is_554(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    running = await make_server(config(data_line_limit=100))
    client = await connect(running)
    await client.ehlo()
    at_limit = b"Subject: s\r\n\r\n" + b"a" * 100 + b"\r\nend\r\n"
    too_long = b"Subject: s\r\n\r\n" + b"a" * 101 + b"\r\nend\r\n"

    assert (await send_mail(client, at_limit)).code == 250
    assert await send_mail(client, too_long) == replies.DATA_LINE_TOO_LONG
    assert running.contents == [at_limit]


async def test_long_data_line_in_the_middle_of_short_ones_is_554(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    running = await make_server(config(data_line_limit=100))
    client = await connect(running)
    await client.ehlo()
    body = b"short\r\n" * 50 + b"b" * 150 + b"\r\n" + b"short\r\n" * 50

    assert await send_mail(client, body) == replies.DATA_LINE_TOO_LONG
    assert running.deliveries == []


# --- loop detection (RFC 5321 §6.3) -----------------------------------------------


def _with_received(count: int) -> bytes:
    trace = b"".join(
        b"Received: from hop%d.test by hop%d.test; now\r\n" % (i, i + 1) for i in range(count)
    )
    return trace + b"Subject: looping\r\n\r\nbody\r\n"


async def test_too_many_received_headers_is_554_loop_detected(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    running = await make_server(config(max_received_headers=5))
    client = await connect(running)
    await client.ehlo()

    # Our own trace header counts too (as Postfix's hopcount_limit does):
    # four from the client plus ours is the limit, five from the client is over.
    assert (await send_mail(client, _with_received(4))).code == 250
    assert await send_mail(client, _with_received(5)) == replies.LOOP_DETECTED
    assert len(running.deliveries) == 1


async def test_received_in_the_body_does_not_count_as_a_hop(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    running = await make_server(config(max_received_headers=2))
    client = await connect(running)
    await client.ehlo()
    body = b"Subject: quoted\r\n\r\n" + b"Received: from x by y; now\r\n" * 10

    assert (await send_mail(client, body)).code == 250
