"""Reply constants and their wire form (replies.py)."""

from __future__ import annotations

import re

import pytest

from smtplib_common import replies
from smtplib_common.replies import Reply

ALL = {name: value for name, value in vars(replies).items() if isinstance(value, Reply)}


def test_single_line_reply_with_enhanced_code() -> None:
    assert replies.NEED_MAIL.encode() == b"503 5.5.1 Need MAIL command first\r\n"


def test_single_line_reply_without_enhanced_code() -> None:
    assert replies.NEED_MAIL.encode(enhanced=False) == b"503 Need MAIL command first\r\n"


def test_multiline_reply_repeats_code_and_status_on_every_line() -> None:
    reply = Reply(250, "2.0.0", "first\nsecond\nlast")

    assert reply.encode() == b"250-2.0.0 first\r\n250-2.0.0 second\r\n250 2.0.0 last\r\n"
    assert reply.encode(enhanced=False) == b"250-first\r\n250-second\r\n250 last\r\n"


def test_reply_without_status_never_prints_one() -> None:
    assert replies.START_MAIL_INPUT.encode() == replies.START_MAIL_INPUT.encode(enhanced=False)


def test_empty_text_is_code_and_space() -> None:
    # RFC 4954 §4: the empty PLAIN challenge is "334 " (with the space).
    assert replies.AUTH_CONTINUE_EMPTY.encode() == b"334 \r\n"


def test_with_text_keeps_code_and_status() -> None:
    reply = replies.MESSAGE_ACCEPTED.with_text("OK: queued as 01ABC")

    assert (reply.code, reply.status, reply.text) == (250, "2.0.0", "OK: queued as 01ABC")
    assert reply.encode() == b"250 2.0.0 OK: queued as 01ABC\r\n"
    assert replies.MESSAGE_ACCEPTED.text == "OK: message accepted"  # the constant is untouched


def test_equality_ignores_the_cached_wire_form() -> None:
    fresh = Reply(503, "5.5.1", "Need MAIL command first")
    replies.NEED_MAIL.encode()

    assert fresh == replies.NEED_MAIL


def test_str_is_the_wire_form_without_crlf() -> None:
    assert str(replies.CLOSING) == "221 2.0.0 Bye"


@pytest.mark.parametrize("code", [199, 600, 0])
def test_code_outside_200_to_599_is_refused(code: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        Reply(code, None, "x")


@pytest.mark.parametrize(
    ("reply", "positive", "transient", "permanent"),
    [
        (replies.OK, True, False, False),
        (replies.START_MAIL_INPUT, True, False, False),
        (replies.LOCAL_ERROR, False, True, False),
        (replies.MAILBOX_UNAVAILABLE, False, False, True),
    ],
)
def test_reply_classes(reply: Reply, positive: bool, transient: bool, permanent: bool) -> None:
    assert (reply.is_positive, reply.is_transient, reply.is_permanent) == (
        positive,
        transient,
        permanent,
    )


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_constant_is_a_well_formed_reply(name: str) -> None:
    reply = ALL[name]
    wire = reply.encode()

    # RFC 3463 §2: the enhanced code's class matches the reply's (2, 4 or 5).
    if reply.status is not None:
        assert re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", reply.status)
        assert reply.status[0] == str(reply.code)[0]
    # RFC 5321 §4.2: CRLF-terminated lines only, §4.5.3.1.5: at most 512 octets each.
    lines = wire.split(b"\r\n")
    assert lines[-1] == b""
    for line in lines[:-1]:
        assert b"\r" not in line
        assert b"\n" not in line
        assert len(line) + 2 <= 512
        assert line.isascii()
