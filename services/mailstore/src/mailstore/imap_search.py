"""IMAP SEARCH programs (RFC 9051 §6.4.4) as JSON: validated, turned into an SQL
prefilter, and evaluated exactly on one message. Pure: no database, no I/O.

The JSON form (openapi/imap.py ``SearchProgram``) mirrors the gateway's
``imap_gateway.wire.search`` keys: ``{"key": NAME, ...}`` with

- ``ALL`` ``ANSWERED`` ``DELETED`` ``DRAFT`` ``FLAGGED`` ``SEEN`` ``NEW`` ``OLD``
  ``RECENT`` and ``UN...``: no argument;
- ``BCC`` ``BODY`` ``CC`` ``FROM`` ``SUBJECT`` ``TEXT`` ``TO``: ``value``;
  ``HEADER``: ``field`` and ``value``;
- ``KEYWORD`` ``UNKEYWORD``: ``keyword``; ``LARGER`` ``SMALLER``: ``size``;
  ``OLDER`` ``YOUNGER``: ``seconds``; ``MODSEQ``: ``modseq``;
- ``BEFORE`` ``ON`` ``SINCE`` ``SENTBEFORE`` ``SENTON`` ``SENTSINCE``: ``date``
  (``YYYY-MM-DD``);
- ``UID``: ``uids``, a UID set without ``*`` (the gateway resolves sequence
  numbers, ``$`` and ``*``);
- ``NOT``: ``arg``; ``OR``: ``left``, ``right``; ``AND``: ``keys``.

Semantics, the same as ``imap_gateway.searching`` (the integration tests compare
them key by key):

- Text keys match a case-insensitive (Unicode case folding) substring of the
  decoded header values (RFC 2047 encoded words) or, for BODY and TEXT, of the
  raw body / whole message decoded as UTF-8; bodies are not transfer-decoded.
  ``HEADER f ""`` matches every message with the field. FROM, TO, CC and BCC
  also match the field's addresses as parsed and written back (:func:`written_addresses`).
- BEFORE / ON / SINCE compare the day of the internal date in UTC (the store
  keeps instants, not the offset of the delivering session). SENT* compare the
  day of the Date: header in the header's own offset, "disregarding time and
  timezone" (RFC 9051 §6.4.4); a message without a readable Date: matches none.
- RECENT and NEW match nothing (no \\Recent, RFC 9051); OLD and ALL everything.

SQL evaluates flags, keywords, UIDs, internal dates, sizes, ages and MODSEQ;
text and SENT* keys need the raw message. :func:`prefilter` writes a condition
that is true for every message the program may match (those keys taken as
"maybe"), and :func:`matches` then decides exactly.

SUBJECT, FROM, TO, CC and BCC are exact in SQL too where the message holds
:func:`stored_texts` (``messages.imap_search``, migration 0016): the very strings
:func:`matches` compares the needle with, folded, written at ingest. A message
without them (stored before 0016 and not yet backfilled, or with a value that
PostgreSQL cannot hold) is decided on its octets as before. Each entry holds a copy
of its message's texts (``mailbox_entries.imap_search``, migration 0024), so those
keys read only the folder's entries (:data:`SEARCH_TEXTS`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from typing import Any

from mailstore.errors import InvalidRequest
from mailstore.imap_sets import parse_uid_set
from mailstore.imap_structure import parse_address_list

# A program's keys, and its nesting: far beyond what clients send, and bounded so
# that one request cannot build a huge query.
MAX_SEARCH_NODES = 200
MAX_SEARCH_DEPTH = 30
MAX_TEXT_CHARS = 1000

FLAG_KEYS = {
    "ANSWERED": "answered",
    "DELETED": "deleted",
    "DRAFT": "draft",
    "FLAGGED": "flagged",
    "SEEN": "seen",
}
SIMPLE_KEYS = frozenset({"ALL", "NEW", "OLD", "RECENT", *FLAG_KEYS}) | {
    "UN" + name for name in FLAG_KEYS
}
ADDRESS_KEYS = frozenset({"BCC", "CC", "FROM", "TO"})
HEADER_TEXT_KEYS = ADDRESS_KEYS | {"SUBJECT"}
TEXT_KEYS = HEADER_TEXT_KEYS | {"BODY", "TEXT"}
# The keys that messages.imap_search answers (migration 0016), and its member for each.
STORED_KEYS = {"SUBJECT": "subject", "FROM": "from", "TO": "to", "CC": "cc", "BCC": "bcc"}
INTERNAL_DATE_KEYS = frozenset({"BEFORE", "ON", "SINCE"})
SENT_DATE_KEYS = frozenset({"SENTBEFORE", "SENTON", "SENTSINCE"})
_NEWLINE = re.compile(rb"\r?\n")
_FIELD_NAME = re.compile(r"[!-9;-~]{1,200}")


def _invalid(problem: str) -> InvalidRequest:
    return InvalidRequest({"program": problem})


# --- validation ---------------------------------------------------------------------------


def validate(program: object) -> dict[str, Any]:
    """The program if it is well formed and within the limits; 422 otherwise."""
    count = [0]
    _check(program, 0, count)
    assert isinstance(program, dict)
    return program


def _number(node: dict[str, Any], name: str, top: int = 2**63 - 1) -> None:
    value = node.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
        raise _invalid(f"{node.get('key')}: {name} must be a whole number")


def _text(node: dict[str, Any], name: str) -> None:
    value = node.get(name)
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise _invalid(f"{node.get('key')}: {name} must be a string of at most {MAX_TEXT_CHARS}")


def _check(node: object, depth: int, count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_SEARCH_NODES or depth > MAX_SEARCH_DEPTH:
        raise _invalid(f"more than {MAX_SEARCH_NODES} keys or {MAX_SEARCH_DEPTH} levels")
    if not isinstance(node, dict) or not isinstance(node.get("key"), str):
        raise _invalid('each key is an object with a "key"')
    key = node["key"]
    if key in SIMPLE_KEYS:
        return
    if key in TEXT_KEYS:
        _text(node, "value")
    elif key == "HEADER":
        _text(node, "value")
        if not isinstance(node.get("field"), str) or not _FIELD_NAME.fullmatch(node["field"]):
            raise _invalid("HEADER: field must be a header field name")
    elif key in ("KEYWORD", "UNKEYWORD"):
        _text(node, "keyword")
    elif key in INTERNAL_DATE_KEYS | SENT_DATE_KEYS:
        try:
            dt.date.fromisoformat(node.get("date"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _invalid(f"{key}: date must be YYYY-MM-DD") from None
    elif key in ("LARGER", "SMALLER"):
        _number(node, "size")
    elif key in ("OLDER", "YOUNGER"):
        _number(node, "seconds", 2**31 - 1)
    elif key == "MODSEQ":
        _number(node, "modseq")
    elif key == "UID":
        parse_uid_set(node.get("uids"), field="program")
    elif key == "NOT":
        _check(node.get("arg"), depth + 1, count)
    elif key == "OR":
        _check(node.get("left"), depth + 1, count)
        _check(node.get("right"), depth + 1, count)
    elif key == "AND":
        keys = node.get("keys")
        if not isinstance(keys, list) or not keys:
            raise _invalid("AND: keys must be a non-empty list")
        for child in keys:
            _check(child, depth + 1, count)
    else:
        raise _invalid(f"unknown search key {key!r}")


def _has_key(node: dict[str, Any], wanted: Callable[[str], bool]) -> bool:
    """Whether the program has a key that ``wanted`` picks, at any depth."""
    key = node["key"]
    if key == "NOT":
        return _has_key(node["arg"], wanted)
    if key == "OR":
        return _has_key(node["left"], wanted) or _has_key(node["right"], wanted)
    if key == "AND":
        return any(_has_key(child, wanted) for child in node["keys"])
    return wanted(key)


def needs_raw(node: dict[str, Any]) -> bool:
    """Whether deciding the program needs the message's octets."""
    return _has_key(node, lambda key: key in TEXT_KEYS or key in SENT_DATE_KEYS or key == "HEADER")


