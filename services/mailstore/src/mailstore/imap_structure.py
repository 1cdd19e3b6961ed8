"""The IMAP view of a message's structure, computed once at delivery (pure; no DB).

:func:`describe` reads the raw message and returns a JSON-able description:
the ENVELOPE fields (RFC 3501 §7.4.2, RFC 9051 §7.5.2) and the MIME tree
with every value BODYSTRUCTURE needs, plus the byte offsets of each part's
header and body within the raw message. The IMAP gateway formats ENVELOPE,
BODY and BODYSTRUCTURE from it (``imap_gateway.structure``) and serves
``BODY[section]`` as slices of the raw bytes, so both are the same every time
a client asks (clients cache them).

The shape (version 1)::

    {"version": 1, "envelope": ENVELOPE, "body": PART}
    ENVELOPE = {"date", "subject", "in_reply_to", "message_id": str | None,
                "from", "sender", "reply_to", "to", "cc", "bcc": [ADDRESS] | None}
    ADDRESS  = [name, adl, mailbox, host]   each str | None; a group is opened by
               [None, None, group name, None] and closed by [None, None, None, None]
    PART     = {"type", "subtype": str, "params": [[name, value]] | None,
                "id", "description", "encoding", "md5", "location": str | None,
                "disposition": [value, [[name, value]] | None] | None,
                "language": [str] | None,
                "header": [start, end], "body": [start, end], "lines": int,
                "parts": [PART]                        (multipart only)
                "message": {"envelope", "body"}}       (message/rfc822 only)

Strings hold the header's octets one code point per octet (ISO-8859-1), so
8-bit header bytes survive JSON unchanged: ``value.encode("latin-1")`` gives
them back. NUL, which a header may not hold, becomes 0x80.

How broken mail is read follows Dovecot's message parser, which clients have
met for twenty years: a boundary is recognised by its prefix, the innermost
longest match wins, a missing final boundary ends the part at the end of the
message, Content-* fields count only in a MIME entity (MIME-Version or
Content-Type present, or inside a multipart), and nothing ever raises.
docs/imap.md "Differences from Dovecot" lists where we differ and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

VERSION = 1

# Deeper nesting than this is not parsed: a multipart or message/rfc822 part at
# this depth is described as an application/octet-stream leaf. Real mail nests a
# handful of levels; this bounds the recursion and the description's size.
MAX_DEPTH = 50
# Parts in one message, all levels; after this many, boundaries are no longer
# recognised (the rest is body text of the part that holds it).
MAX_PARTS = 5000
# RFC 2046 §5.1.1 allows 70 characters; longer boundaries are compared by this
# prefix, as Dovecot does, so a 7,000-character boundary still works.
MAX_BOUNDARY = 80
# A header field name longer than this is taken as a line of value (RFC 5322
# sets no limit; this only keeps names out of memory-hungry comparisons).
MAX_FIELD_NAME = 1000

_LWSP = b" \t"
_ATEXT = re.compile(rb"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff]+")
_ATEXT_DOT = re.compile(rb"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.\x80-\xff]*")
# RFC 2045 §5.1 token: atext without tspecials ("/", "=", "?"), plus ".".
_TOKEN = re.compile(rb"[A-Za-z0-9!#$%&'*+\-^_`{|}~.\x80-\xff]*")
_FOLD = re.compile(rb"\r?\n")
_ENVELOPE_STRINGS = {b"date": "date", b"subject": "subject"}
_ENVELOPE_STRINGS |= {b"in-reply-to": "in_reply_to", b"message-id": "message_id"}
_ENVELOPE_ADDRESSES = {b"from": "from", b"sender": "sender", b"reply-to": "reply_to"}
_ENVELOPE_ADDRESSES |= {b"to": "to", b"cc": "cc", b"bcc": "bcc"}

JSON = dict[str, Any]


def describe(raw: bytes) -> JSON:
    """The description of ``raw`` (see the module docstring); never raises."""
    root, _ = _Parser(raw).entity(0, (), 0, None)
    return {"version": VERSION, "envelope": root.envelope(), "body": root.describe()}


# --- text of header values --------------------------------------------------------------------


def _text(value: bytes) -> str:
    return value.replace(b"\0", b"\x80").decode("latin-1")


def _unfold(value: bytes) -> bytes:
    """RFC 5322 §2.2.3: unfolding removes each CRLF that precedes WSP.

    Our joined values hold LF between the lines of a field. A CR or LF that is
    not followed by WSP (a broken fold) becomes one space, so words stay apart.
    """
    if b"\n" not in value and b"\r" not in value:
        return value
    return _BROKEN_FOLD.sub(b" ", _FOLD_BEFORE_WSP.sub(b"", value))


_FOLD_BEFORE_WSP = re.compile(rb"[\r\n]+(?![^ \t])")
_BROKEN_FOLD = re.compile(rb"[\r\n]+")


# --- RFC 5322 / RFC 2045 lexical scanning ------------------------------------------------------


class _Lex:
    """A cursor over one field value: CFWS, atoms, quoted strings, tokens."""

    __slots__ = ("comment", "data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.comment = b""

    def more(self) -> bool:
        return self.pos < len(self.data)

    def peek(self) -> int:
        return self.data[self.pos] if self.pos < len(self.data) else -1

    def cfws(self) -> bool:
        """Skip whitespace and comments; False on an unclosed comment (broken)."""
        data = self.data
        while self.pos < len(data):
            ch = data[self.pos]
            if ch in b" \t\r\n":
                self.pos += 1
            elif ch == 0x28:  # "("
                if not self._comment():
                    return False
            else:
                break
        return True

    def _comment(self) -> bool:
        data, depth, out = self.data, 0, bytearray()
        pos = self.pos
        while pos < len(data):
            ch = data[pos]
            if ch == 0x5C and pos + 1 < len(data):  # quoted-pair
                out.append(data[pos + 1])
                pos += 2
                continue
            if ch == 0x28:
                depth += 1
                if depth > 1:
                    out.append(ch)
            elif ch == 0x29:
                depth -= 1
                if depth == 0:
                    self.pos = pos + 1
                    self.comment = bytes(out)
                    return True
                out.append(ch)
            elif ch not in b"\r\n":
                out.append(ch)
            pos += 1
        self.pos = len(data)
        return False

    def match(self, pattern: re.Pattern[bytes]) -> bytes:
        found = pattern.match(self.data, self.pos)
        if found is None:
            return b""
        self.pos = found.end()
        return found.group()

    def quoted(self) -> bytes | None:
        """A quoted-string's content (escapes and folds removed); None if unclosed."""
        data, pos, out = self.data, self.pos + 1, bytearray()
        while pos < len(data):
            ch = data[pos]
            if ch == 0x22:
                self.pos = pos + 1
                return bytes(out)
            if ch == 0x5C and pos + 1 < len(data) and data[pos + 1] not in b"\r\n\0":
                out.append(data[pos + 1])
                pos += 2
                continue
            if ch not in b"\r\n":
                out.append(ch)
            pos += 1
        self.pos = len(data)
        return None

    def phrase(self) -> bytes:
        """RFC 5322 phrase / obs-phrase: words joined by one space."""
        words = []
        while self.more():
            ch = self.peek()
            if ch == 0x22:
                word = self.quoted()
                if word is None:
                    words.append(b"")
                    break
                words.append(word)
            else:
                word = self.match(_ATEXT_DOT)
                if not word:
                    break
                words.append(word)
            if not self.cfws():
                break
        return b" ".join(words)


