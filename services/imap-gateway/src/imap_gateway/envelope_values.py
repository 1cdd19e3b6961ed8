"""An ENVELOPE as IMAP writes it (RFC 9051 §7.5.2, §9 ``envelope``), read back into values. Pure.

SORT and THREAD key on the envelope's fields (RFC 5256 §3: "[IMAP]
addr-mailbox of the first From address", ...), so they read the same
envelope FETCH ENVELOPE sends, whichever backend made it. Strings stay octets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Address", "Envelope", "EnvelopeSyntaxError", "parse_envelope"]

_LITERAL = re.compile(rb"~?\{([0-9]+)\+?\}\r\n")
_ATOM = re.compile(rb"[^\s()\"{]+")

Value = bytes | None | list["Value"]


class EnvelopeSyntaxError(ValueError):
    """Bytes that are not an ``envelope`` (a backend's bug)."""


@dataclass(frozen=True, slots=True)
class Address:
    """``address``: a group's start has no host, its end no mailbox either (RFC 9051 §7.5.2)."""

    name: bytes | None
    adl: bytes | None
    mailbox: bytes | None
    host: bytes | None


@dataclass(frozen=True, slots=True)
class Envelope:
    date: bytes | None = None
    subject: bytes | None = None
    from_: tuple[Address, ...] = ()
    sender: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    in_reply_to: bytes | None = None
    message_id: bytes | None = None


def parse_envelope(data: bytes) -> Envelope:
    value, end = _value(data, 0)
    if end != len(data) or not isinstance(value, list) or len(value) != 10:
        raise EnvelopeSyntaxError(f"not an envelope: {data[:60]!r}")
    date, subject, *lists, in_reply_to, message_id = value
    from_, sender, reply_to, to, cc, bcc = (_addresses(item) for item in lists)
    return Envelope(
        _string(date),
        _string(subject),
        from_,
        sender,
        reply_to,
        to,
        cc,
        bcc,
        _string(in_reply_to),
        _string(message_id),
    )


def _string(value: Value) -> bytes | None:
    if isinstance(value, list):
        raise EnvelopeSyntaxError("a list where a string belongs")
    return value


def _addresses(value: Value) -> tuple[Address, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise EnvelopeSyntaxError("an address list expected")
    out = []
    for item in value:
        if not isinstance(item, list) or len(item) != 4:
            raise EnvelopeSyntaxError("an address has four fields")
        out.append(Address(*(_string(field) for field in item)))
    return tuple(out)


def _value(data: bytes, pos: int) -> tuple[Value, int]:
    head = data[pos : pos + 1]
    if head == b"(":
        items: list[Value] = []
        pos += 1
        while data[pos : pos + 1] != b")":
            if pos >= len(data):
                raise EnvelopeSyntaxError("a list is not closed")
            item, pos = _value(data, pos)
            items.append(item)
            if data[pos : pos + 1] == b" ":
                pos += 1
        return items, pos + 1
    if head == b'"':
        out = bytearray()
        pos += 1
        while data[pos : pos + 1] != b'"':
            if pos >= len(data):
                raise EnvelopeSyntaxError("a quoted string is not closed")
            if data[pos : pos + 1] == b"\\":
                pos += 1
            out += data[pos : pos + 1]
            pos += 1
        return bytes(out), pos + 1
    literal = _LITERAL.match(data, pos)
    if literal is not None:
        start = literal.end()
        end = start + int(literal.group(1))
        return data[start:end], end
    atom = _ATOM.match(data, pos)
    if atom is None or atom.group().upper() != b"NIL":
        raise EnvelopeSyntaxError(f"unexpected {data[pos : pos + 20]!r}")
    return None, atom.end()
