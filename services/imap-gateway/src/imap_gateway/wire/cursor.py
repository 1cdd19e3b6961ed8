"""A cursor over one framed command and the grammar's small combinators (RFC 9051 §9).

The combinators read one production each (atom, astring, string, nstring,
number, parenthesised list ...) and raise :class:`ParseError` naming what was
expected where. Character classes are compiled regular expressions, so a long
token is matched in C, not byte by byte.

A literal is seen in place of a string: a line of a :class:`RawCommand` that
ends in ``{n}`` is followed by ``literals[i]``, and the cursor moves on to the
next line after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from imap_gateway.wire.errors import InvalidMailboxName, NestingTooDeep, ParseError
from imap_gateway.wire.framing import RawCommand
from imap_gateway.wire.limits import NUMBER64_MAX
from imap_gateway.wire.mailbox_names import NO_MAILBOX, decode_mailbox

T = TypeVar("T")

NUMBER_MAX = 2**32 - 1  # RFC 9051 §9: number is an unsigned 32-bit integer

# RFC 9051 §9: ATOM-CHAR is any CHAR except atom-specials: ( ) { SP CTL % * " \ ].
ATOM = re.compile(rb'[^(){ \x00-\x1f\x7f%*"\\\]\x80-\xff]+')
# ASTRING-CHAR = ATOM-CHAR / resp-specials ("]").
ASTRING = re.compile(rb'[^(){ \x00-\x1f\x7f%*"\\\x80-\xff]+')
# list-char = ATOM-CHAR / list-wildcards / resp-specials.
LIST_CHARS = re.compile(rb'[^(){ \x00-\x1f\x7f"\\\x80-\xff]+')
# tag = 1*<any ASTRING-CHAR except "+">.
TAG = re.compile(rb'[^(){ \x00-\x1f\x7f%*"\\+\x80-\xff]+')
# quoted = DQUOTE *QUOTED-CHAR DQUOTE; RFC 9051 adds UTF-8 (checked after the match).
QUOTED = re.compile(rb'"((?:[^"\\\r\n\x00]|\\["\\])*)"')
_UNESCAPE = re.compile(rb'\\(["\\])')
DIGITS = re.compile(rb"[0-9]+")
# RFC 5322 §3.6.8 ftext: a header field name is printable ASCII other than ":".
FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")
# literal / literal8 (RFC 9051 §9, RFC 7888 "+"), running to the end of its line.
LITERAL = re.compile(rb"(~?)\{[0-9]+\+?\}")


class Cursor:
    """Where the parser is in a :class:`RawCommand`; see the module docstring."""

    __slots__ = (
        "_base",
        "_index",
        "_lines",
        "_literals",
        "depth",
        "line",
        "max_depth",
        "pos",
        "tag",
        "utf8",
    )

    def __init__(self, raw: RawCommand, *, utf8: bool = False, max_depth: int = 32) -> None:
        self._lines = raw.lines
        self._literals = raw.literals
        self._index = 0
        self._base = 0  # octets of the lines and literals before the current line
        self.line = raw.lines[0]
        self.pos = 0
        self.depth = 0
        self.max_depth = max_depth
        self.tag: str | None = None
        # UTF8=ACCEPT (RFC 6855) or IMAP4rev2 enabled: mailbox names are UTF-8,
        # not modified UTF-7 (RFC 9051 §5.1).
        self.utf8 = utf8

    # --- position and errors -----------------------------------------------------------

    @property
    def offset(self) -> int:
        """Octets from the start of the command to the cursor (for error texts)."""
        return self._base + self.pos

    def error(self, expected: str) -> ParseError:
        return ParseError(
            f"{expected} expected at octet {self.offset}", tag=self.tag, position=self.offset
        )

    def peek(self) -> int:
        """The next octet, or -1 at the end of the line."""
        return self.line[self.pos] if self.pos < len(self.line) else -1

    def at_end(self) -> bool:
        return self.pos == len(self.line) and self._index == len(self._lines) - 1

    def end(self) -> None:
        """The command must end here (RFC 9051 §9: every command ends in CRLF)."""
        if not self.at_end():
            raise self.error("end of command")

    # --- single tokens -----------------------------------------------------------------

    def take(self, token: bytes) -> bool:
        """Consume ``token`` (ASCII, case-insensitive) if it comes next."""
        end = self.pos + len(token)
        if self.line[self.pos : end].upper() == token:
            self.pos = end
            return True
        return False

    def take_word(self, token: bytes) -> bool:
        """Like :meth:`take`, but only a whole word: ``ALL`` does not take ``ALLX``."""
        end = self.pos + len(token)
        if self.line[self.pos : end].upper() != token or ATOM.match(self.line, end):
            return False
        self.pos = end
        return True

    def expect(self, token: bytes, what: str | None = None) -> None:
        if not self.take(token):
            raise self.error(what or repr(token.decode("ascii")))

    def sp(self) -> None:
        if self.pos < len(self.line) and self.line[self.pos] == 0x20:
            self.pos += 1
            return
        raise self.error("SP")

    def match(self, pattern: re.Pattern[bytes]) -> re.Match[bytes] | None:
        found = pattern.match(self.line, self.pos)
        if found is not None:
            self.pos = found.end()
        return found

    def chars(self, pattern: re.Pattern[bytes], what: str) -> bytes:
        found = self.match(pattern)
        if found is None:
            raise self.error(what)
        return found.group()

    def literal(self, *, binary: bool = False) -> bytes | None:
        """The literal announced here, or None; the cursor moves past it."""
        found = LITERAL.fullmatch(self.line, self.pos)
        if found is None:
            return None
        if found.group(1) and not binary:
            raise self.error("string (literal8 is for APPEND only)")
        data = self._literals[self._index]
        if not found.group(1) and b"\0" in data:
            # RFC 9051 §9: literal holds CHAR8 (no NUL); RFC 3516 literal8 may hold any.
            raise self.error("literal without NUL (use literal8)")
        self._base += len(self.line) + 2 + len(data)
        self._index += 1
        self.line = self._lines[self._index]
        self.pos = 0
        return data

    # --- nesting -----------------------------------------------------------------------

    def enter(self) -> None:
        """One level deeper; bounds the parser's recursion (WireLimits.max_nesting_depth)."""
        self.depth += 1
        if self.depth > self.max_depth:
            raise NestingTooDeep(
                f"nested more than {self.max_depth} levels at octet {self.offset}",
                tag=self.tag,
                position=self.offset,
            )

    def leave(self) -> None:
        self.depth -= 1


