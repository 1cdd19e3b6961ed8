"""A message as a POP3 multi-line response (pop3.framing): byte-stuffing, the final
CRLF, TOP's cut, and chunk boundaries that change nothing."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from imap_gateway.pop3.framing import DotStuffer, stuffed
from libs.smtplib_common.tests.fuzzing import fuzz_settings

MESSAGE = b"Subject: dots\r\nFrom: a@b\r\n\r\n.starts with a dot\r\nplain\r\n..two\r\n.\r\nend\r\n"


def unstuff(response: bytes) -> bytes:
    """What a client reads back (RFC 1939 §3): the lines before ".", unstuffed."""
    assert response.endswith(b"\r\n.\r\n") or response == b".\r\n"
    lines = response[:-3].split(b"\r\n")[:-1]
    return b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines)


def test_lines_starting_with_a_dot_get_one_more() -> None:
    assert stuffed(MESSAGE) == (
        b"Subject: dots\r\nFrom: a@b\r\n\r\n..starts with a dot\r\nplain\r\n...two\r\n"
        b"..\r\nend\r\n.\r\n"
    )


def test_a_message_starting_with_a_dot_is_stuffed_on_its_first_line() -> None:
    assert stuffed(b".x\r\n") == b"..x\r\n.\r\n"


def test_a_message_without_a_final_newline_gets_a_crlf_before_the_terminator() -> None:
    assert stuffed(b"Subject: x\r\n\r\nno newline") == b"Subject: x\r\n\r\nno newline\r\n.\r\n"
    assert stuffed(b"Subject: x\r\n\r\n.") == b"Subject: x\r\n\r\n..\r\n.\r\n"


def test_an_empty_message_is_the_terminator_alone() -> None:
    assert stuffed(b"") == b".\r\n"


def test_eight_bit_octets_pass_untouched() -> None:
    body = bytes(range(128, 256)) + b"\r\n"
    assert (
        stuffed(b"Subject: \xc3\xa9\r\n\r\n" + body)
        == b"Subject: \xc3\xa9\r\n\r\n" + body + b".\r\n"
    )


def test_a_dot_after_a_bare_lf_is_stuffed_too() -> None:
    assert stuffed(b"a\n.\r\nb\r\n") == b"a\n..\r\nb\r\n.\r\n"


def test_top_0_is_the_header_and_the_blank_line() -> None:
    assert stuffed(MESSAGE, body_lines=0) == b"Subject: dots\r\nFrom: a@b\r\n\r\n.\r\n"


def test_top_k_adds_k_body_lines_stuffed() -> None:
    assert stuffed(MESSAGE, body_lines=2) == (
        b"Subject: dots\r\nFrom: a@b\r\n\r\n..starts with a dot\r\nplain\r\n.\r\n"
    )


def test_top_past_the_end_is_the_whole_message() -> None:
    assert stuffed(MESSAGE, body_lines=1000) == stuffed(MESSAGE)


def test_top_of_a_message_without_a_blank_line_is_all_of_it() -> None:
    assert stuffed(b"Subject: x\r\n.odd", body_lines=0) == b"Subject: x\r\n..odd\r\n.\r\n"


def test_top_says_when_it_has_enough_so_that_reading_stops() -> None:
    stuffer = DotStuffer(body_lines=1)
    stuffer.feed(b"Subject: x\r\n\r\nfirst\r\n")
    assert stuffer.done
    assert stuffer.feed(b"second\r\n") == b""


def test_twenty_mib_in_chunks_is_stuffed_chunk_by_chunk() -> None:
    line = b"." + b"x" * 76 + b"\r\n"
    message = b"Subject: big\r\n\r\n" + line * (20 * 1024 * 1024 // len(line))
    stuffer = DotStuffer()
    out = [stuffer.feed(message[i : i + 65536]) for i in range(0, len(message), 65536)]
    # No output chunk holds much more than its input chunk: nothing is accumulated.
    assert max(len(chunk) for chunk in out) < 65536 * 2
    assert b"".join(out) + stuffer.end() == stuffed(message)


@fuzz_settings(300)
@given(
    message=st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"\r\n")),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=6),
    body_lines=st.none() | st.integers(min_value=0, max_value=5),
)
def test_chunk_boundaries_change_nothing_and_clients_read_the_message_back(
    message: bytes, cuts: list[int], body_lines: int | None
) -> None:
    points = sorted({min(cut, len(message)) for cut in cuts} | {0, len(message)})
    stuffer = DotStuffer(body_lines=body_lines)
    out = b"".join(stuffer.feed(message[a:b]) for a, b in itertools.pairwise(points))
    response = out + stuffer.end()
    assert response == stuffed(message, body_lines=body_lines)
    # No line of the response but the last is a lone "." (a false end of message).
    assert b"\r\n.\r\n" not in response[:-3]
    assert not response[:-3].startswith(b".\r\n")
    if body_lines is None:
        expected = message if message.endswith(b"\r\n") or not message else message + b"\r\n"
        assert unstuff(response) == expected
