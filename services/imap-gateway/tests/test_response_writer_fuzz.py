"""Fuzz target of ResponseWriter's idea of where the output stands.

Whatever mix of response text and literals (whose octets may look like CRLF or a
literal's ``{n}``) goes out, and wherever a literal's source stops short,
``in_response`` and ``in_literal`` agree with a reader that parses the bytes
written: the session relies on them to decide between a tagged answer, a BYE after
a cut line, and closing in silence inside a literal.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imap_gateway.wire import encoder
from libs.smtplib_common.tests.fuzzing import fuzz_settings

pytestmark = pytest.mark.fuzz

_LITERAL_AT_END = re.compile(rb"\{(\d+)\}\r\n$")


class _Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        pass


class _Writes(_Sink):
    """Each write apart, as the transport is given them."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)


def reader_state(data: bytes) -> tuple[bool, bool]:
    """(in a response, in a literal) for a client that has read ``data``."""
    at, line_start = 0, 0
    while at < len(data):
        end = data.find(b"\r\n", at)
        if end < 0:
            return True, False
        found = _LITERAL_AT_END.search(data[line_start : end + 2])
        if found is None:
            at = line_start = end + 2
            continue
        after = end + 2 + int(found[1])
        if after > len(data):
            return True, True
        at = after  # the line goes on after the literal's octets
    return at != line_start, False


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


text = st.binary(max_size=12).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
literal = st.lists(st.binary(max_size=8), max_size=4)
step = st.one_of(
    st.tuples(st.just("line"), text),
    st.tuples(st.just("head"), text),
    st.tuples(st.just("literal"), literal, st.integers(0, 3)),
)


@fuzz_settings(300)
@given(st.lists(step, max_size=12))
async def test_writer_state_matches_a_reader_of_its_output(steps: list[tuple[Any, ...]]) -> None:
    sink = _Sink()
    writer = encoder.ResponseWriter(sink)  # type: ignore[arg-type]
    for kind, *args in steps:
        try:
            if kind == "line":
                writer.write(b"* " + args[0] + b"\r\n")
            elif kind == "head":
                writer.write(b"* 1 FETCH (" + args[0] + b" ")
            else:
                parts, missing = args
                size = sum(map(len, parts)) + missing
                await writer.stream_literal(size, _chunks(parts))
        except encoder.EncodingError:
            break  # text inside a cut literal, or the cut itself: nothing more goes out
        writer.flush()  # text is collected until a drain or a flush hands it over
        assert (writer.in_response, writer.in_literal) == reader_state(bytes(sink.data))
    writer.flush()
    assert (writer.in_response, writer.in_literal) == reader_state(bytes(sink.data))


async def test_text_goes_out_at_a_drain_in_one_write() -> None:
    sink = _Writes()
    writer = encoder.ResponseWriter(sink)  # type: ignore[arg-type]
    writer.write(b"* 1 FETCH (UID 1 ")
    writer.write(b"FLAGS ())\r\n")
    assert sink.writes == []
    await writer.drain()
    assert sink.writes == [b"* 1 FETCH (UID 1 FLAGS ())\r\n"]


async def test_a_literal_goes_out_chunk_by_chunk_after_its_head() -> None:
    sink = _Writes()
    writer = encoder.ResponseWriter(sink)  # type: ignore[arg-type]
    writer.write(b"* 1 FETCH (BODY[] ")
    await writer.stream_literal(4, _chunks([b"ab", b"cd"]))
    assert sink.writes == [b"* 1 FETCH (BODY[] {4}\r\nab", b"cd"]