# --- combinators (RFC 9051 §9) ---------------------------------------------------------


def atom(c: Cursor) -> str:
    return c.chars(ATOM, "atom").decode("ascii")


def quoted(c: Cursor) -> bytes | None:
    found = c.match(QUOTED)
    if found is None:
        return None
    value = found.group(1)
    if b"\\" in value:
        value = _UNESCAPE.sub(rb"\1", value)
    if not value.isascii():
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            # RFC 9051 §9 QUOTED-CHAR: 8-bit octets only as UTF-8.
            c.pos = found.start()
            raise c.error("UTF-8 in quoted string") from None
    return value


def string(c: Cursor, *, binary: bool = False) -> bytes:
    """``string = quoted / literal`` (with ``literal8`` where ``binary``)."""
    value = quoted(c)
    if value is None:
        value = c.literal(binary=binary)
    if value is None:
        raise c.error("string")
    return value


def astring(c: Cursor) -> bytes:
    """``astring = 1*ASTRING-CHAR / string``."""
    found = c.match(ASTRING)
    if found is not None:
        return found.group()
    return string(c)


def nstring(c: Cursor) -> bytes | None:
    if c.take(b"NIL"):
        return None
    return string(c)


def list_mailbox(c: Cursor) -> bytes:
    """``list-mailbox = 1*list-char / string`` (LIST patterns with % and *)."""
    found = c.match(LIST_CHARS)
    if found is not None:
        return found.group()
    return string(c)


def mailbox(c: Cursor) -> str:
    """``mailbox = "INBOX" / astring``, decoded (modified UTF-7, or UTF-8 when ``c.utf8``);
    InvalidMailboxName (NO) when it decodes to no name."""
    position = c.offset
    try:
        return decode_mailbox(astring(c), utf8=c.utf8)
    except ValueError:
        text = "Not a mailbox name in " + ("UTF-8" if c.utf8 else "modified UTF-7")
        raise InvalidMailboxName(text, tag=c.tag, position=position) from None


def list_pattern(c: Cursor) -> str:
    """A LIST pattern (``list-mailbox``), decoded as a mailbox name; one that decodes
    to no name matches no mailbox (LIST answers OK with nothing, as Dovecot does)."""
    try:
        return decode_mailbox(list_mailbox(c), utf8=c.utf8)
    except ValueError:
        return NO_MAILBOX


def header_field_name(c: Cursor) -> str:
    """``header-fld-name = astring`` holding an RFC 5322 field name."""
    if c.peek() in (-1, 0x29):  # ")"
        raise c.error("header field name")
    name = astring(c)
    if FIELD_NAME.fullmatch(name) is None:
        raise c.error("header field name")
    return name.decode("ascii")


def number(c: Cursor, *, limit: int = NUMBER_MAX, nonzero: bool = False) -> int:
    """``number`` (32-bit), ``nz-number`` with ``nonzero``, ``number64`` with ``limit``."""
    what = "non-zero number" if nonzero else "number"
    found = c.match(DIGITS)
    if found is None:
        raise c.error(what)
    digits = found.group()
    value = int(digits) if len(digits) <= 20 else limit + 1
    if value > limit or (nonzero and value == 0):
        c.pos = found.start()
        raise c.error(f"{what} up to {limit}")
    return value


def number64(c: Cursor, *, nonzero: bool = False) -> int:
    return number(c, limit=NUMBER64_MAX, nonzero=nonzero)


def parenthesised(c: Cursor, item: Callable[[Cursor], T], *, empty: bool = True) -> list[T]:
    """``"(" [item *(SP item)] ")"``; ``empty=False`` asks for at least one item."""
    c.expect(b"(")
    c.enter()
    items: list[T] = []
    if not (empty and c.take(b")")):
        items.append(item(c))
        while not c.take(b")"):
            if c.peek() != 0x20:
                raise c.error("SP or ')'")
            c.pos += 1
            items.append(item(c))
    c.leave()
    return items


def space_separated(c: Cursor, item: Callable[[Cursor], T]) -> list[T]:
    """``item *(SP item)`` running to the end of the command."""
    items = [item(c)]
    while not c.at_end():
        c.sp()
        items.append(item(c))
    return items