# --- addresses (RFC 5322 §3.4, with the obsolete forms of §4.4) --------------------------------

# When a part of an address is missing its field cannot be NIL (NIL host marks a
# group, RFC 3501 §7.4.2), so a placeholder says what was missing, as Dovecot's do.
MISSING_MAILBOX = "MISSING_MAILBOX"
MISSING_DOMAIN = "MISSING_DOMAIN"
SYNTAX_ERROR = "SYNTAX_ERROR"


def parse_address_list(value: bytes) -> list[list[str | None]]:
    """An address field's value as ENVELOPE lists it: (name, route, mailbox,
    host) each, encoded words as written; a group between (None, None, name,
    None) and four Nones (RFC 9051 §7.5.2). SEARCH FROM/TO/CC/BCC read it too."""
    return _addresses(value)


def _addresses(value: bytes) -> list[list[str | None]]:
    lex = _Lex(value)
    out: list[list[str | None]] = []
    if not lex.cfws() or not lex.more():
        return out
    while True:
        if not _group(lex, out):
            _mailbox(lex, out)
        if not lex.more() or lex.peek() != 0x2C:  # ","
            break
        while lex.peek() == 0x2C:
            lex.pos += 1
            lex.cfws()
        if not lex.more():
            break
    return out


def _group(lex: _Lex, out: list[list[str | None]]) -> bool:
    start = lex.pos
    name = lex.phrase()
    if lex.peek() != 0x3A or not name:  # ":"
        lex.pos = start
        return False
    lex.pos += 1
    out.append([None, None, _text(name), None])
    lex.cfws()
    while lex.more() and lex.peek() != 0x3B:  # ";"
        _mailbox(lex, out)
        if lex.peek() != 0x2C:
            break
        lex.pos += 1
        lex.cfws()
    if lex.peek() == 0x3B:
        lex.pos += 1
        lex.cfws()
    out.append([None, None, None, None])
    return True


