"""Sequence sets (RFC 9051 §9 sequence-set, RFC 5182 "$"): parse, normalise, test, encode.

A set is kept as written, a tuple of ``(first, last)`` ranges with :data:`STAR`
(0, which no nz-number can be) standing for ``*``, "the largest number in use".
``*`` only means something against a mailbox, so :meth:`SequenceSet.resolve`
takes that largest number (the message count for sequence numbers, the highest
UID for UIDs) and gives sorted, merged, ascending ranges; a range may be written
either way round (RFC 9051 §9: ``4:2`` is ``2:4``).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from imap_gateway.wire.cursor import Cursor, number
from imap_gateway.wire.errors import ParseError
from imap_gateway.wire.framing import RawCommand

STAR = 0

Range = tuple[int, int]


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """``ranges`` as written (``(n, n)`` for a single number), or ``saved`` for ``$``."""

    ranges: tuple[Range, ...] = ()
    # RFC 5182 §2.1: "$" is the result saved by the last SEARCH ... RETURN (SAVE).
    saved: bool = False

    @classmethod
    def parse(cls, text: bytes | str) -> SequenceSet:
        """The set written in ``text``; raises ParseError."""
        data = text.encode("ascii", "replace") if isinstance(text, str) else text
        if b"\r" in data or b"\n" in data:
            raise ParseError("sequence set expected")
        c = Cursor(RawCommand((data,)))
        value = parse_sequence_set(c)
        c.end()
        return value

    @classmethod
    def of(cls, numbers: Iterable[int]) -> SequenceSet:
        """The compact set of ``numbers`` (each >= 1): ``1,2,3,5`` becomes ``1:3,5``."""
        return cls(tuple(_merge((n, n) for n in numbers)))

    def resolve(self, largest: int) -> list[Range]:
        """Sorted, merged, ascending ranges with ``*`` as ``largest``; empty for ``$``."""
        return _merge(_ordered(r, largest) for r in self.ranges)

    def normalised(self) -> SequenceSet:
        """The same set with numeric ranges merged; ranges with ``*`` kept apart.

        Without the mailbox, ``5:*`` may mean ``3:5`` (RFC 9051 §9: when 5 is past the
        largest number), so it cannot be merged with anything.
        """
        if self.saved:
            return self
        plain = _merge(r if r[0] <= r[1] else (r[1], r[0]) for r in self.ranges if STAR not in r)
        starred = sorted({r if r[1] == STAR else (r[1], r[0]) for r in self.ranges if STAR in r})
        return SequenceSet(tuple(plain) + tuple(starred))

    def contains(self, n: int, largest: int) -> bool:
        """Whether ``n`` is in the set, ``*`` being ``largest``."""
        ranges = self.resolve(largest)
        i = bisect.bisect_right(ranges, (n, 2**64)) - 1
        return i >= 0 and ranges[i][0] <= n <= ranges[i][1]

    def select(self, numbers: Sequence[int]) -> list[int]:
        """The members of ``numbers`` (sorted ascending, e.g. a mailbox's UIDs) in the set.

        ``*`` is the last of ``numbers`` (RFC 9051 §6.4.9: the highest UID). Costs
        O(ranges x log(len(numbers))) plus the answer, not O(len(numbers)).
        """
        if not numbers:
            return []
        out: list[int] = []
        for first, last in self.resolve(numbers[-1]):
            lo = bisect.bisect_left(numbers, first)
            hi = bisect.bisect_right(numbers, last)
            out.extend(numbers[lo:hi])
        return out

    def numbers(self, largest: int) -> Iterator[int]:
        """Every number of the set, ascending (for small sets: a range may be huge)."""
        for first, last in self.resolve(largest):
            yield from range(first, last + 1)

    def __str__(self) -> str:
        if self.saved:
            return "$"
        return ",".join(_range_text(r) for r in self.ranges)

    def encode(self) -> bytes:
        return str(self).encode("ascii")


def parse_sequence_set(c: Cursor) -> SequenceSet:
    """``sequence-set`` (RFC 9051 §9) or ``$`` (RFC 5182 §2.1)."""
    if c.take(b"$"):
        return SequenceSet(saved=True)
    ranges = [_seq_range(c)]
    while c.take(b","):
        ranges.append(_seq_range(c))
    return SequenceSet(tuple(ranges))


def _seq_number(c: Cursor) -> int:
    if c.take(b"*"):
        return STAR
    if c.peek() < 0x30 or c.peek() > 0x39:
        raise c.error("sequence set")
    return number(c, nonzero=True)


def _seq_range(c: Cursor) -> Range:
    first = _seq_number(c)
    last = _seq_number(c) if c.take(b":") else first
    return (first, last)


def _ordered(r: Range, largest: int) -> Range:
    first = largest if r[0] == STAR else r[0]
    last = largest if r[1] == STAR else r[1]
    if first > last:
        first, last = last, first
    return (max(first, 1), max(last, 1))


def _merge(ranges: Iterable[Range]) -> list[Range]:
    out: list[Range] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + 1:
            if last > out[-1][1]:
                out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def _range_text(r: Range) -> str:
    first = "*" if r[0] == STAR else str(r[0])
    if r[0] == r[1]:
        return first
    return first + ":" + ("*" if r[1] == STAR else str(r[1]))
