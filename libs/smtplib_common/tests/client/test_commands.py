"""Reply-code validation per command and safe command lines."""

from __future__ import annotations

import pytest

from smtplib_common.client import commands
from smtplib_common.client.response import Response
from smtplib_common.errors import (
    SMTPResponseError,
    SMTPSenderRefused,
    SMTPUnexpectedReply,
)


def test_expected_code_is_returned() -> None:
    response = Response(251, ("will forward",))
    assert commands.check(response, command="RCPT", expected=commands.RCPT) is response


@pytest.mark.parametrize("code", [421, 450, 451, 452, 550, 552, 553, 554, 555])
def test_4xx_and_5xx_raise_the_commands_refusal(code: int) -> None:
    def refused(r: Response) -> SMTPResponseError:
        return SMTPSenderRefused("no", response=r, sender="a@b")

    with pytest.raises(SMTPSenderRefused) as caught:
        commands.check(Response(code), command="MAIL", expected=commands.MAIL, refused=refused)
    assert caught.value.code == code
    assert caught.value.transient == (code < 500)
    assert caught.value.sender == "a@b"


def test_refusal_without_a_specific_error_is_a_plain_response_error() -> None:
    with pytest.raises(SMTPResponseError) as caught:
        commands.check(Response(502), command="NOOP", expected=commands.NOOP)
    assert type(caught.value) is SMTPResponseError


@pytest.mark.parametrize(
    ("command", "expected", "code"),
    [
        ("MAIL", commands.MAIL, 354),
        ("RCPT", commands.RCPT, 221),
        ("DATA", commands.DATA, 250),
        ("QUIT", commands.QUIT, 250),
        ("EHLO", commands.EHLO, 334),
    ],
)
def test_positive_code_the_command_never_gives_is_unexpected(
    command: str, expected: frozenset[int], code: int
) -> None:
    with pytest.raises(SMTPUnexpectedReply) as caught:
        commands.check(Response(code), command=command, expected=expected)
    assert caught.value.command == command
    assert caught.value.code == code


def test_command_line_ends_with_crlf_and_is_utf8() -> None:
    assert commands.command_line("VRFY", "jörg") == "VRFY jörg\r\n".encode()
    assert commands.path_line("MAIL FROM", "", ["SIZE=1"]) == b"MAIL FROM:<> SIZE=1\r\n"


@pytest.mark.parametrize("evil", ["a@b\r\nRSET", "a@b\nDATA", "a@b\rQUIT", "a\0b@c"])
def test_line_breaks_in_arguments_cannot_inject_commands(evil: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        commands.path_line("RCPT TO", evil)
    with pytest.raises(ValueError, match="line break"):
        commands.command_line("VRFY", evil)


def test_angle_brackets_in_an_address_are_refused() -> None:
    with pytest.raises(ValueError, match="angle"):
        commands.path_line("MAIL FROM", "a@b> SIZE=1")