def needs_body(node: dict[str, Any]) -> bool:
    """Whether deciding the program needs more of the message than its header."""
    return _has_key(node, lambda key: key in ("BODY", "TEXT"))


def has_header_end(raw: bytes) -> bool:
    """Whether ``raw`` holds the header's empty line: then :func:`split_message` of it
    gives the same header as of any longer message it begins."""
    return _header_end(raw) is not None


def _header_end(raw: bytes) -> int | None:
    """Where the header ends, after its empty line (a line of LF or CRLF alone, at
    the start or after an LF); None without one. Searched by ``bytes.find``: SEARCH
    asks this of every candidate, and a regex over each line costs far more."""
    if raw.startswith(b"\n"):
        return 1
    if raw.startswith(b"\r\n"):
        return 2
    lf, crlf = raw.find(b"\n\n"), raw.find(b"\n\r\n")
    if lf < 0 and crlf < 0:
        return None
    if crlf < 0 or 0 <= lf < crlf:
        return lf + 2
    return crlf + 3


# --- SQL ----------------------------------------------------------------------------------


class Params:
    """Query parameters numbered from ``first``; ``message`` once a condition names the
    ``messages`` row (``m``), which the query must then join."""

    def __init__(self, first: int) -> None:
        self.values: list[object] = []
        self._first = first
        self.message = False

    def add(self, value: object) -> str:
        self.values.append(value)
        return f"${self._first + len(self.values) - 1}"


