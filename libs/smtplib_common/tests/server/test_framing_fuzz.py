"""Properties of :class:`framing.DataFramer`, the DATA framer, as pure byte logic.

The framer is fed the way the server feeds it: bytes are appended to one
buffer as they arrive and ``feed`` is called once per arrival, consuming what
it can decide and leaving the rest in the buffer. The properties:

- where the network splits the bytes never matters: content, flags and the
  bytes left over are the same as when everything arrives at once;
- the data ends at the first ``CRLF . CRLF`` (counting the CRLF of the DATA
  command itself), never earlier and never later, and the bytes after it are
  left in the buffer for the command reader;
- content is the dot-unstuffed data (RFC 5321 §4.5.2), the final CRLF kept;
- a bare CR or LF anywhere is flagged; lines longer than the limit are flagged;
- past the size limit nothing is kept but scanning goes on to the real end.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from libs.smtplib_common.tests.fuzzing import fuzz_settings
from smtplib_common.server.framing import Content, DataFramer

END = b"\r\n.\r\n"
LIMIT = 40  # a small line limit, so generated lines cross it often


@dataclass(frozen=True)
class Outcome:
    done: bool
    content: bytes
    size: int
    too_big: bool
    bare_line_ending: bool
    line_too_long: bool
    rest: bytes  # what is left for the command reader


def run(pieces: Sequence[bytes], *, size_limit: int = 10**9, line_limit: int = LIMIT) -> Outcome:
    """Feed ``pieces`` one arrival at a time, as SMTPConnection.smtp_data does."""
    framer = DataFramer(Content(size_limit), line_limit)
    buf = bytearray()
    unread: list[bytes] = []
    for i, piece in enumerate(pieces):
        buf += piece
        framer.feed(buf)
        if framer.done:
            unread = list(pieces[i + 1 :])
            break
        # Streaming: nothing beyond a possible partial end marker is held back.
        assert len(buf) <= len(END)
    content = framer.content
    return Outcome(
        done=framer.done,
        content=content.join(),
        size=content.size,
        too_big=content.too_big,
        bare_line_ending=framer.bare_line_ending,
        line_too_long=framer.line_too_long,
        rest=bytes(buf) + b"".join(unread),
    )


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c for c in cuts if 0 < c < len(data))})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def stuff(content: bytes) -> bytes:
    """RFC 5321 §4.5.2, sender side: a line that starts with "." gets another."""
    if content.startswith(b"."):
        content = b"." + content
    return content.replace(b"\r\n.", b"\r\n..")


def unstuff(wire: bytes) -> bytes:
    if wire.startswith(b"."):
        wire = wire[1:]
    return wire.replace(b"\r\n.", b"\r\n")


def has_bare_line_ending(data: bytes) -> bool:
    crlf = data.count(b"\r\n")
    return data.count(b"\r") != crlf or data.count(b"\n") != crlf


def wire_lines(wire: bytes) -> list[bytes]:
    """The CRLF-terminated lines of ``wire`` as sent (stuffing dots included)."""
    return wire.split(b"\r\n")[:-1]


# Bytes rich in the characters that matter to framing.
_SPECIAL = st.sampled_from([b"\r", b"\n", b"\r\n", b".", b"..", b"\r\n.", b"\x00", b"a", b"\xff"])
_CHUNK = st.one_of(_SPECIAL, st.binary(max_size=2 * LIMIT))
RAW = st.lists(_CHUNK, max_size=30).map(b"".join)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """Message content as a client means it: empty, or ending with CRLF."""
    body = draw(RAW)
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body


CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)
TRAILER = st.sampled_from([b"", b"QUIT\r\n", b"MAIL FROM:<a@b>\r\n", b".\r\n", b"\r\n.\r\n"])


@pytest.mark.fuzz
@fuzz_settings(300)
@given(content=messages(), trailer=TRAILER, cuts=CUTS)
@example(content=b"", trailer=b"", cuts=[1, 2])
@example(content=b".\r\n", trailer=b"", cuts=[1, 2, 3, 4])
@example(content=b"a\r\n..\r\n", trailer=b"", cuts=[3, 4, 5])
def test_any_split_gives_the_content_flags_and_rest_of_one_piece(
    content: bytes, trailer: bytes, cuts: list[int]
) -> None:
    wire = stuff(content) + b".\r\n" + trailer
    whole = run([wire])
    pieces = run(split(wire, cuts))
    assert pieces == whole
    assert whole.done
    assert whole.content == content
    assert whole.rest == trailer
    assert whole.bare_line_ending == has_bare_line_ending(content)
    assert not whole.too_big
    assert whole.size == len(content)


@pytest.mark.fuzz
@fuzz_settings(300)
@given(content=messages(), cuts=CUTS)
def test_line_limit_flag_lies_between_the_rfc_count_and_the_wire_count(
    content: bytes, cuts: list[int]
) -> None:
    """A line over the limit is flagged however it is split.

    RFC 5321 §4.5.3.1.6 counts a line without its stuffing dot; the framer
    must flag every line whose content is over the limit and no line whose
    wire form (dot included) is within it. The exact edge is pinned by
    :func:`test_line_limit_does_not_count_the_stuffing_dot`.
    """
    wire = stuff(content)
    got = run(split(wire + b".\r\n", cuts))
    over_by_content = any(len(line) > LIMIT for line in wire_lines(content))
    over_on_the_wire = any(len(line) > LIMIT for line in wire_lines(wire))
    assert over_by_content <= got.line_too_long <= over_on_the_wire
    assert got == run([wire + b".\r\n"])


@pytest.mark.parametrize("length", [LIMIT - 1, LIMIT])
@pytest.mark.parametrize("where", ["first-line", "later-line"])
def test_line_limit_does_not_count_the_stuffing_dot(length: int, where: str) -> None:
    """RFC 5321 §4.5.3.1.6: a line's length is "not counting the leading dot
    duplicated for transparency". A line of exactly the limit that starts with
    "." is within the limit (BDAT, which has no stuffing, accepts it)."""
    line = b"." + b"x" * (length - 1)
    content = (b"" if where == "first-line" else b"hello\r\n") + line + b"\r\n"
    got = run([stuff(content) + b".\r\n"])
    assert got.done
    assert got.content == content
    assert not got.line_too_long


@pytest.mark.parametrize("length", [LIMIT, LIMIT + 1])
def test_line_of_the_limit_is_accepted_and_one_more_is_flagged(length: int) -> None:
    content = b"ok\r\n" + b"y" * length + b"\r\n"
    for pieces in ([content + b".\r\n"], [bytes([b]) for b in content + b".\r\n"]):
        got = run(pieces)
        assert got.done
        assert got.content == content
        assert got.line_too_long == (length > LIMIT)


@pytest.mark.fuzz
@fuzz_settings(300)
@given(raw=RAW, cuts=CUTS)
def test_end_is_the_first_crlf_dot_crlf(raw: bytes, cuts: list[int]) -> None:
    """For any bytes at all (markers, fake markers, bare CR/LF): the first
    CRLF.CRLF ends the data, counting the DATA command's own CRLF."""
    got = run(split(raw, cuts))
    assert got == run([raw])
    stream = b"\r\n" + raw  # the DATA command line ends just before the data
    end = stream.find(END)
    if end < 0:
        assert not got.done
        assert len(got.rest) <= len(END)
        return
    assert got.done
    message = raw[:end]  # through the CRLF before the dot
    assert got.content == unstuff(message)
    assert got.rest == raw[end + len(END) - 2 :]
    assert got.bare_line_ending == has_bare_line_ending(message)


