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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import Message

from imap_gateway.base_subject import base_subject, casemap, decode_words, header_text
from imap_gateway.sections import parse_header
from imap_gateway.wire.search import SortCriterion

__all__ = ["HEADER_FIELDS", "SortMessage", "address_mailbox", "display_name", "sent_date", "sort"]

# Every header field SORT and THREAD read (the session asks for these only).
HEADER_FIELDS = (
    "DATE",
    "SUBJECT",
    "FROM",
    "TO",
    "CC",
    "MESSAGE-ID",
    "REFERENCES",
    "IN-REPLY-TO",
)


@dataclass(frozen=True, slots=True)
class SortMessage:
    """One message as SORT and THREAD see it; ``seq`` orders ties (RFC 5256 §3)."""

    seq: int
    uid: int
    internal_date: dt.datetime
    size: int
    header: Message = field(repr=False)

    @classmethod
    def of(
        cls, seq: int, uid: int, internal_date: dt.datetime, size: int, header: bytes
    ) -> SortMessage:
        return cls(seq, uid, internal_date, size, parse_header(header))

    def field(self, name: str) -> str | None:
        """The first such field's value as sent (8-bit octets as surrogate escapes)."""
        value = self.header.get(name)
        return None if value is None else str(value)


def sent_date(message: SortMessage) -> float:
    """The sent date as a UTC time stamp (RFC 5256 §2.2): the Date field, or the
    internal date when the field is missing or cannot be parsed."""
    value = message.field("Date")
    if value is not None:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:  # "-0000": UTC without a claim about local time
                parsed = parsed.replace(tzinfo=dt.UTC)
            return parsed.timestamp()
    return message.internal_date.timestamp()


def _first_address(message: SortMessage, name: str) -> tuple[str, str] | None:
    """The display name (raw) and addr-spec of the field's first address."""
    value = message.field(name)
    if value is None:
        return None
    for display, spec in email.utils.getaddresses([value]):
        if spec or display:
            return display, spec
    return None


def address_mailbox(message: SortMessage, name: str) -> str:
    """[IMAP] addr-mailbox of the first address: the local part (RFC 5256 §3)."""
    first = _first_address(message, name)
    if first is None:
        return ""
    return header_text(first[1].rpartition("@")[0] if "@" in first[1] else first[1])


def display_name(message: SortMessage, name: str) -> str:
    """RFC 5957 §3: the first address's display name, decoded; without one, its
    addr-spec (mailbox@host)."""
    first = _first_address(message, name)
    if first is None:
        return ""
    display = decode_words(first[0].encode("utf-8", "surrogateescape")).strip()
    return display or header_text(first[1])


def _subject(message: SortMessage) -> bytes:
    value = message.field("Subject")
    return casemap(base_subject(header_text(value)).text) if value is not None else b""


Key = Callable[[SortMessage], float | int | bytes]
KEYS: dict[str, Key] = {
    "ARRIVAL": lambda m: m.internal_date.timestamp(),
    "DATE": sent_date,
    "SIZE": lambda m: m.size,
    "SUBJECT": _subject,
    "FROM": lambda m: casemap(address_mailbox(m, "From")),
    "TO": lambda m: casemap(address_mailbox(m, "To")),
    "CC": lambda m: casemap(address_mailbox(m, "Cc")),
    "DISPLAYFROM": lambda m: casemap(display_name(m, "From")),
    "DISPLAYTO": lambda m: casemap(display_name(m, "To")),
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