def prefilter(
    node: dict[str, Any], params: Params, *, negated: bool = False, text: bool = False
) -> str:
    """An SQL condition on ``e`` (mailbox_entries) and ``m`` (messages), true for every
    message the program can match: exact when :func:`needs_raw` is false; keys that
    need the raw message count as true (false under an odd number of NOTs). With
    ``text``, SUBJECT and HEADER also rule out in SQL what :func:`_surely_absent`
    would (:func:`_header_text_sql`), so those messages are not even read; the
    query then joins :data:`HEADER_LATERAL`."""
    key = node["key"]
    if key == "NOT":
        return f"NOT ({prefilter(node['arg'], params, negated=not negated, text=text)})"
    if key == "OR":
        left = prefilter(node["left"], params, negated=negated, text=text)
        right = prefilter(node["right"], params, negated=negated, text=text)
        return f"(({left}) OR ({right}))"
    if key == "AND":
        keys = (prefilter(k, params, negated=negated, text=text) for k in node["keys"])
        return "(" + " AND ".join(f"({k})" for k in keys) + ")"
    if key in STORED_KEYS:
        return _stored_text_sql(node, params, negated=negated, text=text)
    if text and not negated and key == "HEADER" and node["value"]:
        params.message = True
        return _header_text_sql(_fold(node["value"]), params)
    if key in TEXT_KEYS or key in SENT_DATE_KEYS or key == "HEADER":
        return "false" if negated else "true"
    if key in ("ALL", "OLD"):
        return "true"
    if key in ("NEW", "RECENT"):
        return "false"
    if key in FLAG_KEYS:
        return f"e.{FLAG_KEYS[key]}"
    if key.startswith("UN") and key[2:] in FLAG_KEYS:
        return f"NOT e.{FLAG_KEYS[key[2:]]}"
    if key == "KEYWORD":
        return f"{params.add(node['keyword'])} = ANY (e.keywords)"
    if key == "UNKEYWORD":
        return f"NOT ({params.add(node['keyword'])} = ANY (e.keywords))"
    if key in INTERNAL_DATE_KEYS:
        day = "(e.created_at AT TIME ZONE 'UTC')::date"
        value = params.add(dt.date.fromisoformat(node["date"]))
        operator = {"BEFORE": "<", "ON": "=", "SINCE": ">="}[key]
        return f"{day} {operator} {value}"
    if key == "LARGER":
        params.message = True
        return f"m.size > {params.add(node['size'])}"
    if key == "SMALLER":
        params.message = True
        return f"m.size < {params.add(node['size'])}"
    if key in ("OLDER", "YOUNGER"):
        seconds = params.add(dt.timedelta(seconds=node["seconds"]))
        if key == "OLDER":
            return f"e.created_at <= now() - {seconds}::interval"
        return f"e.created_at >= now() - {seconds}::interval"
    if key == "MODSEQ":
        return f"e.modseq >= {params.add(node['modseq'])}"
    if key == "UID":
        ranges = parse_uid_set(node["uids"], field="program")
        lows = params.add([low for low, _ in ranges])
        highs = params.add([high for _, high in ranges])
        # Only the placeholders ($n) go into the text; the UIDs are parameters.
        within = "e.uid BETWEEN r.lo AND r.hi"
        return f"EXISTS (SELECT 1 FROM unnest({lows}::bigint[], {highs}::bigint[]) AS r (lo, hi) WHERE {within})"  # noqa: S608, E501
    raise _invalid(f"unknown search key {key!r}")