def _mailbox(lex: _Lex, out: list[list[str | None]]) -> None:
    start = lex.pos
    name = lex.phrase()
    if lex.peek() == 0x3C:  # "<": name-addr
        route, mailbox, domain, ok = _angle_addr(lex)
        host = domain if ok else SYNTAX_ERROR
        out.append(_address(name or None, route, mailbox, host))
        return
    lex.pos = start
    lex.comment = b""
    mailbox = _local_part(lex)
    domain = None
    if mailbox is not None and lex.peek() == 0x40:  # "@"
        lex.pos += 1
        domain = _domain(lex)
    comment = lex.comment or None
    if mailbox is not None and domain is None and comment is None:
        rest = lex.phrase()
        if rest:  # "user name" without @: a display name, not a mailbox
            out.append(_address(mailbox + b" " + rest, None, None, None))
            return
    if mailbox is None and domain is None and not comment:
        _skip_garbage(lex)
    out.append(_address(comment, None, mailbox, domain))


def _skip_garbage(lex: _Lex) -> None:
    while lex.more() and lex.peek() != 0x2C:
        if lex.peek() == 0x22:
            lex.quoted()
        else:
            lex.pos += 1


def _address(
    name: bytes | None, route: bytes | None, mailbox: bytes | None, host: bytes | str | None
) -> list[str | None]:
    box = _text(mailbox) if mailbox else MISSING_MAILBOX
    domain = host if isinstance(host, str) else _text(host) if host else MISSING_DOMAIN
    return [
        None if name is None else _text(name),
        None if route is None else _text(route),
        box,
        domain,
    ]


