"""Reply parsing: RFC 5321 §4.2 syntax, RFC 3463 enhanced codes, EHLO keywords."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtplib_common import replies
from smtplib_common.client.response import (
    Response,
    auth_mechanisms,
    parse_ehlo,
    parse_reply,
    parse_reply_line,
)
from smtplib_common.errors import SMTPMalformedReply

ALL_REPLIES = [value for name, value in vars(replies).items() if isinstance(value, replies.Reply)]


@pytest.mark.parametrize("reply", ALL_REPLIES, ids=str)
def test_every_server_reply_constant_parses_back_to_its_parts(reply: replies.Reply) -> None:
    parsed = parse_reply(reply.encode(enhanced=True))
    assert parsed.code == reply.code
    assert parsed.status == reply.status
    assert parsed.text == reply.text


@pytest.mark.parametrize("reply", ALL_REPLIES, ids=str)
def test_server_reply_without_enhanced_code_has_no_status(reply: replies.Reply) -> None:
    parsed = parse_reply(reply.encode(enhanced=False))
    assert (parsed.code, parsed.status, parsed.text) == (reply.code, None, reply.text)


def test_multiline_reply_keeps_each_line_and_strips_repeated_status() -> None:
    parsed = parse_reply(b"250-2.0.0 first\r\n250-2.0.0 second\r\n250 2.0.0 last\r\n")
    assert parsed == Response(250, ("first", "second", "last"), "2.0.0")
    assert parsed.text == "first\nsecond\nlast"


def test_bare_code_line_is_a_reply_with_empty_text() -> None:
    assert parse_reply(b"250\r\n") == Response(250, ("",), None)


def test_bare_lf_line_ending_is_tolerated() -> None:
    assert parse_reply(b"250 OK\n").text == "OK"


def test_status_whose_class_differs_from_the_code_is_plain_text() -> None:
    # RFC 3463 §2: the class of the enhanced code matches the reply's first digit.
    assert parse_reply(b"250 5.1.1 looks like a status\r\n").status is None
    assert parse_reply(b"550 5.1.1 no such user\r\n").status == "5.1.1"


@pytest.mark.parametrize(
    "text", ["2.01.0 leading zero", "2.0 short", "2.0.0000 long", "2.0.0x glued"]
)
def test_malformed_enhanced_codes_stay_in_the_text(text: str) -> None:
    parsed = parse_reply(f"250 {text}\r\n".encode())
    assert parsed.status is None
    assert parsed.text == text


def test_utf8_text_is_decoded_and_invalid_octets_replaced() -> None:
    assert parse_reply("250 grüße\r\n".encode()).text == "grüße"
    assert parse_reply(b"250 bad \xff byte\r\n").text == "bad \ufffd byte"


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"\r\n",
        b"hello\r\n",
        b"25 OK\r\n",
        b"2500 OK\r\n",
        b"150 OK\r\n",  # RFC 5321 §4.2.1: first digit is 2-5
        b"260 OK\r\n",  # second digit is 0-5
        b"250OK\r\n",
        b"250_OK\r\n",
        b"250 OK\rmore\r\n",
        b"250 O\x00K\r\n",
    ],
)
def test_malformed_reply_line_raises(line: bytes) -> None:
    with pytest.raises(SMTPMalformedReply):
        parse_reply_line(line)


def test_reply_whose_code_changes_between_lines_is_malformed() -> None:
    with pytest.raises(SMTPMalformedReply, match="changed"):
        parse_reply(b"250-first\r\n251 second\r\n")


def test_reply_without_final_line_is_malformed() -> None:
    with pytest.raises(SMTPMalformedReply):
        parse_reply(b"250-first\r\n250-second\r\n")


def test_data_after_the_final_line_is_malformed() -> None:
    with pytest.raises(SMTPMalformedReply):
        parse_reply(b"250 first\r\n250 second\r\n")


def test_response_classes_follow_the_first_digit() -> None:
    assert Response(250).is_positive
    assert Response(354).is_intermediate
    assert Response(451).is_transient
    assert Response(550).is_permanent
    assert str(Response(550, ("no",), "5.1.1")) == "550 5.1.1 no"


_CODES = st.builds(
    lambda a, b, c: a * 100 + b * 10 + c, st.integers(2, 5), st.integers(0, 5), st.integers(0, 9)
)
_TEXTS = st.lists(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).filter(
        lambda t: not t[:1].isdigit()
    ),
    min_size=1,
    max_size=5,
)


def _wire(code: int, texts: list[str]) -> bytes:
    last = len(texts) - 1
    return "".join(f"{code}{'-' if i < last else ' '}{t}\r\n" for i, t in enumerate(texts)).encode()


@given(code=_CODES, texts=_TEXTS)
def test_any_wellformed_reply_round_trips(code: int, texts: list[str]) -> None:
    parsed = parse_reply(_wire(code, texts))
    assert (parsed.code, parsed.lines, parsed.status) == (code, tuple(texts), None)


@given(
    code=_CODES.filter(lambda c: c // 100 != 3),
    texts=_TEXTS,
    subject=st.integers(0, 999),
    detail=st.integers(0, 999),
)
def test_enhanced_status_on_every_line_is_lifted_out(
    code: int, texts: list[str], subject: int, detail: int
) -> None:
    status = f"{code // 100}.{subject}.{detail}"
    parsed = parse_reply(_wire(code, [f"{status} {t}" for t in texts]))
    assert (parsed.status, parsed.lines) == (status, tuple(texts))


# --- EHLO -------------------------------------------------------------------


def test_ehlo_keywords_are_upper_cased_with_their_parameters() -> None:
    response = parse_reply(
        b"250-mx.example greets you\r\n"
        b"250-pipelining\r\n"
        b"250-SIZE 35882577\r\n"
        b"250-Auth PLAIN login\r\n"
        b"250 8BITMIME\r\n"
    )
    extensions = parse_ehlo(response)
    assert extensions == {
        "PIPELINING": "",
        "SIZE": "35882577",
        "AUTH": "PLAIN login",
        "8BITMIME": "",
    }
    assert auth_mechanisms(extensions) == ["PLAIN", "LOGIN"]


def test_ehlo_greeting_line_is_not_an_extension() -> None:
    assert parse_ehlo(parse_reply(b"250 STARTTLS\r\n")) == {}


def test_ehlo_blank_and_invalid_lines_are_ignored() -> None:
    # Postfix's smtp-sink really ends its EHLO reply with "250 ".
    response = parse_reply(b"250-smtp-sink\r\n250-PIPELINING\r\n250-???\r\n250 \r\n")
    assert parse_ehlo(response) == {"PIPELINING": ""}


def test_ehlo_old_auth_equals_form_is_merged_into_auth() -> None:
    response = parse_reply(b"250-mx\r\n250-AUTH LOGIN PLAIN\r\n250 AUTH=LOGIN PLAIN CRAM-MD5\r\n")
    assert auth_mechanisms(parse_ehlo(response)) == ["LOGIN", "PLAIN", "CRAM-MD5"]