def test_every_single_split_point_and_byte_by_byte() -> None:
    """Exhaustively, for a message full of edge cases."""
    content = (
        b".starts with a dot\r\n..two\r\n.\r\n\r\n"
        b"ends with dot.\r\n\x00.\r\n" + b"z" * (LIMIT + 1) + b"\r\n.\r\n"
    )
    wire = stuff(content) + b".\r\nNOOP\r\n"
    whole = run([wire])
    assert whole.done
    assert whole.content == content
    assert whole.rest == b"NOOP\r\n"
    assert whole.line_too_long
    assert not whole.bare_line_ending
    for cut in range(len(wire) + 1):
        assert run([wire[:cut], wire[cut:]]) == whole, f"split at {cut}"
    assert run([bytes([b]) for b in wire]) == whole


@pytest.mark.parametrize(
    ("fake_end", "bare"),
    [
        (b"\n.\n", True),
        (b"\n.\r\n", True),
        (b"\r.\r\n", True),
        (b"\r\n.\n", True),
        (b"\r\n.\r", True),
        (b"\r\n\x00.\r\n", False),
        (b".\r\n", False),
    ],
)
def test_fake_ends_do_not_end_the_data(fake_end: bytes, bare: bool) -> None:
    wire = b"hello" + fake_end + b"MAIL FROM:<m@evil.test>\r\n.\r\nQUIT\r\n"
    for cut in range(len(wire) + 1):
        got = run([wire[:cut], wire[cut:]])
        assert got.done
        assert got.rest == b"QUIT\r\n"
        assert got.content == unstuff(wire[: -len(b".\r\nQUIT\r\n")])
        assert got.bare_line_ending is bare


@pytest.mark.fuzz
@fuzz_settings(200)
@given(content=messages(), cuts=CUTS, limit=st.integers(min_value=0, max_value=200))
def test_size_limit_drops_content_but_scans_to_the_real_end(
    content: bytes, cuts: list[int], limit: int
) -> None:
    wire = stuff(content) + b".\r\nRSET\r\n"
    got = run(split(wire, cuts), size_limit=limit)
    assert got == run([wire], size_limit=limit)
    assert got.done
    assert got.rest == b"RSET\r\n"
    assert got.size == len(content)  # counted after unstuffing, always to the end
    assert got.too_big == (len(content) > limit)
    assert got.content == (b"" if got.too_big else content)
    assert got.bare_line_ending == has_bare_line_ending(content)


def test_too_big_empties_parts_at_once_and_keeps_them_empty() -> None:
    content = Content(10)
    content.add(b"0123456789")
    assert not content.too_big
    assert content.parts == [b"0123456789"]
    content.add(b"x")
    assert content.too_big
    assert content.parts == []
    assert content.size == 11
    content.add(b"more")
    assert content.parts == []
    assert content.size == 15
    assert content.join(b"Received: x\r\n") == b"Received: x\r\n"