def _angle_addr(lex: _Lex) -> tuple[bytes | None, bytes | None, bytes | None, bool]:
    lex.pos += 1
    lex.cfws()
    route = None
    if lex.peek() == 0x40:  # obs-route "@a,@b:"
        hops = []
        while lex.peek() == 0x40:
            lex.pos += 1
            hops.append(b"@" + (_domain(lex) or b""))
            while lex.peek() in (0x2C, 0x20, 0x09):  # ",", SP, TAB
                lex.pos += 1
                lex.cfws()
        route = b",".join(hops)
        if lex.peek() == 0x3A:
            lex.pos += 1
            lex.cfws()
    if lex.peek() == 0x3E:  # "<>"
        lex.pos += 1
        lex.cfws()
        return route, None, None, True
    mailbox = _local_part(lex)
    domain = None
    if lex.peek() == 0x40:
        lex.pos += 1
        domain = _domain(lex)
    if lex.peek() != 0x3E:
        while lex.more() and lex.peek() != 0x3E:
            lex.pos += 1
        lex.pos += 1
        lex.cfws()
        return route, mailbox, domain, False
    lex.pos += 1
    lex.cfws()
    return route, mailbox, domain, True


def _local_part(lex: _Lex) -> bytes | None:
    if lex.peek() == 0x22:
        word = lex.quoted()
        lex.cfws()
        return word
    words = []
    while True:
        word = lex.match(_ATEXT)
        lex.cfws()
        if lex.peek() != 0x2E:  # "."
            words.append(word)
            break
        words.append(word)
        lex.pos += 1
        lex.cfws()
        if lex.peek() == 0x22:
            quoted = lex.quoted()
            words.append(quoted or b"")
            lex.cfws()
            if lex.peek() != 0x2E:
                break
            lex.pos += 1
            lex.cfws()
            words.append(b"")
            words.pop()
    joined = b".".join(words)
    return joined or None


def _domain(lex: _Lex) -> bytes | None:
    lex.cfws()
    if lex.peek() == 0x5B:  # domain-literal, kept with its brackets
        end = lex.data.find(b"]", lex.pos)
        if end < 0:
            return None
        literal = _FOLD.sub(b"", lex.data[lex.pos : end + 1])
        lex.pos = end + 1
        lex.cfws()
        return literal
    words = []
    while True:
        word = lex.match(_ATEXT)
        if not word:
            break
        words.append(word)
        lex.cfws()
        if lex.peek() != 0x2E:
            break
        lex.pos += 1
        lex.cfws()
    return b".".join(words) or None


# --- MIME field values (RFC 2045 §5.1, §6.1; RFC 2183; RFC 2231; RFC 3282) ---------------------


def _content_type(value: bytes) -> tuple[bytes, bytes, list[list[str]] | None, bool]:
    """(type, subtype, params, valid); an invalid value has empty type and subtype."""
    lex = _Lex(value)
    lex.cfws()
    kind = lex.match(_TOKEN)
    lex.cfws()
    if not kind or lex.peek() != 0x2F:  # "/"
        return b"", b"", None, False
    lex.pos += 1
    lex.cfws()
    subtype = lex.match(_TOKEN)
    lex.cfws()
    if not subtype or (lex.more() and lex.peek() != 0x3B):
        return b"", b"", None, False
    return kind, subtype, _params(lex), True


def _params(lex: _Lex) -> list[list[str]] | None:
    plain: list[tuple[bytes, bytes]] = []
    pieces: list[tuple[bytes, int, bool, bytes]] = []  # RFC 2231 key*n[*]
    while lex.more():
        if lex.peek() != 0x3B:  # broken: resynchronise at the next ";"
            lex.pos += 1
            continue
        lex.pos += 1
        lex.cfws()
        key = lex.match(_TOKEN)
        lex.cfws()
        if not key or lex.peek() != 0x3D:  # "="
            continue
        lex.pos += 1
        if not lex.cfws() or not lex.more():
            value = b""
        elif lex.peek() == 0x22:
            value = lex.quoted() or b""
        elif lex.peek() == 0x3D:  # name==?utf-8?b?...?= (RFC 2047 where it may not be)
            value = lex.match(re.compile(rb"[^; \t\r\n]*"))
        else:
            value = lex.match(_TOKEN)
        lex.cfws()
        piece = _rfc2231_piece(key)
        if piece is None:
            plain.append((key, value))
        else:
            pieces.append((*piece, value))
    params = [[_text(k), _text(v)] for k, v in plain] + _merge_rfc2231(pieces)
    return params or None