def _stored_text_sql(node: dict[str, Any], params: Params, *, negated: bool, text: bool) -> str:
    """Exact where the message holds the key's stored texts (:func:`stored_texts`): one
    of them holds the folded needle (``strpos`` compares code points, as ``in`` does; an
    empty needle is in every text, and a message without the field has none). Else what
    :func:`prefilter` gives a key that needs the octets."""
    column = STORED_KEYS[node["key"]]
    if text and not negated and column == "subject":
        params.message = True
        unknown = _header_text_sql(_fold(node["value"]), params)
    else:
        unknown = "false" if negated else "true"
    # The column name comes from STORED_KEYS, never from the request.
    member = f"{SEARCH_TEXTS} -> '{column}'"
    needle = params.add(_fold(node["value"]))
    listed = f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({member}) AS t (s) WHERE strpos(t.s, {needle}) > 0)"  # noqa: S608, E501
    # The usual one Subject field, or one address field's two texts, without the set
    # function and its subplan per candidate (half the statement's time).
    found = (
        f"CASE jsonb_array_length({member})"
        f" WHEN 1 THEN strpos({member} ->> 0, {needle}) > 0"
        f" WHEN 2 THEN strpos({member} ->> 0, {needle}) > 0"
        f" OR strpos({member} ->> 1, {needle}) > 0"
        f" ELSE {listed} END"
    )
    return f"CASE WHEN {SEARCH_TEXTS} ? '{column}' THEN {found} ELSE {unknown} END"


# An entry's SEARCH texts: its own copy (migration 0024), or for an entry from before it
# that the backfill has not reached, its message's (read only then: COALESCE stops at
# the first value that is not NULL). A condition on them needs no join to messages.
SEARCH_TEXTS = (
    "coalesce(e.imap_search, (SELECT mt.imap_search FROM messages mt WHERE mt.id = e.message_id))"
)


def stored_keys(node: dict[str, Any]) -> list[str] | None:
    """The ``imap_search`` members that decide every key of the program that needs the
    octets, when all of them are SUBJECT, FROM, TO, CC or BCC; None when some other key
    (BODY, TEXT, HEADER, SENT*) needs the octets anyway."""
    wanted: set[str] = set()

    def collect(key: str) -> bool:
        if key in STORED_KEYS:
            wanted.add(STORED_KEYS[key])
            return False
        return key in TEXT_KEYS or key in SENT_DATE_KEYS or key == "HEADER"

    if _has_key(node, collect):
        return None
    return sorted(wanted)


# Where the top-level header ends (with its empty line), from the stored structure
# (migration 0008); a message without one is read from a first guess and checked.
HEADER_END = "coalesce((m.imap_structure #>> '{body,header,1}')::integer, 8192)"
# The header's octets as text, when they are plain: PostgreSQL's "escape" encoding
# writes NUL, octets above 127 and the backslash as backslash sequences, and leaves
# every other octet as it is. Computed once per row by a query that reads with
# ``text`` (HEADER_LATERAL joined as ``hx``): written out in each test, the message
# would be read again for each.
HEADER_LATERAL = (
    "CROSS JOIN LATERAL (SELECT encode(substring(m.raw FROM 1 FOR "  # noqa: S608 - constants
    f"{HEADER_END}), 'escape') AS h OFFSET 0) hx"
)
_HEADER_ESCAPED = "hx.h"
_UPPER, _LOWER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"


def _header_text_sql(wanted: str, params: Params) -> str:
    """SQL that is false only where :func:`_surely_absent` is true of the header:
    the octets read (through the empty line, so the whole header) are ASCII without a
    NUL, a backslash or ``=?``, and hold ``wanted`` (folded) in no case. Folding is
    ``translate`` of A-Z, not ``lower()``, which follows the database's locale."""
    if "\r" in wanted or "\n" in wanted:
        return "true"
    h = _HEADER_ESCAPED
    plain = (
        f"strpos({h}, '\\') = 0 AND strpos({h}, '=?') = 0"
        f" AND (left({h}, 1) = chr(10) OR left({h}, 2) = chr(13) || chr(10)"
        f" OR strpos({h}, chr(10) || chr(10)) > 0"
        f" OR strpos({h}, chr(10) || chr(13) || chr(10)) > 0)"
    )
    if not wanted.isascii():
        found = "false"  # an ASCII text folds to ASCII
    else:
        found = f"strpos(translate({h}, '{_UPPER}', '{_LOWER}'), {params.add(wanted)}) > 0"
    return f"CASE WHEN {plain} THEN {found} ELSE true END"


# --- exact evaluation ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """What deciding a program needs of one message."""

    uid: int
    flags: frozenset[str]  # column names: seen, answered, ...
    keywords: frozenset[str]
    modseq: int
    internal_date: dt.datetime
    size: int
    raw: bytes


