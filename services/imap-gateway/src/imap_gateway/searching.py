"""Search keys evaluated against one message's data (RFC 9051 §6.4.4): pure.

The in-memory backend searches with it, and the session uses it for keys a
backend hands back (:data:`imap_gateway.backend.KeyEvaluator`). Sequence-number
sets and ``$`` never get here: the session replaces them with UID sets.

Text keys compare case-insensitively (Unicode case folding) against decoded
header values (RFC 2047 encoded words) or the raw body decoded as UTF-8 (FROM,
TO, CC and BCC also the addresses as parsed, :mod:`imap_gateway.search_addresses`);
message bodies are not transfer-decoded (base64 / quoted-printable), a known
limit of this evaluator. Dates compare the date part in the message's own zone
(RFC 9051 §6.4.4: "disregarding time and timezone").
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header, make_header

from imap_gateway.search_addresses import ADDRESS_KEYS, written_addresses
from imap_gateway.sections import fields, split_entity
from imap_gateway.wire import flags as wire_flags
from imap_gateway.wire.search import (
    SearchAge,
    SearchAnd,
    SearchDate,
    SearchHeader,
    SearchKey,
    SearchKeyword,
    SearchModSeq,
    SearchNot,
    SearchOr,
    SearchSet,
    SearchSimple,
    SearchSize,
    SearchText,
)

__all__ = ["Searchable", "matches"]

_FLAG_KEYS = {
    "ANSWERED": wire_flags.ANSWERED,
    "DELETED": wire_flags.DELETED,
    "DRAFT": wire_flags.DRAFT,
    "FLAGGED": wire_flags.FLAGGED,
    "SEEN": wire_flags.SEEN,
}


@dataclass(frozen=True, slots=True)
class Searchable:
    """What a search needs of one message."""

    uid: int
    flags: frozenset[str]
    modseq: int
    internal_date: dt.datetime
    raw: bytes


def _fold(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return text.casefold()


def _raw_header_fields(message: Searchable) -> list[tuple[str, str]]:
    """(name, value) of each field, read as the mail store's SEARCH reads them
    (mailstore.imap_search.header_fields): stray lines skipped, "Name :" allowed,
    octets above 127 as UTF-8 (RFC 6532 §3.2); encoded words left as written."""
    found = []
    for name, raw in fields(split_entity(message.raw).header):
        if name is not None:
            value = raw.partition(b":")[2].strip(b" \t\r\n").decode("utf-8", "replace")
            found.append((name, value))
    return found


def _header_fields(message: Searchable) -> list[tuple[str, str]]:
    """As :func:`_raw_header_fields`, encoded words decoded."""
    return [(name, _decode_words(value)) for name, value in _raw_header_fields(message)]


def _decode_words(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, HeaderParseError):
        pass
    # An unknown charset (=?NONE?...) or an RFC 2231 §5 language (iso-8859-2*sl).
    try:
        pieces = decode_header(value)
    except HeaderParseError:
        return value
    out = []
    for data, charset in pieces:
        if isinstance(data, str):
            out.append(data)
            continue
        try:
            out.append(data.decode((charset or "ascii").partition("*")[0], "replace"))
        except LookupError:
            out.append(data.decode("utf-8", "replace"))
    return "".join(out)


def _header_values(message: Searchable, name: str) -> list[str]:
    wanted = name.lower()
    return [value for field, value in _header_fields(message) if field == wanted]


def _contains_in_header(message: Searchable, name: str, needle: bytes) -> bool:
    wanted = _fold(needle)
    return any(wanted in _fold(value) for value in _header_values(message, name))


def _contains_address(message: Searchable, name: str, needle: bytes) -> bool:
    """FROM, TO, CC, BCC: "the envelope structure's FROM field" (RFC 9051 §6.4.4),
    so the addresses as parsed (``<user (c)@ (c) example.org>`` is
    ``user@example.org``), as well as the field's decoded text (which keeps a
    comment that names the sender, ``user@example.org (Name)``)."""
    wanted = _fold(needle)
    values = [value for field, value in _raw_header_fields(message) if field == name.lower()]
    return any(
        wanted in _fold(_decode_words(value)) or wanted in _fold(written_addresses(value))
        for value in values
    )


def _text(message: Searchable, key: SearchText) -> bool:
    if key.name == "BODY":
        return _fold(key.value) in _fold(split_entity(message.raw).body)
    if key.name == "TEXT":
        wanted = _fold(key.value)
        return wanted in _fold(message.raw) or any(
            wanted in _fold(f"{name}: {value}") for name, value in _header_fields(message)
        )
    if key.name in ADDRESS_KEYS:
        return _contains_address(message, key.name, key.value)
    return _contains_in_header(message, key.name, key.value)


def _sent_date(message: Searchable) -> dt.date | None:
    values = _header_values(message, "Date")
    if not values:
        return None
    try:
        return email.utils.parsedate_to_datetime(values[0]).date()
    except (TypeError, ValueError):
        return None


def _date(message: Searchable, key: SearchDate, now: dt.datetime) -> bool:
    if key.name.startswith("SENT"):
        found = _sent_date(message)
        if found is None:
            return False
        compare = key.name[4:]
    else:
        found = message.internal_date.date()
        compare = key.name
    if compare == "BEFORE":
        return found < key.date
    if compare == "ON":
        return found == key.date
    return found >= key.date  # SINCE


def matches(
    key: SearchKey, message: Searchable, *, now: Callable[[], dt.datetime] | None = None
) -> bool:
    """Whether ``message`` matches ``key``."""
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    return _matches(key, message, clock)


def _matches(key: SearchKey, message: Searchable, now: Callable[[], dt.datetime]) -> bool:
    if isinstance(key, SearchAnd):
        return all(_matches(k, message, now) for k in key.keys)
    if isinstance(key, SearchOr):
        return _matches(key.left, message, now) or _matches(key.right, message, now)
    if isinstance(key, SearchNot):
        return not _matches(key.key, message, now)
    if isinstance(key, SearchSimple):
        return _simple(key.name, message)
    if isinstance(key, SearchText):
        return _text(message, key)
    if isinstance(key, SearchHeader):
        if not key.value:  # RFC 9051 §6.4.4: an empty string matches any message with the field
            return bool(_header_values(message, key.field))
        return _contains_in_header(message, key.field, key.value)
    if isinstance(key, SearchKeyword):
        has = key.keyword in message.flags
        return has if key.name == "KEYWORD" else not has
    if isinstance(key, SearchDate):
        return _date(message, key, now())
    if isinstance(key, SearchSize):
        size = len(message.raw)
        return size > key.size if key.name == "LARGER" else size < key.size
    if isinstance(key, SearchAge):
        age = (now() - message.internal_date).total_seconds()
        return age >= key.seconds if key.name == "OLDER" else age <= key.seconds
    if isinstance(key, SearchModSeq):
        return message.modseq >= key.modseq
    if isinstance(key, SearchSet):
        if not key.uid or key.sequence_set.saved:
            raise ValueError("sequence numbers and $ are resolved by the session")
        return key.sequence_set.contains(message.uid, 2**32 - 1)
    raise TypeError(f"unknown search key {key!r}")


def _simple(name: str, message: Searchable) -> bool:
    if name in ("ALL", "OLD"):
        return True
    # \Recent is the session's: it replaces these keys by UID sets (session.search).
    if name in ("RECENT", "NEW"):
        return False
    if name.startswith("UN"):
        return _FLAG_KEYS[name[2:]] not in message.flags
    return _FLAG_KEYS[name] in message.flags
