"""Session-level verbs and command-line handling (RFC 5321 §4.1, §4.5.3.1.4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import ServerConfig

if TYPE_CHECKING:
    from conftest import Connect, LineClient, MakeServer, Running

Plain = Callable[[Reply], Reply]


# --- greeting and EHLO/HELO ----------------------------------------------


async def test_greeting_is_220_naming_the_host_without_enhanced_code(
    client: LineClient, server: Running
) -> None:
    hostname = server.server.config.hostname

    assert client.greeting == Reply(220, None, f"{hostname} ESMTP Localpost")


async def test_ehlo_reply_names_the_client_and_lists_the_extensions(
    client: LineClient, server: Running
) -> None:
    config = server.server.config

    reply = await client.command("EHLO client.test")

    assert reply.code == 250
    assert reply.status is None  # RFC 2034 §3: no enhanced code on the EHLO reply
    assert reply.text.split("\n") == [
        f"{config.hostname} Hello client.test",
        f"SIZE {config.max_message_size}",
        "8BITMIME",
        "PIPELINING",
        "ENHANCEDSTATUSCODES",
        "SMTPUTF8",
        "CHUNKING",
    ]


async def test_ehlo_advertises_the_configured_size_limit(
    make_server: MakeServer, connect: Connect, config: Callable[..., ServerConfig]
) -> None:
    client = await connect(await make_server(config(max_message_size=12345)))

    reply = await client.ehlo()

    assert "SIZE 12345" in reply.text.split("\n")


@pytest.mark.parametrize("line", ["EHLO", "EHLO ", "EHLO two words", "EHLO h\u00e9.test"])
async def test_ehlo_without_a_single_ascii_hostname_is_501(
    client: LineClient, plain: Plain, line: str
) -> None:
    assert await client.command(line) == plain(replies.SYNTAX_EHLO)


@pytest.mark.parametrize("line", ["HELO", "HELO two words"])
async def test_helo_without_a_single_hostname_is_501(
    client: LineClient, plain: Plain, line: str
) -> None:
    assert await client.command(line) == plain(replies.SYNTAX_HELO)


async def test_helo_reply_is_one_line_with_the_server_name(
    client: LineClient, server: Running
) -> None:
    reply = await client.command("HELO client.test")

    assert reply == Reply(250, None, server.server.config.hostname)


async def test_mail_before_ehlo_is_503_need_ehlo(client: LineClient, plain: Plain) -> None:
    assert await client.command("MAIL FROM:<a@example.test>") == plain(replies.NEED_EHLO)


async def test_replies_carry_enhanced_codes_after_ehlo(client: LineClient) -> None:
    await client.ehlo()

    reply = await client.command("NOOP")

    assert reply == replies.OK
    assert reply.status == "2.0.0"


async def test_replies_carry_no_enhanced_codes_after_helo(client: LineClient, plain: Plain) -> None:
    await client.command("HELO client.test")

    assert await client.send("NOOP", "MAIL FROM:<a@example.test>", "FOO") == [
        plain(replies.OK),
        plain(replies.SENDER_OK),
        plain(replies.COMMAND_UNRECOGNIZED),
    ]


async def test_replies_carry_no_enhanced_codes_before_ehlo(
    client: LineClient, plain: Plain
) -> None:
    assert await client.command("NOOP") == plain(replies.OK)


async def test_helo_after_ehlo_turns_enhanced_codes_off(client: LineClient, plain: Plain) -> None:
    await client.ehlo()
    await client.command("HELO client.test")

    assert await client.command("NOOP") == plain(replies.OK)


# --- simple verbs -----------------------------------------------------------


@pytest.mark.parametrize("line", ["NOOP", "NOOP anything at all", "noop"])
async def test_noop_is_250_with_or_without_an_argument(ehlo_client: LineClient, line: str) -> None:
    assert await ehlo_client.command(line) == replies.OK


async def test_rset_is_250(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command("RSET") == replies.RESET_OK


async def test_rset_with_an_argument_is_501(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command("RSET now") == replies.SYNTAX_NO_ARGUMENTS


async def test_vrfy_is_252_cannot_verify(ehlo_client: LineClient) -> None:
    # RFC 5321 §3.5.3: 252 rather than disclosing which mailboxes exist.
    assert await ehlo_client.command("VRFY postmaster") == replies.CANNOT_VRFY


async def test_vrfy_without_an_argument_is_501(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command("VRFY") == replies.SYNTAX_VRFY


async def test_help_is_a_multiline_214(ehlo_client: LineClient) -> None:
    reply = await ehlo_client.command("HELP")

    assert reply == replies.HELP
    assert len(reply.text.split("\n")) > 1


async def test_quit_is_221_and_the_server_closes(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command("QUIT") == replies.CLOSING
    assert await ehlo_client.read_rest() == b""


async def test_commands_pipelined_after_quit_are_not_answered(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command(b"QUIT\r\nNOOP\r\n") == replies.CLOSING
    assert await ehlo_client.read_rest() == b""


async def test_unknown_command_is_500(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command("FROB") == replies.COMMAND_UNRECOGNIZED


@pytest.mark.parametrize("verb", ["EXPN staff", "TURN", "ETRN example.test"])
async def test_recognised_but_unimplemented_command_is_502(
    ehlo_client: LineClient, verb: str
) -> None:
    # RFC 5321 §4.2.4: 502 for a command we know of and do not implement.
    assert await ehlo_client.command(verb) == replies.COMMAND_NOT_IMPLEMENTED


async def test_http_request_is_421_and_the_connection_closes(
    client: LineClient, plain: Plain
) -> None:
    # Cross-protocol attack: the rest of the request must not be answered.
    reply = await client.command(b"GET / HTTP/1.1\r\nHost: mx.localpost.test\r\n\r\n")

    assert reply == plain(replies.FORBIDDEN_COMMAND)
    assert await client.read_rest() == b""


async def test_too_many_errors_closes_with_421(
    make_server: MakeServer, connect: Connect, config: Callable[..., ServerConfig]
) -> None:
    client = await connect(await make_server(config(max_errors=3)))
    await client.ehlo()

    got = await client.send("FROB", "RCPT TO:<a@example.test>", "FROB", "NOOP", n=4)

    assert got == [
        replies.COMMAND_UNRECOGNIZED,
        replies.NEED_MAIL,
        replies.COMMAND_UNRECOGNIZED,
        replies.TOO_MANY_ERRORS,
    ]
    assert await client.read_rest() == b""  # the NOOP is never answered


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("NOOP", replies.OK),
        ("RSET", replies.RESET_OK),
        ("VRFY someone", replies.CANNOT_VRFY),
        ("HELP", replies.HELP),
    ],
)
async def test_junk_commands_beyond_the_limit_close_with_421(
    make_server: MakeServer,
    connect: Connect,
    config: Callable[..., ServerConfig],
    command: str,
    answer: Reply,
) -> None:
    client = await connect(await make_server(config(max_junk_commands=5)))
    await client.ehlo()

    got = await client.send(*[command] * 6, "NOOP", n=6)

    assert got == [answer] * 5 + [replies.TOO_MANY_JUNK_COMMANDS]
    assert await client.read_rest() == b""  # the NOOP after it is never answered


async def test_an_accepted_message_starts_the_junk_count_again(
    make_server: MakeServer, connect: Connect, config: Callable[..., ServerConfig]
) -> None:
    running = await make_server(config(max_junk_commands=3))
    client = await connect(running)
    await client.ehlo()
    transaction = ["MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA"]

    first = await client.send("NOOP", "RSET", "HELP", *transaction)
    delivered = await client.command(b"Subject: x\r\n\r\nx\r\n.\r\n")
    second = await client.send("NOOP", "NOOP", "NOOP", "NOOP")

    assert [r.code for r in first] == [250, 250, 214, 250, 250, 354]
    assert delivered.code == 250
    assert second == [replies.OK] * 3 + [replies.TOO_MANY_JUNK_COMMANDS]
    assert len(running.deliveries) == 1


async def test_errors_below_the_limit_keep_the_session(
    make_server: MakeServer, connect: Connect, config: Callable[..., ServerConfig]
) -> None:
    client = await connect(await make_server(config(max_errors=3)))
    await client.ehlo()

    got = await client.send("FROB", "FROB", "NOOP")

    assert got == [replies.COMMAND_UNRECOGNIZED, replies.COMMAND_UNRECOGNIZED, replies.OK]


# --- line limits and forbidden bytes ----------------------------------------


def _noop_of_length(octets: int, tail: str = "") -> str:
    """A NOOP line that is ``octets`` long with its CRLF, ending in ``tail``."""
    return "NOOP " + "x" * (octets - len("NOOP ") - len(tail) - 2) + tail


async def test_command_of_512_octets_is_accepted(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command(_noop_of_length(512)) == replies.OK


async def test_command_of_513_octets_is_500_line_too_long(ehlo_client: LineClient) -> None:
    # RFC 5321 §4.5.3.1.4: 512 octets including CRLF.
    assert await ehlo_client.command(_noop_of_length(513)) == replies.LINE_TOO_LONG


def _mail_of_length(octets: int) -> str:
    """A valid MAIL line padded with spaces between parameters to ``octets`` with CRLF."""
    head, tail = "MAIL FROM:<a@example.test>", " SIZE=10"
    return head + " " * (octets - len(head) - len(tail) - 2) + tail


async def test_mail_may_be_512_octets_plus_the_extension_allowance(
    ehlo_client: LineClient, server: Running
) -> None:
    limit = server.server.config.mail_line_limit
    assert limit > 512

    assert await ehlo_client.command(_mail_of_length(limit)) == replies.SENDER_OK


async def test_mail_longer_than_the_allowance_is_500_line_too_long(
    ehlo_client: LineClient, server: Running
) -> None:
    limit = server.server.config.mail_line_limit

    assert await ehlo_client.command(_mail_of_length(limit + 1)) == replies.LINE_TOO_LONG
    assert await ehlo_client.command("RCPT TO:<b@example.test>") == replies.NEED_MAIL


@pytest.mark.parametrize("cut", [510, 512])
async def test_tail_of_an_overlong_line_is_not_executed(ehlo_client: LineClient, cut: int) -> None:
    # A server that cut the line after ``cut`` octets would read "QUIT" as a command.
    line = "NOOP " + "x" * (cut - len("NOOP ")) + "QUIT"

    assert await ehlo_client.send(line, "NOOP") == [replies.LINE_TOO_LONG, replies.OK]


async def test_line_longer_than_the_read_buffer_is_discarded_to_its_end(
    ehlo_client: LineClient, server: Running
) -> None:
    # Bigger than any single read, so the server sees it in many pieces and
    # has to drop what it holds; the tail still must not become a command.
    overlong = server.server.config.read_line_limit * 40
    await ehlo_client.write(b"NOOP " + b"x" * overlong)
    await ehlo_client.write(b"QUIT\r\n")

    assert await ehlo_client.read_reply() == replies.LINE_TOO_LONG
    assert await ehlo_client.command("NOOP") == replies.OK


async def test_nul_in_a_command_is_500(ehlo_client: LineClient) -> None:
    assert await ehlo_client.command("MAIL FROM:<a\x00@example.test>") == replies.NUL_IN_COMMAND
    assert await ehlo_client.command("RCPT TO:<b@example.test>") == replies.NEED_MAIL


async def test_bare_cr_in_a_command_is_500_and_nothing_after_it_runs(
    ehlo_client: LineClient,
) -> None:
    reply = await ehlo_client.command(b"NOOP x\rQUIT\r\n")

    assert reply == replies.BARE_CR_IN_COMMAND
    assert await ehlo_client.command("NOOP") == replies.OK


async def test_bare_lf_ends_a_command_line(ehlo_client: LineClient) -> None:
    # Tolerated outside DATA (people type commands with netcat).
    assert await ehlo_client.send(b"NOOP\n", b"RSET\n") == [replies.OK, replies.RESET_OK]


async def test_invalid_utf8_in_an_argument_is_501(ehlo_client: LineClient) -> None:
    reply = await ehlo_client.command(b"MAIL FROM:<\xff@example.test>\r\n")

    assert reply == replies.SYNTAX_ERROR
