"""DATA/BDAT framing as pure byte logic (framing.py), without sockets."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtplib_common.server.framing import (
    Content,
    DataFramer,
    LineEndings,
    count_received_headers,
)

LIMIT = 1 << 20


def frame(
    *pieces: bytes, line_limit: int = LIMIT, size_limit: int = LIMIT
) -> tuple[DataFramer, bytes]:
    """Feed ``pieces`` one after another as they would arrive; the framer and what is left."""
    framer = DataFramer(Content(size_limit), line_limit)
    buf = bytearray()
    for piece in pieces:
        buf += piece
        framer.feed(buf)
        if framer.done:
            break
    return framer, bytes(buf)


def bytewise(wire: bytes) -> list[bytes]:
    return [wire[i : i + 1] for i in range(len(wire))]


# --- finding the end ------------------------------------------------------------


def test_data_ends_at_crlf_dot_crlf_and_keeps_the_last_line_ending() -> None:
    framer, rest = frame(b"Subject: s\r\n\r\nbody\r\n.\r\n")

    assert framer.done
    assert framer.content.join() == b"Subject: s\r\n\r\nbody\r\n"
    assert rest == b""


def test_bytes_after_the_end_stay_in_the_buffer_for_the_next_command() -> None:
    framer, rest = frame(b"body\r\n.\r\nQUIT\r\n")

    assert framer.content.join() == b"body\r\n"
    assert rest == b"QUIT\r\n"


def test_a_lone_dot_right_after_data_is_an_empty_message() -> None:
    framer, rest = frame(b".\r\nNOOP\r\n")

    assert framer.done
    assert framer.content.join() == b""
    assert rest == b"NOOP\r\n"


@pytest.mark.parametrize(
    "fake_end",
    [b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\n.\n", b"\r\n.\r", b"\r\n. \r\n", b"\r\n..\r\n"],
    ids=repr,
)
def test_nothing_but_crlf_dot_crlf_ends_data(fake_end: bytes) -> None:
    framer, _ = frame(b"head" + fake_end + b"tail")

    assert not framer.done


@pytest.mark.parametrize("fake_end", [b"\n.\r\n", b"\r\n.\n", b"\r.\r\n"], ids=repr)
def test_fake_end_is_read_through_and_flagged_as_a_bare_line_ending(fake_end: bytes) -> None:
    framer, rest = frame(b"head" + fake_end + b"MAIL FROM:<x@y.test>\r\n.\r\nNOOP\r\n")

    assert framer.done
    assert framer.bare_line_ending
    assert rest == b"NOOP\r\n"


def test_end_marker_split_at_every_byte_is_still_found() -> None:
    wire = b"a\r\n..b\r\n.\r\nNEXT"

    framer, rest = frame(*bytewise(wire))

    assert framer.done
    assert framer.content.join() == b"a\r\n.b\r\n"
    assert not framer.bare_line_ending
    assert rest == b""  # the feeding stopped at the end; NEXT was never fed


def test_lone_dot_split_across_the_first_two_pieces_is_an_empty_message() -> None:
    framer, _ = frame(b".", b"\r", b"\n")

    assert framer.done
    assert framer.content.join() == b""


# --- dot-unstuffing (RFC 5321 §4.5.2) ----------------------------------------------


def test_leading_dots_lose_exactly_one_dot() -> None:
    framer, _ = frame(b"..one\r\n...two\r\n.x\r\nno.dot\r\n..\r\n.\r\n")

    assert framer.content.join() == b".one\r\n..two\r\nx\r\nno.dot\r\n.\r\n"


def test_unstuffing_is_the_same_whatever_the_piece_boundaries() -> None:
    wire = b"..a\r\n..\r\n...b\r\nc.\r\n.d\r\n.\r\n"
    whole, _ = frame(wire)

    for cut in range(1, len(wire)):
        split, _ = frame(wire[:cut], wire[cut:])
        assert split.content.join() == whole.content.join(), cut
    assert frame(*bytewise(wire))[0].content.join() == whole.content.join()


def test_dot_after_a_bare_lf_is_not_unstuffed() -> None:
    # A bare LF does not start a line, so the dot after it is content.
    framer, _ = frame(b"a\n..b\r\n.\r\n")

    assert framer.content.join() == b"a\n..b\r\n"
    assert framer.bare_line_ending


# --- line endings and lengths ----------------------------------------------------------


@pytest.mark.parametrize("body", [b"a\nb\r\n", b"a\rb\r\n", b"a\r\r\n", b"a\r\n\nb\r\n"], ids=repr)
def test_bare_cr_or_lf_is_flagged(body: bytes) -> None:
    framer, _ = frame(body + b".\r\n")

    assert framer.done
    assert framer.bare_line_ending


def test_crlf_only_data_is_not_flagged() -> None:
    framer, _ = frame(*bytewise(b"a\r\n\r\nb\r\n.\r\n"))

    assert not framer.bare_line_ending


@pytest.mark.parametrize(
    ("body", "too_long"),
    [
        (b"x" * 10 + b"\r\n", False),
        (b"x" * 11 + b"\r\n", True),
        (b"ok\r\n" + b"x" * 11 + b"\r\nok\r\n", True),
        (b"ok\r\n" * 50 + b"x" * 11 + b"\r\n" + b"ok\r\n" * 50, True),
        (b"ok\r\n" * 50 + b"x" * 10 + b"\r\n" + b"ok\r\n" * 50, False),
    ],
)
def test_line_limit_counts_octets_without_crlf(body: bytes, too_long: bool) -> None:
    whole, _ = frame(body + b".\r\n", line_limit=10)
    bytes_apart, _ = frame(*bytewise(body + b".\r\n"), line_limit=10)

    assert whole.line_too_long is too_long
    assert bytes_apart.line_too_long is too_long


def test_line_longer_than_the_limit_across_pieces_is_flagged() -> None:
    framer, _ = frame(b"ok\r\nxxxxxx", b"xxxxxx", b"\r\n.\r\n", line_limit=10)

    assert framer.line_too_long


# --- size ------------------------------------------------------------------------------


def test_content_beyond_the_limit_is_dropped_but_counted() -> None:
    content = Content(limit=10)

    content.add(b"12345")
    content.add(b"678901")
    content.add(b"more")

    assert content.too_big
    assert content.size == 15
    assert content.parts == []  # memory is released, not kept growing


def test_content_at_the_limit_is_kept() -> None:
    content = Content(limit=10)

    content.add(b"12345")
    content.add(b"67890")

    assert not content.too_big
    assert content.join(b"Received: x\r\n") == b"Received: x\r\n1234567890"


def test_oversized_data_is_still_read_to_its_end() -> None:
    framer, rest = frame(b"x" * 100 + b"\r\n", b"QUIT\r\n.\r\nNOOP\r\n", size_limit=50)

    assert framer.done
    assert framer.content.too_big
    assert rest == b"NOOP\r\n"


# --- Received: counting (RFC 5321 §6.3) -----------------------------------------------------


@pytest.mark.parametrize(
    ("message", "count"),
    [
        (b"Received: a\r\nreceived: b\r\nRECEIVED: c\r\nSubject: s\r\n\r\nbody\r\n", 3),
        (b"Subject: s\r\nReceived: a\r\n\tfolded\r\n\r\nReceived: in body\r\n", 1),
        (b"Subject: s\r\nX-Received: a\r\n\r\n", 0),
        (b"Received: a\r\nReceived: b\r\n", 2),  # no body at all
    ],
)
def test_received_headers_are_counted_in_the_header_section_only(
    message: bytes, count: int
) -> None:
    assert count_received_headers(message, stop_after=50) == count


def test_received_count_stops_one_past_the_limit() -> None:
    message = b"Received: x\r\n" * 1000 + b"\r\n"

    assert count_received_headers(message, stop_after=5) == 6


# --- the round trip, for any content ---------------------------------------------------------


def dot_stuff(lines: list[bytes]) -> bytes:
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)


line = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@given(lines=st.lists(line, max_size=30), cuts=st.lists(st.integers(0, 2000), max_size=8))
def test_any_stuffed_message_comes_back_unchanged_however_it_is_split(
    lines: list[bytes], cuts: list[int]
) -> None:
    original = b"".join(line + b"\r\n" for line in lines)
    wire = dot_stuff(lines) + b".\r\n"
    bounds = sorted({0, len(wire), *(c % (len(wire) + 1) for c in cuts)})
    pieces = [wire[a:b] for a, b in itertools.pairwise(bounds)]

    framer, rest = frame(*pieces)

    assert framer.done
    assert framer.content.join() == original
    assert not framer.bare_line_ending
    assert rest == b""


# --- LineEndings (BDAT) --------------------------------------------------


def endings_of(*pieces: bytes) -> bool:
    check = LineEndings()
    for piece in pieces:
        check.feed(piece)
    check.finish()
    return check.bare


def has_bare(stream: bytes) -> bool:
    crlf = stream.count(b"\r\n")
    return stream.count(b"\r") != crlf or stream.count(b"\n") != crlf


@given(
    stream=st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"."]), max_size=30).map(
        b"".join
    ),
    cuts=st.lists(st.integers(0, 200), max_size=8),
)
def test_bdat_line_endings_are_judged_on_the_whole_stream_however_it_is_chunked(
    stream: bytes, cuts: list[int]
) -> None:
    bounds = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    pieces = [stream[a:b] for a, b in itertools.pairwise(bounds)]

    assert endings_of(*pieces) == has_bare(stream)


def test_a_cr_waiting_for_its_lf_is_bare_only_if_the_stream_ends_there() -> None:
    check = LineEndings()
    check.feed(b"line\r")
    assert not check.bare
    check.feed(b"")
    check.feed(b"\nnext\r\n")
    check.finish()
    assert not check.bare
    assert endings_of(b"line\r")
