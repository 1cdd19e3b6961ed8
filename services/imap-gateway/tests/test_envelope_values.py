"""ENVELOPE bytes read back into values (what SORT and THREAD key on)."""

from __future__ import annotations

import pytest

from imap_gateway import structure
from imap_gateway.envelope_values import Address, EnvelopeSyntaxError, parse_envelope


def test_what_structure_writes_is_read_back() -> None:
    description = {
        "date": "Mon, 7 Dec 2026 10:00:00 +0000",
        "subject": 'a "quoted" \\ subject',
        "from": [["Bob", None, "bob", "example.org"]],
        "sender": None,
        "reply_to": None,
        "to": [[None, None, "team", None], [None, None, "ann", "x"], [None, None, None, None]],
        "cc": None,
        "bcc": None,
        "in_reply_to": None,
        "message_id": "<1@x>",
    }

    envelope = parse_envelope(structure.envelope(description))

    assert envelope.date == b"Mon, 7 Dec 2026 10:00:00 +0000"
    assert envelope.subject == b'a "quoted" \\ subject'
    assert envelope.from_ == (Address(b"Bob", None, b"bob", b"example.org"),)
    assert envelope.to[0] == Address(None, None, b"team", None)  # a group's start
    assert len(envelope.to) == 3
    assert envelope.cc == envelope.sender == ()
    assert (envelope.in_reply_to, envelope.message_id) == (None, b"<1@x>")


def test_literals_are_read() -> None:
    envelope = parse_envelope(b'({5}\r\na\r\nb) "s" NIL NIL NIL NIL NIL NIL NIL nil)')

    assert (envelope.date, envelope.subject) == (b"a\r\nb)", b"s")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"NIL",
        b"(NIL NIL)",
        b'("a" NIL NIL NIL NIL NIL NIL NIL NIL NIL',
        b"(x " + b"NIL " * 9 + b")",
    ],
)
def test_anything_else_is_a_syntax_error(data: bytes) -> None:
    with pytest.raises(EnvelopeSyntaxError):
        parse_envelope(data)
