"""SORT (RFC 5256 §3, DISPLAYFROM/DISPLAYTO of RFC 5957): what each message sorts by. Pure.

The session hands over one :class:`SortMessage` per message found (its header
fields as sent, its internal date, size and place in the mailbox);
:func:`sort` gives them back in the order of the criteria. Strings compare with
i;ascii-casemap (RFC 5256 §3, RFC 4790 §9.2) after RFC 2047 decoding; a message
without the field sorts as the empty string, before any other (RFC 5256 §3);
messages equal under every criterion stay in ascending sequence order.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from imap_gateway.base_subject import base_subject, casemap, decode_words
from imap_gateway.envelope_values import Address, Envelope
from imap_gateway.wire.search import SortCriterion

__all__ = ["SortMessage", "address_mailbox", "display_name", "sent_date", "sort"]

# RFC 5322 §3.2.2: comments (nested at most this deep here) and folding may sit
# anywhere in a date; §4.3 (obsolete syntax): white space around the colons.
_COMMENT = re.compile(r"\([^()]*\)")
_COLON = re.compile(r"\s*:\s*")


@dataclass(frozen=True, slots=True)
class SortMessage:
    """One message as SORT and THREAD see it: its ENVELOPE, and for REFERENCES
    threading its References field; ``seq`` orders ties (RFC 5256 §3)."""

    seq: int
    uid: int
    internal_date: dt.datetime
    size: int
    envelope: Envelope
    references: bytes | None = None


def parse_date(value: bytes) -> dt.datetime | None:
    """A Date field's value in UTC, or None when it cannot be parsed."""
    text = value.decode("latin-1")
    for _ in range(3):
        text = _COMMENT.sub(" ", text)
    try:
        parsed = email.utils.parsedate_to_datetime(_COLON.sub(":", text))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000": UTC without a claim about local time
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def sent_date(message: SortMessage) -> float:
    """The sent date as a UTC time stamp (RFC 5256 §2.2): the Date field, or the
    internal date when the field is missing or cannot be parsed."""
    value = message.envelope.date
    parsed = parse_date(value) if value is not None else None
    return (parsed or message.internal_date).timestamp()


def _first(addresses: tuple[Address, ...]) -> Address | None:
    return addresses[0] if addresses else None


def address_mailbox(addresses: tuple[Address, ...]) -> str:
    """[IMAP] addr-mailbox of the first address (RFC 5256 §3); a group's start
    carries the group's name there."""
    first = _first(addresses)
    return decode_words(first.mailbox) if first is not None and first.mailbox else ""


def display_name(addresses: tuple[Address, ...]) -> str:
    """RFC 5957 §3: the first address's addr-name, decoded; when that is NIL or
    empty, its addr-mailbox "@" addr-host."""
    first = _first(addresses)
    if first is None:
        return ""
    name = decode_words(first.name).strip() if first.name else ""
    if name:
        return name
    spec = (first.mailbox or b"") + (b"@" + first.host if first.host is not None else b"")
    return decode_words(spec)


def subject_of(message: SortMessage) -> str:
    value = message.envelope.subject
    return decode_words(value) if value is not None else ""


def _subject(message: SortMessage) -> bytes:
    return casemap(base_subject(subject_of(message)).text)


Key = Callable[[SortMessage], float | int | bytes]
KEYS: dict[str, Key] = {
    "ARRIVAL": lambda m: m.internal_date.timestamp(),
    "DATE": sent_date,
    "SIZE": lambda m: m.size,
    "SUBJECT": _subject,
    "FROM": lambda m: casemap(address_mailbox(m.envelope.from_)),
    "TO": lambda m: casemap(address_mailbox(m.envelope.to)),
    "CC": lambda m: casemap(address_mailbox(m.envelope.cc)),
    "DISPLAYFROM": lambda m: casemap(display_name(m.envelope.from_)),
    "DISPLAYTO": lambda m: casemap(display_name(m.envelope.to)),
}


def sort(messages: Sequence[SortMessage], criteria: Sequence[SortCriterion]) -> list[SortMessage]:
    """``messages`` in the order of ``criteria`` (RFC 5256 §3)."""
    ordered = sorted(messages, key=lambda m: m.seq)
    # Stable sorts from the last criterion to the first: each earlier one decides
    # first, ties keep the later ones' order, and in the end the sequence order.
    for criterion in reversed(criteria):
        key = KEYS[criterion.key]
        ordered.sort(key=key, reverse=criterion.reverse)
    return ordered
