"""SORT's order (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO) on hand-made messages."""

from __future__ import annotations

import datetime as dt
import email.utils

import pytest

from imap_gateway.envelope_values import Address, Envelope
from imap_gateway.sorting import SortMessage, address_mailbox, display_name, sent_date, sort
from imap_gateway.wire.search import SortCriterion

ARRIVED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def addresses(value: str | None) -> tuple[Address, ...]:
    """``"Name <box@host>, box@host"`` as envelope addresses."""
    if value is None:
        return ()
    out = []
    for name, spec in email.utils.getaddresses([value]):
        box, _, host = spec.partition("@")
        out.append(Address(name.encode() or None, None, box.encode(), host.encode() or None))
    return tuple(out)


def message(seq: int, *, size: int = 100, arrived: int = 0, **fields: str) -> SortMessage:
    def text(name: str) -> bytes | None:
        value = fields.get(name)
        return None if value is None else value.encode()

    envelope = Envelope(
        date=text("Date"),
        subject=text("Subject"),
        from_=addresses(fields.get("From")),
        to=addresses(fields.get("To")),
        cc=addresses(fields.get("Cc")),
    )
    internal = ARRIVED + dt.timedelta(hours=arrived)
    return SortMessage(seq, seq * 10, internal, size, envelope)


def order(messages: list[SortMessage], *criteria: str) -> list[int]:
    parsed = [SortCriterion(c.removeprefix("REVERSE "), c.startswith("REVERSE ")) for c in criteria]
    return [m.seq for m in sort(messages, parsed)]


def test_ties_keep_the_sequence_order() -> None:
    messages = [message(3, size=5), message(1, size=5), message(2, size=5)]

    assert order(messages, "SIZE") == [1, 2, 3]
    assert order(messages, "REVERSE SIZE") == [1, 2, 3]


def test_size_and_reverse() -> None:
    messages = [message(1, size=30), message(2, size=10), message(3, size=20)]

    assert order(messages, "SIZE") == [2, 3, 1]
    assert order(messages, "REVERSE SIZE") == [1, 3, 2]


def test_arrival_is_the_internal_date() -> None:
    messages = [message(1, arrived=5), message(2, arrived=1), message(3, arrived=3)]

    assert order(messages, "ARRIVAL") == [2, 3, 1]


def test_date_is_the_sent_date_in_utc_with_the_internal_date_as_fallback() -> None:
    messages = [
        message(1, Date="Mon, 5 Jan 2026 10:00:00 +0200"),  # 08:00 UTC
        message(2, Date="Mon, 5 Jan 2026 09:00:00 +0000"),
        message(3, Date="not a date", arrived=24 * 4 + 9),  # Jan 5 09:00 UTC (ties with 2)
        message(4, arrived=24 * 4 + 7),  # no Date: Jan 5 07:00 UTC
        message(5, Date="Mon, 5 Jan 2026 07:30:00 -0000"),
    ]

    assert order(messages, "DATE") == [4, 5, 1, 2, 3]
    assert sent_date(messages[2]) == messages[2].internal_date.timestamp()


def test_subject_sorts_by_base_subject_case_insensitively() -> None:
    messages = [
        message(1, Subject="Re: beta"),
        message(2, Subject="ALPHA"),
        message(3),  # no subject: the empty string, first
        message(4, Subject="[list] Fwd: alpha (fwd)"),
        message(5, Subject="=?utf-8?q?=C3=A9t=C3=A9?="),  # UTF-8 octets after ASCII
        message(6, Subject="Beta"),
    ]

    assert order(messages, "SUBJECT") == [3, 2, 4, 1, 6, 5]
    assert order(messages, "SUBJECT", "REVERSE DATE") == [3, 2, 4, 1, 6, 5]


def test_several_criteria_decide_in_turn() -> None:
    messages = [
        message(1, Subject="b", size=1),
        message(2, Subject="a", size=2),
        message(3, Subject="b", size=3),
        message(4, Subject="a", size=1),
    ]

    assert order(messages, "SUBJECT", "REVERSE SIZE") == [2, 4, 3, 1]
    assert order(messages, "REVERSE SUBJECT", "SIZE") == [1, 3, 4, 2]


A = Address


@pytest.mark.parametrize(
    ("address", "mailbox", "display"),
    [
        (A(b"Bob Smith", None, b"bob", b"example.org"), "bob", "Bob Smith"),
        (A(b"=?utf-8?q?J=C3=B6rg?=", None, b"j", b"x.example"), "j", "Jörg"),
        (A(b"  ", None, b"carol", b"example.org"), "carol", "carol@example.org"),
        (A(None, b"@route.example", b"dave", b"example.org"), "dave", "dave@example.org"),
        (A(None, None, b"Team", None), "Team", "Team"),  # a group's start
        (A(None, None, b"MAILER-DAEMON", b"MISSING_DOMAIN"), "MAILER-DAEMON", ""),
    ],
)
def test_address_keys(address: Address, mailbox: str, display: str) -> None:
    assert address_mailbox((address, A(b"Other", None, b"other", b"x"))) == mailbox
    assert display_name((address,)) == (display or "MAILER-DAEMON@MISSING_DOMAIN")
    assert address_mailbox(()) == display_name(()) == ""


def test_date_comments_and_spaced_colons_are_read() -> None:
    m = message(1, Date="Fri, 21 Nov 1997 09(comment):   55  :  06 -0600 (CST)")

    assert sent_date(m) == dt.datetime(1997, 11, 21, 15, 55, 6, tzinfo=dt.UTC).timestamp()


def test_from_to_cc_compare_the_mailbox_display_keys_the_name() -> None:
    messages = [
        message(1, From="Zed <adam@x>", To="b@x", Cc="z@x"),
        message(2, From="Adam <zed@x>", To="a@x"),
        message(3, From="mid@x", To="C@x", Cc="m@x"),
    ]

    assert order(messages, "FROM") == [1, 3, 2]
    assert order(messages, "DISPLAYFROM") == [2, 3, 1]
    assert order(messages, "TO") == [2, 1, 3]
    assert order(messages, "DISPLAYTO") == [2, 1, 3]
    assert order(messages, "CC") == [2, 3, 1]  # no Cc sorts first