def _fold(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return text.casefold()


def split_message(raw: bytes) -> tuple[bytes, bytes]:
    """The header (through the first empty line) and the body."""
    end = _header_end(raw)
    if end is None:
        return raw, b""
    return raw[:end], raw[end:]


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """The header's fields (lower-case name, value), read as ENVELOPE reads them
    (mailstore.imap_structure, like Dovecot): a name may end in spaces before its
    colon (RFC 5322 §4.5 obs-optional), a line that is neither a field nor a
    continuation is skipped instead of ending the header, and octets above 127 are
    UTF-8 (RFC 6532 §3.2)."""
    fields: list[tuple[str, list[bytes]]] = []
    for line in _NEWLINE.split(split_message(raw)[0]):
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            if fields:
                fields[-1][1].append(line)
            continue
        name, colon, value = line.partition(b":")
        if colon:
            fields.append((name.rstrip(b" \t").decode("latin-1").lower(), [value.lstrip(b" \t")]))
    return [(name, b"\r\n".join(lines).decode("utf-8", "replace")) for name, lines in fields]


def header_values(raw: bytes, name: str) -> list[str]:
    """Each value of the field ``name``, RFC 2047 encoded words decoded."""
    wanted = name.lower()
    return [_decode_words(value) for field, value in header_fields(raw) if field == wanted]


def _decode_words(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, HeaderParseError):
        pass
    # A charset Python does not know (``NONE``), or an RFC 2231 §5 language after
    # it (``iso-8859-2*sl``): each word alone, what cannot be read as U+FFFD.
    try:
        pieces = decode_header(value)
    except HeaderParseError:
        return value
    return "".join(_decode_word(data, charset) for data, charset in pieces)


def _decode_word(data: bytes | str, charset: str | None) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode((charset or "ascii").partition("*")[0], "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def written_addresses(value: str) -> str:
    """An address field as SEARCH FROM/TO/CC/BCC reads it: "the envelope
    structure's FROM field" (RFC 9051 §6.4.4), so the addresses ENVELOPE parses
    (``<user (c)@ (c) example.org>`` is ``user@example.org``), written back as
    Dovecot does: ``Name <mailbox@host>``, ``mailbox@host`` without a name,
    ``group: a@b, c@d;``; names with encoded words decoded."""
    written: list[str] = []
    in_group = False
    for name, _route, mailbox, host in parse_address_list(value.encode("utf-8", "replace")):
        if host is None and not in_group:  # a group's start: its name in the mailbox
            written.append(f"{_decode_words(mailbox or '')}: ")
            in_group = True
        elif host is None:  # the group's end
            written[-1] = written[-1].removesuffix(", ") + ";, "
            in_group = False
        else:
            spec = f"{mailbox}@{host}"
            shown = " ".join(_decode_words(name).split()) if name else ""
            written.append((f"{shown} <{spec}>" if shown else spec) + ", ")
    return "".join(written).removesuffix(", ").strip()


def _in_addresses(raw: bytes, name: str, needle: str) -> bool:
    """FROM, TO, CC, BCC: the addresses as parsed, or the field's decoded text (which
    keeps what a reader sees, a comment after the address too); the gateway's
    ``imap_gateway.searching`` reads them alike."""
    wanted = _fold(needle)
    values = [value for field, value in header_fields(raw) if field == name.lower()]
    return any(
        wanted in _fold(_decode_words(value)) or wanted in _fold(written_addresses(value))
        for value in values
    )


def stored_texts(raw: bytes) -> dict[str, list[str]]:
    """What SUBJECT, FROM, TO, CC and BCC compare the folded needle with, folded: each
    Subject field's decoded value; each address field's decoded value and its written
    addresses (:func:`_in_addresses`). Stored at ingest as ``messages.imap_search``, so
    that SEARCH decides these keys in SQL without reading the message. A member whose
    texts PostgreSQL cannot hold (NUL, a lone surrogate) is left out: the key is then
    decided on the octets."""
    from mailstore.db.connection import storable  # mailstore.db imports this module

    fields = header_fields(raw)
    stored: dict[str, list[str]] = {}
    for key, member in STORED_KEYS.items():
        values = [value for field, value in fields if field == member]
        if key == "SUBJECT":
            texts = [_fold(_decode_words(value)) for value in values]
        else:
            texts = [
                _fold(text)
                for value in values
                for text in (_decode_words(value), written_addresses(value))
            ]
        if all(storable(text) for text in texts):
            stored[member] = texts
    return stored


def _in_header(raw: bytes, name: str, needle: str) -> bool:
    wanted = _fold(needle)
    if _surely_absent(raw, wanted):
        return False
    return any(wanted in _fold(value) for value in header_values(raw, name))


def _surely_absent(raw: bytes, wanted: str) -> bool:
    """Whether no header value of ``raw`` can hold ``wanted`` (folded), decided without
    parsing: SEARCH SUBJECT reads hundreds of messages a time, most of them misses.

    Only where decoding changes nothing: an ASCII message without encoded words (no
    ``=?``, RFC 2047 §2) decodes to its own characters and ASCII casefolds as
    ``lower()`` does, so each value (its lines joined by CRLF) is a run of
    ``raw.lower()`` per line; a needle without CR or LF found in none of them is in
    no line of ``raw``. Anything else is left to the exact reading."""
    if "\r" in wanted or "\n" in wanted or not raw.isascii() or b"=?" in raw:
        return False
    if not wanted.isascii():
        return True  # an ASCII text folds to ASCII
    return wanted.encode("ascii") not in raw.lower()


def sent_date(raw: bytes) -> dt.date | None:
    """The day of the Date: header, in its own offset; None without a readable one."""
    values = header_values(raw, "Date")
    if not values:
        return None
    try:
        return email.utils.parsedate_to_datetime(values[0]).date()
    except (TypeError, ValueError):
        return None


def _compare(found: dt.date, name: str, wanted: dt.date) -> bool:
    if name.endswith("BEFORE"):
        return found < wanted
    if name.endswith("ON"):
        return found == wanted
    return found >= wanted


def matches(
    node: dict[str, Any], message: Candidate, *, now: Callable[[], dt.datetime] | None = None
) -> bool:
    """Whether ``message`` matches the (validated) program."""
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    return _matches(node, message, clock)


def _matches(node: dict[str, Any], m: Candidate, now: Callable[[], dt.datetime]) -> bool:
    key = node["key"]
    if key == "AND":
        return all(_matches(k, m, now) for k in node["keys"])
    if key == "OR":
        return _matches(node["left"], m, now) or _matches(node["right"], m, now)
    if key == "NOT":
        return not _matches(node["arg"], m, now)
    if key in ("ALL", "OLD"):
        return True
    if key in ("NEW", "RECENT"):
        return False
    if key in FLAG_KEYS:
        return FLAG_KEYS[key] in m.flags
    if key.startswith("UN") and key[2:] in FLAG_KEYS:
        return FLAG_KEYS[key[2:]] not in m.flags
    if key == "BODY":
        return _fold(node["value"]) in _fold(split_message(m.raw)[1])
    if key == "TEXT":
        # The header as a reader sees it too: encoded words and UTF-8 decoded.
        wanted = _fold(node["value"])
        return wanted in _fold(m.raw) or any(
            wanted in _fold(f"{field}: {_decode_words(value)}")
            for field, value in header_fields(m.raw)
        )
    if key in ADDRESS_KEYS:
        return _in_addresses(m.raw, key, node["value"])
    if key in HEADER_TEXT_KEYS:
        return _in_header(m.raw, key, node["value"])
    if key == "HEADER":
        if not node["value"]:
            return bool(header_values(m.raw, node["field"]))
        return _in_header(m.raw, node["field"], node["value"])
    if key in ("KEYWORD", "UNKEYWORD"):
        has = str(node["keyword"]) in m.keywords
        return has if key == "KEYWORD" else not has
    if key in INTERNAL_DATE_KEYS:
        day = m.internal_date.astimezone(dt.UTC).date()
        return _compare(day, key, dt.date.fromisoformat(node["date"]))
    if key in SENT_DATE_KEYS:
        found = sent_date(m.raw)
        return found is not None and _compare(found, key, dt.date.fromisoformat(node["date"]))
    if key == "LARGER":
        return m.size > int(node["size"])
    if key == "SMALLER":
        return m.size < int(node["size"])
    if key in ("OLDER", "YOUNGER"):
        age = (now() - m.internal_date).total_seconds()
        seconds = int(node["seconds"])
        return age >= seconds if key == "OLDER" else age <= seconds
    if key == "MODSEQ":
        return m.modseq >= int(node["modseq"])
    if key == "UID":
        ranges = parse_uid_set(node["uids"], field="program")
        return any(low <= m.uid <= high for low, high in ranges)
    raise _invalid(f"unknown search key {key!r}")
