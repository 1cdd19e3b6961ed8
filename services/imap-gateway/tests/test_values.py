"""Mailbox names, sequence sets and the value encoders, with their round-trip properties."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imap_gateway.wire import codes, encoder
from imap_gateway.wire.cursor import Cursor, astring, nstring, string
from imap_gateway.wire.dates import parse_date_time
from imap_gateway.wire.errors import LiteralTooBig
from imap_gateway.wire.framing import RawCommand
from imap_gateway.wire.mailbox_names import decode_mailbox, decode_mutf7, encode_mutf7
from imap_gateway.wire.sequence import STAR, SequenceSet
from libs.smtplib_common.tests.fuzzing import fuzz_settings

# --- mailbox names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "name"),
    [
        # RFC 3501 §5.1.3's example.
        (b"~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語"),
        (b"&-", "&"),
        (b"Entw&APw-rfe", "Entwürfe"),
        (b"&2D3eAA-", "😀"),
        (b"plain", "plain"),
    ],
)
def test_modified_utf7(wire: bytes, name: str) -> None:
    assert decode_mutf7(wire) == name
    assert encode_mutf7(name) == wire


@pytest.mark.parametrize(
    "wire",
    [b"&AGE-", b"&U,BTFw-&ZeVnLIqe-", b"&abc", b"&U,BTF-", b"&2D0-", "é".encode(), b"&==-"],
)
def test_non_canonical_modified_utf7_is_refused(wire: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        decode_mutf7(wire)


def test_inbox_is_case_insensitive() -> None:
    assert decode_mailbox(b"inbox", utf8=False) == "INBOX"
    assert decode_mailbox(b"InBox", utf8=True) == "INBOX"
    assert decode_mailbox(b"inbox/x", utf8=False) == "inbox/x"


def test_control_characters_are_refused_in_names() -> None:
    with pytest.raises(ValueError, match="control"):
        decode_mailbox("a\x85b".encode(), utf8=True)


@pytest.mark.fuzz
@fuzz_settings(300)
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=30))
def test_modified_utf7_round_trip(name: str) -> None:
    wire = encode_mutf7(name)
    assert wire.isascii()
    assert decode_mutf7(wire) == name


# --- sequence sets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "largest", "ranges"),
    [
        ("1:*", 10, [(1, 10)]),
        ("*", 10, [(10, 10)]),
        ("4:2", 10, [(2, 4)]),
        ("15:*", 10, [(10, 15)]),  # RFC 9051 §9: n:* with n past the largest
        ("1,2,3,5,4", 10, [(1, 5)]),
        ("3:5,1:2,9", 10, [(1, 5), (9, 9)]),
    ],
)
def test_resolve(text: str, largest: int, ranges: list[tuple[int, int]]) -> None:
    assert SequenceSet.parse(text).resolve(largest) == ranges


def test_saved_result_and_compact_form() -> None:
    assert SequenceSet.parse("$") == SequenceSet(saved=True)
    assert str(SequenceSet.of([5, 1, 2, 3, 9, 10])) == "1:3,5,9:10"
    assert SequenceSet.parse("7:*").ranges == ((7, STAR),)


def test_select_uids_by_bisection() -> None:
    uids = [2, 4, 8, 16, 32]
    assert SequenceSet.parse("3:16,*").select(uids) == [4, 8, 16, 32]
    assert SequenceSet.parse("1:*").select([]) == []


# Ranges as written, 0 standing for "*" (sequence.STAR).
_SETS = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1, max_size=8).map(
    lambda ranges: SequenceSet(tuple(ranges))
)


@pytest.mark.fuzz
@fuzz_settings(300)
@given(_SETS, st.integers(0, 70))
def test_sequence_set_properties(value: SequenceSet, largest: int) -> None:
    members = {n for n in range(1, 200) if value.contains(n, largest)}
    # resolve, contains, numbers and select agree; ranges are sorted and disjoint.
    assert set(value.numbers(largest)) == members
    if largest:
        assert value.select(range(1, largest + 1)) == sorted(m for m in members if m <= largest)
    ranges = value.resolve(largest)
    assert all(a <= b for a, b in ranges)
    assert all(ranges[i][1] + 1 < ranges[i + 1][0] for i in range(len(ranges) - 1))
    assert SequenceSet.of(members).resolve(largest) == ranges
    # Normalising never changes the members; printing and parsing back is the identity.
    normal = value.normalised()
    assert {n for n in range(1, 200) if normal.contains(n, largest)} == members
    assert SequenceSet.parse(str(value)) == value


# --- encoder ------------------------------------------------------------------------------------


def decode_value(wire: bytes, combinator: str) -> bytes | None:
    """Parse ``wire`` back with the named cursor combinator (through the real framer)."""
    raw = RawCommand.frame(wire + b"\r\n")
    c = Cursor(raw)
    value = {"string": string, "astring": astring, "nstring": nstring}[combinator](c)
    c.end()
    return value


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (b"abc", b'"abc"'),
        (b'a"b\\c', b'"a\\"b\\\\c"'),
        (b"two\r\nlines", b"{10}\r\ntwo\r\nlines"),
        (b"nul\x00", b"~{4}\r\nnul\x00"),
        ("ü".encode(), '"ü"'.encode()),
        (b"x" * 1025, b"{1025}\r\n" + b"x" * 1025),
    ],
)
def test_string_chooses_quoted_or_literal(value: bytes, wire: bytes) -> None:
    assert encoder.string(value) == wire


def test_8bit_goes_as_literal_to_a_client_without_utf8() -> None:
    assert encoder.string("ü", utf8=False) == b"{2}\r\n" + "ü".encode()


def test_astring_atom_unless_nil() -> None:
    assert encoder.astring("INBOX") == b"INBOX"
    assert encoder.astring("NIL") == b'"NIL"'
    assert encoder.astring("") == b'""'
    assert encoder.nstring(None) == b"NIL"


def test_status_lines() -> None:
    assert (
        encoder.status_line("a1", codes.NO, "too big", codes.TOOBIG)
        == b"a1 NO [TOOBIG] too big\r\n"
    )
    assert encoder.status_line(None, codes.OK, "x", codes.UIDNEXT, b"4392") == (
        b"* OK [UIDNEXT 4392] x\r\n"
    )
    assert encoder.status_line("a", codes.BAD, "bad\r\n* injected") == b"a BAD bad  * injected\r\n"
    assert encoder.untagged(b"5", b"EXISTS") == b"* 5 EXISTS\r\n"
    assert encoder.continuation() == b"+ Ready for literal data\r\n"


def test_response_for_a_wire_error() -> None:
    error = LiteralTooBig("literal too big", tag="a1", status=codes.NO)
    assert encoder.response_for(error).encode() == b"a1 NO [TOOBIG] literal too big\r\n"


def test_flag_list_and_date_time_round_trip() -> None:
    assert encoder.flag_list(["\\Seen", "$Junk"]) == b"(\\Seen $Junk)"
    when = dt.datetime(2024, 7, 4, 9, 5, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    wire = encoder.date_time(when)
    assert wire == b'" 4-Jul-2024 09:05:00 +0200"'
    assert parse_date_time(Cursor(RawCommand((wire,)))) == when


@pytest.mark.fuzz
@fuzz_settings(300)
@given(st.binary(max_size=2000), st.sampled_from(["string", "astring", "nstring"]))
def test_encoded_values_parse_back(value: bytes, combinator: str) -> None:
    if b"\x00" in value:  # literal8 is for APPEND data only; strings refuse it
        value = value.replace(b"\x00", b"")
    encode = {"string": encoder.string, "astring": encoder.astring, "nstring": encoder.nstring}
    assert decode_value(encode[combinator](value), combinator) == value


class _Sink:
    """Stands in for an asyncio.StreamWriter: collects writes, counts drains."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.drains = 0

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        self.drains += 1


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