# RFC 2231 §3, §4: name*n (a section), name*n* and name* (charset'language'%xx).
_RFC2231_KEY = re.compile(rb"([^*]+)\*([0-9]*)(\*?)")


def _rfc2231_piece(key: bytes) -> tuple[bytes, int, bool] | None:
    """(name, section, extended) of an RFC 2231 parameter name, else None."""
    found = _RFC2231_KEY.fullmatch(key)
    if found is None:
        return None
    name, digits, star = found.groups()
    if not digits:  # name* (and the odd name**) is section 0, extended
        return name, 0, True
    return name, int(digits), bool(star)


def _merge_rfc2231(pieces: list[tuple[bytes, int, bool, bytes]]) -> list[list[str]]:
    """RFC 2231 §3-4: ``name*0*``, ``name*1`` ... joined into ``name*`` (or ``name``)."""
    out: list[list[str]] = []
    names: dict[bytes, list[tuple[int, bool, bytes]]] = {}
    for key, number, extended, value in pieces:
        names.setdefault(key.lower(), []).append((number, extended, value))
    originals = {key.lower(): key for key, *_ in pieces}
    for lower in sorted(names):
        items = sorted(names[lower], key=lambda item: item[0])
        key = originals[lower]
        if [number for number, _, _ in items] != list(range(len(items))):
            for number, extended, value in items:
                out.append(
                    [_text(key + b"*%d" % number + (b"*" if extended else b"")), _text(value)]
                )
            continue
        extended_any = any(extended for _, extended, _ in items)
        joined = b"".join(
            _percent(value) if extended_any and not extended else value
            for _, extended, value in items
        )
        if extended_any and not items[0][1]:
            joined = b"''" + joined
        out.append([_text(key + (b"*" if extended_any else b"")), _text(joined)])
    return out


def _percent(value: bytes) -> bytes:
    """RFC 2231 §7: outside attribute-char, an extended value holds %xx."""
    return _NOT_ATTRIBUTE_CHAR.sub(lambda m: b"%%%02X" % m.group()[0], value)


_NOT_ATTRIBUTE_CHAR = re.compile(rb"[^A-Za-z0-9!#$&+\-.^_`{|}~]")


def _token_value(value: bytes) -> bytes | None:
    lex = _Lex(value)
    lex.cfws()
    token = lex.match(_TOKEN)
    lex.cfws()
    return token if token and not lex.more() else None


def _disposition(value: bytes) -> list[Any]:
    lex = _Lex(value)
    lex.cfws()
    kind = lex.match(_TOKEN)
    lex.cfws()
    return [_text(kind), _params(lex)]


def _languages(value: bytes) -> list[str] | None:
    lex = _Lex(value)
    lex.cfws()
    tags = []
    while True:
        tag = lex.match(_ATEXT)
        if not tag:
            break
        tags.append(_text(tag))
        lex.cfws()
        if lex.peek() != 0x2C:
            break
        lex.pos += 1
        lex.cfws()
    return tags or None


# --- the MIME tree -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Boundary:
    text: bytes
    owner: _Entity


@dataclass(slots=True)
class _Hit:
    """A boundary line found: ``start`` is where its preceding newline begins."""

    boundary: _Boundary
    start: int
    line: int
    close: bool


