"""FETCH data items (RFC 9051 §6.4.5, §9 fetch-att; RFC 3516 BINARY; RFC 7162 MODSEQ).

Three kinds of item: a plain attribute (:class:`FetchAtt`: FLAGS, ENVELOPE, ...),
a body section (:class:`BodySection`: ``BODY[...]``/``BODY.PEEK[...]``) and a
binary section (:class:`BinarySection`: ``BINARY[...]``, ``BINARY.PEEK[...]``,
``BINARY.SIZE[...]``). Macros (ALL, FAST, FULL) are expanded by the parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from imap_gateway.wire.cursor import Cursor, header_field_name, number, number64, parenthesised

ENVELOPE: Final = "ENVELOPE"
FLAGS: Final = "FLAGS"
INTERNALDATE: Final = "INTERNALDATE"
RFC822: Final = "RFC822"
RFC822_HEADER: Final = "RFC822.HEADER"
RFC822_TEXT: Final = "RFC822.TEXT"
RFC822_SIZE: Final = "RFC822.SIZE"
BODY: Final = "BODY"  # the non-extensible BODYSTRUCTURE
BODYSTRUCTURE: Final = "BODYSTRUCTURE"
UID: Final = "UID"
MODSEQ: Final = "MODSEQ"  # RFC 7162 §3.1.4
PLAIN_ATTRIBUTES: Final = frozenset(
    {ENVELOPE, FLAGS, INTERNALDATE, RFC822, RFC822_HEADER, RFC822_TEXT, RFC822_SIZE}
    | {BODY, BODYSTRUCTURE, UID, MODSEQ}
)

# Section texts (RFC 9051 §9 section-msgtext, section-text).
HEADER: Final = "HEADER"
HEADER_FIELDS: Final = "HEADER.FIELDS"
HEADER_FIELDS_NOT: Final = "HEADER.FIELDS.NOT"
TEXT: Final = "TEXT"
MIME: Final = "MIME"


@dataclass(frozen=True, slots=True)
class FetchAtt:
    """A fetch attribute without a section, by its upper-case name."""

    name: str


@dataclass(frozen=True, slots=True)
class Section:
    """``section-spec``: a part path (``1.2.3``, empty for the whole message) and a text."""

    part: tuple[int, ...] = ()
    text: str | None = None  # HEADER, HEADER.FIELDS(.NOT), TEXT, MIME
    fields: tuple[str, ...] = ()  # the header-list of HEADER.FIELDS(.NOT)


@dataclass(frozen=True, slots=True)
class BodySection:
    """``BODY[section]<partial>``; ``peek`` for BODY.PEEK (does not set \\Seen)."""

    section: Section = Section()
    peek: bool = False
    partial: tuple[int, int] | None = None  # (offset, length)


@dataclass(frozen=True, slots=True)
class BinarySection:
    """``BINARY[part]<partial>``, BINARY.PEEK, or ``BINARY.SIZE[part]`` (RFC 3516 §4.2)."""

    part: tuple[int, ...] = ()
    peek: bool = False
    partial: tuple[int, int] | None = None
    size_only: bool = False


FetchItem = FetchAtt | BodySection | BinarySection

# RFC 9051 §6.4.5: the macros, and what they stand for.
MACROS: Final = {
    b"ALL": (FetchAtt(FLAGS), FetchAtt(INTERNALDATE), FetchAtt(RFC822_SIZE), FetchAtt(ENVELOPE)),
    b"FAST": (FetchAtt(FLAGS), FetchAtt(INTERNALDATE), FetchAtt(RFC822_SIZE)),
    b"FULL": (
        FetchAtt(FLAGS),
        FetchAtt(INTERNALDATE),
        FetchAtt(RFC822_SIZE),
        FetchAtt(ENVELOPE),
        FetchAtt(BODY),
    ),
}

# Sections are tried before these; each name is taken only as a whole word.
_PLAIN_BY_LENGTH = sorted((n.encode("ascii") for n in PLAIN_ATTRIBUTES), key=len, reverse=True)


def parse_fetch_items(c: Cursor) -> tuple[FetchItem, ...]:
    """A macro, one fetch-att, or a parenthesised list of them."""
    for name, items in MACROS.items():
        if c.take_word(name):
            return items
    if c.peek() == 0x28:  # "("
        return tuple(parenthesised(c, parse_fetch_att, empty=False))
    return (parse_fetch_att(c),)


def parse_fetch_att(c: Cursor) -> FetchItem:
    if c.take(b"BINARY.SIZE"):
        return BinarySection(part=_binary_section(c), size_only=True)
    if c.take(b"BINARY"):
        peek = c.take(b".PEEK")
        part = _binary_section(c)
        return BinarySection(part=part, peek=peek, partial=_partial(c))
    if c.take(b"BODY.PEEK"):
        if c.peek() != 0x5B:  # "["
            raise c.error("[section] after BODY.PEEK")
        section = _section(c)
        return BodySection(section, peek=True, partial=_partial(c))
    if c.take(b"BODY["):
        c.pos -= 1
        section = _section(c)
        return BodySection(section, partial=_partial(c))
    for name in _PLAIN_BY_LENGTH:
        if c.take_word(name):
            return FetchAtt(name.decode("ascii"))
    raise c.error("fetch attribute")


def _part(c: Cursor) -> tuple[int, ...]:
    """``section-part = nz-number *("." nz-number)``."""
    part = [number(c, nonzero=True)]
    while c.peek() == 0x2E and c.line[c.pos + 1 : c.pos + 2].isdigit():
        c.pos += 1
        part.append(number(c, nonzero=True))
    return tuple(part)


def _binary_section(c: Cursor) -> tuple[int, ...]:
    """``section-binary = "[" [section-part] "]"``."""
    c.expect(b"[")
    part = () if c.peek() == 0x5D else _part(c)
    c.expect(b"]")
    return part


def _section(c: Cursor) -> Section:
    c.expect(b"[")
    if c.take(b"]"):
        return Section()
    part: tuple[int, ...] = ()
    if 0x30 <= c.peek() <= 0x39:
        part = _part(c)
        if c.take(b"]"):
            return Section(part)
        c.expect(b".", "'.' or ']' after section part")
    text, fields = _section_text(c, after_part=bool(part))
    c.expect(b"]")
    return Section(part, text, fields)


def _section_text(c: Cursor, *, after_part: bool) -> tuple[str, tuple[str, ...]]:
    if c.take(b"HEADER.FIELDS"):
        text = HEADER_FIELDS_NOT if c.take(b".NOT") else HEADER_FIELDS
        c.sp()
        fields = parenthesised(c, header_field_name, empty=False)
        return text, tuple(fields)
    if c.take(b"HEADER"):
        return HEADER, ()
    if c.take(b"TEXT"):
        return TEXT, ()
    # RFC 9051 §9: MIME is a section-text, allowed only after a part number.
    if after_part and c.take(b"MIME"):
        return MIME, ()
    raise c.error("HEADER, HEADER.FIELDS, TEXT" + (" or MIME" if after_part else ""))


def _partial(c: Cursor) -> tuple[int, int] | None:
    """``partial = "<" number64 "." nz-number64 ">"`` (RFC 9051 §9)."""
    if not c.take(b"<"):
        return None
    offset = number64(c)
    c.expect(b".")
    length = number64(c, nonzero=True)
    c.expect(b">")
    return (offset, length)


def parse_fetch_modifiers(c: Cursor) -> tuple[int | None, bool]:
    """``SP "(" fetch-modifier *(SP fetch-modifier) ")"``: CHANGEDSINCE, VANISHED (RFC 7162)."""
    changed_since: int | None = None
    vanished = False

    def modifier(c: Cursor) -> None:
        nonlocal changed_since, vanished
        if c.take(b"CHANGEDSINCE"):
            c.sp()
            changed_since = number64(c, nonzero=True)
        elif c.take(b"VANISHED"):
            vanished = True
        else:
            raise c.error("CHANGEDSINCE or VANISHED")

    parenthesised(c, modifier, empty=False)
    return changed_since, vanished