async def test_stream_literal_sends_chunks_with_flow_control() -> None:
    sink = _Sink()
    writer = encoder.ResponseWriter(sink)  # type: ignore[arg-type]
    await writer.stream_literal(6, _chunks(b"abc", b"def"))
    assert bytes(sink.data) == b"{6}\r\nabcdef"
    assert sink.drains == 2


async def test_the_bytes_out_count_is_what_reached_the_transport_once_per_flush() -> None:
    counted: list[int] = []
    sink = _Sink()
    writer = encoder.ResponseWriter(sink, on_write=counted.append)  # type: ignore[arg-type]
    for n in range(1, 51):
        writer.untagged(b"%d FETCH (FLAGS ())" % n)
    assert counted == []  # collected, not sent yet

    await writer.drain()
    await writer.stream_literal(6, _chunks(b"abc", b"def"))

    assert sum(counted) == len(sink.data)
    assert len(counted) == 3  # the 50 lines together, then each chunk with its drain


async def test_stream_literal_refuses_a_source_of_the_wrong_size() -> None:
    writer = encoder.ResponseWriter(_Sink())  # type: ignore[arg-type]
    with pytest.raises(encoder.EncodingError, match="5 of the 6"):
        await writer.stream_literal(6, _chunks(b"abc", b"de"))
    writer = encoder.ResponseWriter(_Sink())  # type: ignore[arg-type]
    with pytest.raises(encoder.EncodingError, match="more than"):
        await writer.stream_literal(2, _chunks(b"abc"))


async def test_a_response_is_open_from_its_head_to_its_crlf() -> None:
    writer = encoder.ResponseWriter(_Sink())  # type: ignore[arg-type]
    writer.write(b"* 1 FETCH (BODY[] ")
    assert writer.in_response
    await writer.stream_literal(3, _chunks(b"abc"))
    assert writer.in_response
    assert not writer.in_literal
    writer.write(b")\r\n")
    assert not writer.in_response


async def test_nothing_is_written_inside_a_cut_literal() -> None:
    sink = _Sink()
    writer = encoder.ResponseWriter(sink)  # type: ignore[arg-type]
    with pytest.raises(encoder.EncodingError):
        await writer.stream_literal(6, _chunks(b"abc"))
    assert writer.in_literal
    assert not writer.abandon()
    with pytest.raises(encoder.EncodingError, match="inside a literal"):
        writer.write(b"* BYE\r\n")
    assert bytes(sink.data) == b"{6}\r\nabc"


def test_abandon_ends_an_open_line_so_a_bye_can_follow() -> None:
    sink = _Sink()
    writer = encoder.ResponseWriter(sink)  # type: ignore[arg-type]
    writer.write(b"* 2 FETCH (UID 7 ")
    assert writer.abandon()
    assert not writer.in_response
    writer.flush()
    assert bytes(sink.data) == b"* 2 FETCH (UID 7 \r\n"