@dataclass(slots=True)
class _Entity:
    header: tuple[int, int] = (0, 0)
    body: tuple[int, int] = (0, 0)
    fields: list[tuple[bytes, bytes]] = field(default_factory=list)
    kind: str = "text"  # text, multipart, message, other
    digest: bool = False
    mime: bool = False
    content_type: tuple[bytes, bytes, list[list[str]] | None, bool] | None = None
    boundary: bytes | None = None
    truncated: bool = False
    lines: int = 0
    children: list[_Entity] = field(default_factory=list)

    def envelope(self) -> JSON:
        strings: dict[str, str | None] = dict.fromkeys(_ENVELOPE_STRINGS.values())
        lists: dict[str, list[list[str | None]] | None] = dict.fromkeys(
            _ENVELOPE_ADDRESSES.values()
        )
        for name, value in self.fields:
            key = name.lower()
            if key in _ENVELOPE_STRINGS:
                slot = _ENVELOPE_STRINGS[key]
                if strings[slot] is None:
                    strings[slot] = _text(_unfold(value))
            elif key in _ENVELOPE_ADDRESSES:
                # Every From (To, ...) field counts, as if one list: a client
                # that shows them all cannot be shown one address while another
                # was checked.
                found = _addresses(value)
                slot = _ENVELOPE_ADDRESSES[key]
                if found:
                    lists[slot] = (lists[slot] or []) + found
        lists["sender"] = lists["sender"] or lists["from"]
        lists["reply_to"] = lists["reply_to"] or lists["from"]
        return {**strings, **lists}

    def describe(self) -> JSON:
        content = self._content()
        out: JSON = {
            **content,
            "header": list(self.header),
            "body": list(self.body),
            "lines": self.lines,
        }
        if self.kind == "multipart":
            # RFC 2046 §5.1 wants at least one part; a multipart without any is
            # described with one empty text/plain part where its body starts.
            empty = {**_EMPTY_PART, "header": [self.body[0]] * 2, "body": [self.body[0]] * 2}
            out["parts"] = [child.describe() for child in self.children] or [empty]
        elif self.kind == "message":
            inner = self.children[0]
            out["message"] = {"envelope": inner.envelope(), "body": inner.describe()}
        return out

    def _content(self) -> JSON:
        seen: dict[bytes, bytes] = {}
        if self.mime:
            for name, value in self.fields:
                key = name.lower()
                if key.startswith(b"content-") and key not in seen:
                    seen[key] = value
        kind, subtype, params, _ = self.content_type or (b"", b"", None, False)
        if not self.mime:
            kind, subtype, params = b"", b"", None
        if self.kind == "message":
            type_, sub = "message", "rfc822"
        elif self.truncated:
            type_, sub = "application", "octet-stream"
        elif self.content_type is None or not self.mime:
            type_, sub = "text", "plain"
        else:
            type_, sub = _text(kind), _text(subtype)
        if type_.lower() == "text" and self.kind != "multipart":
            params = list(params or [])
            if not any(name.lower() == "charset" for name, _ in params):
                params.append(["charset", "us-ascii"])
        encoding = seen.get(b"content-transfer-encoding")
        disposition = seen.get(b"content-disposition")
        language = seen.get(b"content-language")
        return {
            "type": type_,
            "subtype": sub,
            "params": params or None,
            "id": _nolf(seen.get(b"content-id")),
            "description": _nolf(seen.get(b"content-description")),
            "encoding": _text(_token_value(encoding) or b"7bit") if encoding else "7bit",
            "md5": _nolf(seen.get(b"content-md5")),
            "disposition": None if disposition is None else _disposition(disposition),
            "language": None if language is None else _languages(language),
            "location": _nolf(seen.get(b"content-location")),
        }


_EMPTY_PART: JSON = {
    "type": "text",
    "subtype": "plain",
    "params": [["charset", "us-ascii"]],
    "id": None,
    "description": None,
    "encoding": "7bit",
    "md5": None,
    "disposition": None,
    "language": None,
    "location": None,
    "header": [0, 0],
    "body": [0, 0],
    "lines": 0,
}


def _nolf(value: bytes | None) -> str | None:
    return None if value is None else _text(_unfold(value))


def _join_folds(fields: list[tuple[bytes, bytes]], continued: dict[int, list[bytes]]) -> None:
    """Append the folded lines to their fields, LF between lines (see _unfold)."""
    for index, lines in continued.items():
        name, value = fields[index]
        fields[index] = (name, b"\n".join([value, *lines]))
    continued.clear()


