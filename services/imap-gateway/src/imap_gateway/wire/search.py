"""Search keys (RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 7162 §3.1.5) and SORT criteria (RFC 5256).

A search program is a tree: :class:`SearchAnd` of several keys (a parenthesised
group, or the top-level list), :class:`SearchNot`, :class:`SearchOr`, and leaves.
NOT, OR and parentheses each count as one level of nesting against
WireLimits.max_nesting_depth, since the parser recurses for each.
Text arguments stay bytes: their charset is the command's CHARSET.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from imap_gateway.wire.cursor import (
    ATOM,
    Cursor,
    astring,
    header_field_name,
    number,
    number64,
    parenthesised,
    quoted,
)
from imap_gateway.wire.dates import parse_date
from imap_gateway.wire.sequence import SequenceSet, parse_sequence_set

# Keys without an argument (RFC 9051 §6.4.4; NEW, OLD, RECENT, UNRECENT are IMAP4rev1).
SIMPLE_KEYS: Final = frozenset(
    {"ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN"}
    | {"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN"}
)
TEXT_KEYS: Final = frozenset({"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"})
DATE_KEYS: Final = frozenset({"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"})
SIZE_KEYS: Final = frozenset({"LARGER", "SMALLER"})
KEYWORD_KEYS: Final = frozenset({"KEYWORD", "UNKEYWORD"})
AGE_KEYS: Final = frozenset({"OLDER", "YOUNGER"})  # RFC 5032 (WITHIN)
# RFC 4731 §3.1 and RFC 5182 §2.1.
RETURN_OPTIONS: Final = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE"})
# RFC 5256 §3 sort-key, and RFC 5957 §4's DISPLAYFROM and DISPLAYTO.
SORT_KEYS: Final = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)
# RFC 7162 §3.1.5 entry-type-req.
ENTRY_TYPES: Final = frozenset({"PRIV", "SHARED", "ALL"})


@dataclass(frozen=True, slots=True)
class SearchSimple:
    name: str


@dataclass(frozen=True, slots=True)
class SearchText:
    name: str
    value: bytes


@dataclass(frozen=True, slots=True)
class SearchHeader:
    field: str
    value: bytes


@dataclass(frozen=True, slots=True)
class SearchKeyword:
    name: str  # KEYWORD or UNKEYWORD
    keyword: str


@dataclass(frozen=True, slots=True)
class SearchDate:
    name: str
    date: dt.date


@dataclass(frozen=True, slots=True)
class SearchSize:
    name: str  # LARGER or SMALLER
    size: int


@dataclass(frozen=True, slots=True)
class SearchAge:
    name: str  # OLDER or YOUNGER
    seconds: int


@dataclass(frozen=True, slots=True)
class SearchSet:
    """A sequence set, or ``UID`` sequence-set when ``uid``."""

    sequence_set: SequenceSet
    uid: bool = False


@dataclass(frozen=True, slots=True)
class SearchModSeq:
    """``MODSEQ [entry-name entry-type-req] mod-sequence-valzer`` (RFC 7162 §3.1.5)."""

    modseq: int
    entry: tuple[bytes, str] | None = None


@dataclass(frozen=True, slots=True)
class SearchNot:
    key: SearchKey


@dataclass(frozen=True, slots=True)
class SearchOr:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class SearchAnd:
    keys: tuple[SearchKey, ...]


SearchKey = (
    SearchSimple
    | SearchText
    | SearchHeader
    | SearchKeyword
    | SearchDate
    | SearchSize
    | SearchAge
    | SearchSet
    | SearchModSeq
    | SearchNot
    | SearchOr
    | SearchAnd
)


@dataclass(frozen=True, slots=True)
class SortCriterion:
    key: str
    reverse: bool = False


def parse_search_key(c: Cursor) -> SearchKey:
    """One ``search-key``; see the module docstring for nesting."""
    if c.peek() == 0x28:  # "("
        keys = parenthesised(c, parse_search_key, empty=False)
        return keys[0] if len(keys) == 1 else SearchAnd(tuple(keys))
    if c.peek() == 0x24 or 0x30 <= c.peek() <= 0x39 or c.peek() == 0x2A:  # $ digit *
        return SearchSet(parse_sequence_set(c))
    start = c.pos
    found = c.match(ATOM)
    if found is None:
        raise c.error("search key")
    name = found.group().upper().decode("ascii")
    if name in SIMPLE_KEYS:
        return SearchSimple(name)
    if name == "NOT":
        c.sp()
        c.enter()
        key = parse_search_key(c)
        c.leave()
        return SearchNot(key)
    if name == "OR":
        c.enter()
        c.sp()
        left = parse_search_key(c)
        c.sp()
        right = parse_search_key(c)
        c.leave()
        return SearchOr(left, right)
    c.pos = start
    return _key_with_argument(c, name)


def _key_with_argument(c: Cursor, name: str) -> SearchKey:
    if name not in (
        TEXT_KEYS | DATE_KEYS | SIZE_KEYS | KEYWORD_KEYS | AGE_KEYS | {"HEADER", "UID", "MODSEQ"}
    ):
        raise c.error("search key")
    c.pos += len(name)
    c.sp()
    if name in TEXT_KEYS:
        return SearchText(name, astring(c))
    if name in DATE_KEYS:
        return SearchDate(name, parse_date(c))
    if name in SIZE_KEYS:
        return SearchSize(name, number64(c))
    if name in KEYWORD_KEYS:
        return SearchKeyword(name, c.chars(ATOM, "keyword").decode("ascii"))
    if name in AGE_KEYS:
        return SearchAge(name, number(c, nonzero=True))
    if name == "HEADER":
        field = header_field_name(c)
        c.sp()
        return SearchHeader(field, astring(c))
    if name == "UID":
        return SearchSet(parse_sequence_set(c), uid=True)
    return _modseq(c)


def _modseq(c: Cursor) -> SearchModSeq:
    entry: tuple[bytes, str] | None = None
    if c.peek() == 0x22:  # entry-name = DQUOTE "/flags/" attr-flag DQUOTE
        name = quoted(c)
        if name is None or not name.lower().startswith(b"/flags/"):
            raise c.error('entry name ("/flags/<flag>")')
        c.sp()
        kind = c.chars(ATOM, "entry type (priv, shared, all)").upper().decode("ascii")
        if kind not in ENTRY_TYPES:
            raise c.error("entry type (priv, shared, all)")
        c.sp()
        entry = (name, kind)
    # mod-sequence-valzer: 0 is allowed here (RFC 7162 §7).
    return SearchModSeq(number64(c), entry)


def parse_search_program(c: Cursor) -> tuple[str | None, SearchKey]:
    """``["CHARSET" SP charset SP] search-key *(SP search-key)`` (RFC 9051 §6.4.4)."""
    charset = None
    if c.take_word(b"CHARSET"):
        c.sp()
        charset = parse_charset(c)
        c.sp()
    return charset, parse_search_keys(c)


def parse_search_keys(c: Cursor) -> SearchKey:
    """``search-key *(SP search-key)`` to the end of the command, as one key."""
    keys = [parse_search_key(c)]
    while not c.at_end():
        c.sp()
        keys.append(parse_search_key(c))
    return keys[0] if len(keys) == 1 else SearchAnd(tuple(keys))


def parse_charset(c: Cursor) -> str:
    """``charset = atom / quoted``, upper-cased (charset names are case-insensitive)."""
    value = quoted(c)
    if value is None:
        value = c.chars(ATOM, "charset")
    if not value.isascii():
        raise c.error("charset name")
    return value.decode("ascii").upper()


def parse_return_options(c: Cursor) -> tuple[str, ...]:
    """``"RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"`` (RFC 4731 §3.1)."""

    def option(c: Cursor) -> str:
        name = c.chars(ATOM, "return option").upper().decode("ascii")
        if name not in RETURN_OPTIONS:
            raise c.error("MIN, MAX, ALL, COUNT or SAVE")
        return name

    return tuple(parenthesised(c, option))


def parse_sort_criteria(c: Cursor) -> tuple[SortCriterion, ...]:
    """``"(" sort-criterion *(SP sort-criterion) ")"`` (RFC 5256 §3)."""

    def criterion(c: Cursor) -> SortCriterion:
        reverse = c.take_word(b"REVERSE")
        if reverse:
            c.sp()
        key = c.chars(ATOM, "sort key").upper().decode("ascii")
        if key not in SORT_KEYS:
            raise c.error("sort key (ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO)")
        return SortCriterion(key, reverse)

    return tuple(parenthesised(c, criterion, empty=False))
