"""The framer as pure byte logic: limits, refusals and recovery, and fuzzed splits.

Properties fuzzed:

- where the network splits the bytes never matters: the same commands and errors
  come out as when everything arrives at once;
- on arbitrary bytes the framer raises only its own FramingError types;
- the framer never holds more than a line plus one read chunk beyond what a
  command's literals need.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imap_gateway.wire import codes
from imap_gateway.wire.errors import (
    CommandTooLong,
    DiscardTooLong,
    FramingError,
    LineTooLong,
    LiteralTooBig,
    NonSyncLiteralTooBig,
    Recovery,
)
from imap_gateway.wire.framing import (
    Announcement,
    CommandFramer,
    RawCommand,
    Wait,
    announcement,
    command_tag,
)
from imap_gateway.wire.limits import WireLimits
from libs.smtplib_common.tests.fuzzing import fuzz_settings

SMALL = WireLimits(
    max_line_length=8192,
    max_literal_size=10_000,
    max_command_size=20_000,
    max_discard=15_000,
    read_chunk=512,
)

Outcome = RawCommand | tuple[str, str | None, str, str | None, Recovery]


def run(pieces: Sequence[bytes], limits: WireLimits = SMALL) -> list[Outcome]:
    """Feed ``pieces`` one arrival at a time; continue every literal; collect results."""
    framer = CommandFramer(limits)
    out: list[Outcome] = []
    for piece in pieces:
        framer.feed(piece)
        while True:
            try:
                event = framer.next()
            except FramingError as error:
                out.append(
                    (type(error).__name__, error.tag, error.status, error.code, error.recovery)
                )
                if error.recovery is Recovery.CLOSE:
                    return out
                continue
            if event is Wait.CONTINUATION:
                framer.continuation_sent()
                continue
            if event is Wait.DATA:
                break
            out.append(event)
        # Memory: a partial line, or a literal, plus what one read may bring.
        assert len(framer._buf) <= limits.max_line_length + 2 + max(len(piece), 1)
    return out


def test_command_without_literal() -> None:
    assert run([b"a1 NOOP\r\n"]) == [RawCommand((b"a1 NOOP",))]


def test_pipelined_commands_come_out_in_order() -> None:
    assert run([b"a1 NOOP\r\na2 CAPABILITY\r\n"]) == [
        RawCommand((b"a1 NOOP",)),
        RawCommand((b"a2 CAPABILITY",)),
    ]


def test_crlf_split_between_arrivals() -> None:
    assert run([b"a1 NOOP\r", b"\n"]) == [RawCommand((b"a1 NOOP",))]


def test_empty_literal() -> None:
    assert run([b"a1 LOGIN {0}\r\n {0+}\r\n\r\n"]) == [
        RawCommand((b"a1 LOGIN {0}", b" {0+}", b""), (b"", b""))
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"a {5}", Announcement(5, sync=True, binary=False)),
        (b"a {5+}", Announcement(5, sync=False, binary=False)),
        (b"a ~{5}", Announcement(5, sync=True, binary=True)),
        (b"a ~{5+}", Announcement(5, sync=False, binary=True)),
        (b"a {" + b"9" * 20 + b"}", Announcement(-1, sync=True, binary=False)),
        (b"a {9223372036854775808}", Announcement(-1, sync=True, binary=False)),
        (b"a {x}", None),
        (b"a {5", None),
        (b"a {+5}", None),
        (b"a }", None),
    ],
)
def test_announcement(line: bytes, expected: Announcement | None) -> None:
    assert announcement(line) == expected


@pytest.mark.parametrize(
    ("line", "tag"),
    [(b"a1 NOOP", "a1"), (b"A.b]c NOOP", "A.b]c"), (b"a+1 NOOP", None), (b"* NOOP", None)],
)
def test_command_tag(line: bytes, tag: str | None) -> None:
    assert command_tag(line) == tag


def test_line_too_long_before_crlf_is_answered_early() -> None:
    framer = CommandFramer(SMALL)
    framer.feed(b"t1 NOOP " + b"x" * 9000)
    with pytest.raises(LineTooLong) as info:
        framer.next()
    assert (info.value.tag, info.value.recovery) == ("t1", Recovery.NEXT_COMMAND)
    framer.feed(b"x" * 100 + b"\r\nt2 NOOP\r\n")
    assert framer.next() == RawCommand((b"t2 NOOP",))


def test_long_line_ending_in_cr_keeps_the_cr_for_its_lf() -> None:
    assert run([b"t1 X " + b"x" * 9000 + b"\r", b"\nt2 NOOP\r\n"]) == [
        ("LineTooLong", "t1", codes.BAD, None, Recovery.NEXT_COMMAND),
        RawCommand((b"t2 NOOP",)),
    ]


def test_dropped_line_that_announces_literal_plus_drops_it_too() -> None:
    assert run([b"t1 X " + b"x" * 9000 + b" {5+}\r\nabcde\r\nt2 NOOP\r\n"]) == [
        ("LineTooLong", "t1", codes.BAD, None, Recovery.NEXT_COMMAND),
        RawCommand((b"t2 NOOP",)),
    ]


def test_dropped_line_with_synchronizing_literal_ends_the_command() -> None:
    # The client got the tagged BAD instead of "+", so it sends no literal.
    assert run([b"t1 X " + b"x" * 9000 + b" {5}\r\nt2 NOOP\r\n"]) == [
        ("LineTooLong", "t1", codes.BAD, None, Recovery.NEXT_COMMAND),
        RawCommand((b"t2 NOOP",)),
    ]


def test_dropped_rest_with_huge_literal_closes() -> None:
    line = b"t1 X " + b"x" * 9000 + b" {20000+}\r\n"
    assert (
        run([line])
        == run([line[:8500], line[8500:]])
        == [
            ("LineTooLong", "t1", codes.BAD, None, Recovery.NEXT_COMMAND),
            ("DiscardTooLong", None, codes.BYE, None, Recovery.CLOSE),
        ]
    )


def test_append_literal_over_limit_is_no_toobig() -> None:
    assert run([b"t1 APPEND INBOX {10001}\r\nt2 NOOP\r\n"]) == [
        ("LiteralTooBig", "t1", codes.NO, codes.TOOBIG, Recovery.NEXT_COMMAND),
        RawCommand((b"t2 NOOP",)),
    ]


def test_other_literal_over_limit_is_bad_toobig() -> None:
    assert run([b"t1 LOGIN {10001}\r\n"]) == [
        ("LiteralTooBig", "t1", codes.BAD, codes.TOOBIG, Recovery.NEXT_COMMAND)
    ]


def test_literal_minus_is_bad_even_in_append() -> None:
    # RFC 7888 §4 asks for BAD [TOOBIG] here; the literal is dropped.
    assert run([b"t1 APPEND INBOX {5000+}\r\n" + b"m" * 5000 + b"\r\nt2 NOOP\r\n"]) == [
        ("NonSyncLiteralTooBig", "t1", codes.BAD, codes.TOOBIG, Recovery.NEXT_COMMAND),
        RawCommand((b"t2 NOOP",)),
    ]


def test_literal_plus_without_literal_minus_limit() -> None:
    limits = WireLimits(max_nonsync_literal=None, max_literal_size=10_000)
    [command] = run([b"t1 APPEND INBOX {5000+}\r\n" + b"m" * 5000 + b"\r\n"], limits)
    assert isinstance(command, RawCommand)
    assert command.literals == (b"m" * 5000,)


def test_command_over_total_size_is_refused_at_the_literal_that_crosses() -> None:
    head = b"t1 APPEND INBOX"
    messages = [b" {9000}\r\n" + b"a" * 9000] * 2
    out = run([head + b"".join(messages) + b" {9000}\r\n"])
    assert out == [("CommandTooLong", "t1", codes.NO, codes.TOOBIG, Recovery.NEXT_COMMAND)]


def test_many_empty_literals_cannot_grow_a_command_forever() -> None:
    out = run([b"t1 X" + b" {0+}\r\n" * 5000 + b"\r\n"])
    assert out[0][0] == "CommandTooLong"


def test_refusals_are_literal_too_big_subclasses() -> None:
    assert issubclass(NonSyncLiteralTooBig, LiteralTooBig)
    assert issubclass(CommandTooLong, LiteralTooBig)
    assert DiscardTooLong.status == codes.BYE


def test_frame_helper_needs_the_whole_command() -> None:
    with pytest.raises(ValueError, match="ends before"):
        RawCommand.frame(b"a1 LOGIN {3}\r\nbo")


# --- fuzzing ------------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        *(b"a1 ", b"NOOP", b"APPEND", b" ", b"\r\n", b"\r", b"\n", b"{3}", b"{3+}", b"~{2}"),
        *(b"{5000+}", b"{10001}", b"{20000+}", b"abc", b"x" * 3000, b"(", b")"),
    ]
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a] or [b""]


@pytest.mark.fuzz
@fuzz_settings(200)
@given(st.lists(_PIECES, max_size=40), st.lists(st.integers(0, 10**6), max_size=8))
def test_splitting_never_changes_the_outcome(pieces: list[bytes], cuts: list[int]) -> None:
    data = b"".join(pieces)
    assert run(_split(data, cuts)) == run([data])


@pytest.mark.fuzz
@fuzz_settings(200)
@given(st.binary(max_size=3000), st.lists(st.integers(0, 10**6), max_size=4))
def test_arbitrary_bytes_raise_only_framing_errors(data: bytes, cuts: list[int]) -> None:
    run(_split(data, cuts))  # any other exception fails the test