class _Parser:
    """One pass over the message: each entity reads its header, then its body."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.parts = 0

    def entity(
        self, start: int, boundaries: tuple[_Boundary, ...], depth: int, parent: _Entity | None
    ) -> tuple[_Entity, _Hit | None]:
        """The entity at ``start`` and the boundary line that ended it (None: the end)."""
        self.parts += 1
        part = _Entity()
        part.mime = parent is not None and parent.kind == "multipart"
        hit = self._header(part, start, boundaries, parent, depth)
        self._classify(part, parent, depth)
        if hit is None:
            hit = self._body(part, boundaries, depth)
        else:
            # A boundary cut the header short: the body is empty, and so is
            # the message a message/rfc822 part holds.
            end = part.header[1]
            part.body = (end, end)
            if part.kind == "message":
                part.children.append(_Entity(header=(end, end), body=(end, end)))
        part.lines = self.raw.count(b"\n", *part.body)
        return part, hit

    def _header(
        self,
        part: _Entity,
        start: int,
        boundaries: tuple[_Boundary, ...],
        parent: _Entity | None,
        depth: int,
    ) -> _Hit | None:
        """RFC 5322 §2.2: fields up to the empty line; a boundary line ends them too."""
        continued: dict[int, list[bytes]] = {}
        hit = self._fields(part, start, boundaries, parent, depth, part.fields, continued)
        _join_folds(part.fields, continued)
        return hit

    def _fields(
        self,
        part: _Entity,
        start: int,
        boundaries: tuple[_Boundary, ...],
        parent: _Entity | None,
        depth: int,
        fields: list[tuple[bytes, bytes]],
        continued: dict[int, list[bytes]],
    ) -> _Hit | None:
        raw, pos, newline = self.raw, start, 0
        while pos < len(raw):
            if boundaries and raw.startswith(b"--", pos):
                hit = self._boundary_at(pos, boundaries)
                if hit is not None:
                    # The newline before a boundary line belongs to the boundary
                    # (RFC 2046 §5.1.1), not to this header.
                    hit.start = pos - newline
                    part.header = (start, hit.start)
                    return hit
            line_start = pos
            end = raw.find(b"\n", pos)
            if end < 0:
                line, pos, newline = raw[pos:], len(raw), 0
            else:
                line, pos, newline = raw[pos:end], end + 1, 1
                if line.endswith(b"\r"):
                    line, newline = line[:-1], 2
            if not line:
                # An empty line right before the boundary of an enclosing
                # multipart is the CRLF that begins that delimiter (RFC 2046
                # §5.1.1): the header has no end of its own, the body is empty.
                # A multipart's own first boundary may follow its header at once.
                if boundaries and raw.startswith(b"--", pos):
                    _join_folds(fields, continued)
                    self._classify(part, parent, depth)
                    own = _Boundary(part.boundary, part) if part.boundary else None
                    hit = self._boundary_at(pos, boundaries if own is None else (own, *boundaries))
                    if hit is not None and hit.boundary is not own:
                        hit.start = line_start
                        part.header = (start, line_start)
                        return hit
                break
            if line[0] in _LWSP and fields:
                # Joined once at the end: a field folded over thousands of lines
                # must not be copied once per line.
                continued.setdefault(len(fields) - 1, []).append(line)
                continue
            colon = line.find(b":")
            if colon < 0 or colon > MAX_FIELD_NAME:
                fields.append((b"", line))
                continue
            value = line[colon + 1 :]
            stripped = value.lstrip(_LWSP)
            fields.append((line[:colon].rstrip(_LWSP), stripped))
        part.header = (start, pos)
        return None

    def _classify(self, part: _Entity, parent: _Entity | None, depth: int) -> None:
        for name, value in part.fields:
            lower = name.lower()
            if lower == b"mime-version":
                part.mime = True
            elif lower == b"content-type":
                part.mime = True
                if part.content_type is None:
                    part.content_type = _content_type(value)
        declared = part.content_type
        if declared is None or not part.mime:
            # RFC 2046 §5.1.5: in a digest the default is message/rfc822.
            part.kind = "message" if parent is not None and parent.digest else "text"
        else:
            kind, subtype, params, _ = declared
            kind, subtype = kind.lower(), subtype.lower()
            if kind == b"message" and subtype == b"rfc822":
                part.kind = "message"
            elif kind == b"text":
                part.kind = "text"
            elif kind == b"multipart":
                part.kind = "multipart"
                part.digest = subtype == b"digest"
                for key, text in params or []:
                    if key.lower() == "boundary":
                        part.boundary = text.encode("latin-1")[:MAX_BOUNDARY]
                        break
            else:
                part.kind = "other"
        if part.kind in ("multipart", "message") and (
            depth + 1 >= MAX_DEPTH or self.parts >= MAX_PARTS
        ):
            part.kind, part.truncated = "other", True

    def _body(self, part: _Entity, boundaries: tuple[_Boundary, ...], depth: int) -> _Hit | None:
        start = part.header[1]
        if part.kind == "multipart" and part.boundary:
            hit = self._multipart(part, start, boundaries, depth)
        elif part.kind == "message":
            child, hit = self.entity(start, boundaries, depth + 1, part)
            part.children.append(child)
        else:
            hit = self._scan(start, boundaries)
        part.body = (start, len(self.raw) if hit is None else hit.start)
        return hit

    def _multipart(
        self, part: _Entity, start: int, outer: tuple[_Boundary, ...], depth: int
    ) -> _Hit | None:
        assert part.boundary is not None
        own = _Boundary(part.boundary, part)
        boundaries = (own, *outer)
        hit = self._scan(start, boundaries)
        while hit is not None and hit.boundary is own:
            line_end = self.raw.find(b"\n", hit.line)
            if line_end < 0:
                return None
            if hit.close:
                # The epilogue runs to a boundary of an enclosing multipart.
                return self._scan(line_end + 1, outer)
            child, hit = self.entity(line_end + 1, boundaries, depth + 1, part)
            part.children.append(child)
        return hit

    def _scan(self, start: int, boundaries: tuple[_Boundary, ...]) -> _Hit | None:
        """The first boundary line at or after ``start`` (a line start)."""
        if not boundaries:
            return None
        raw = self.raw
        if raw.startswith(b"--", start):
            hit = self._boundary_at(start, boundaries)
            if hit is not None:
                return hit
        pos = start
        while (pos := raw.find(b"\n--", pos)) >= 0:
            hit = self._boundary_at(pos + 1, boundaries)
            if hit is not None:
                hit.start = pos - 1 if pos > start and raw[pos - 1] == 0x0D else pos
                return hit
            pos += 1
        return None

    def _boundary_at(self, line: int, boundaries: tuple[_Boundary, ...]) -> _Hit | None:
        """RFC 2046 §5.1.1: ``--boundary`` at a line start; the longest, innermost match.

        Only the boundary's prefix needs to match (trailing garbage is allowed),
        so among nested boundaries that prefix one another the longest wins.
        """
        if self.parts >= MAX_PARTS:
            return None
        raw = self.raw
        end = raw.find(b"\n", line)
        if end < 0:
            end = len(raw)
        if end > line and raw[end - 1] == 0x0D:
            end -= 1
        text = raw[line + 2 : end]
        dashes = len(text) > 2 and text.endswith(b"--")
        best: _Boundary | None = None
        for boundary in boundaries:
            size = len(boundary.text)
            if text.startswith(boundary.text) and (best is None or len(best.text) < size):
                best = boundary
                if size == len(text) or (dashes and size == len(text) - 2):
                    break
        if best is None:
            return None
        close = text[len(best.text) : len(best.text) + 2] == b"--"
        return _Hit(best, line, line, close)
