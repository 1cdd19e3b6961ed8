"""``BODY[section]<partial>`` from a message's raw bytes (RFC 9051 §6.4.5, RFC 3501 §6.4.5).

Pure and deterministic: the same bytes and section always give the same octets,
as clients cache them. Used by the in-memory backend and by the mail store's.

The rules:

- A header is every line up to and including the first empty line (the blank
  line belongs to it); without an empty line the whole entity is header and its
  text is empty. Lines end in LF, with or without a CR before it.
- ``HEADER.FIELDS (a b)``: the fields named (case-insensitively), in message
  order, each with its folded continuation lines, then CRLF for the blank line;
  ``HEADER.FIELDS.NOT`` the others. An entity without any of them gives CRLF.
- Part numbers: a multipart's parts are numbered from 1 (RFC 2046 §5.1.1
  delimiters; the CRLF before a delimiter belongs to it); a message/rfc822 or
  message/global part's children are those of the message it holds; any other
  entity (a non-multipart message at the top) has one part, 1, its own body.
- ``n.MIME`` is part n's MIME header; ``n.HEADER``/``n.TEXT``/``n.HEADER.FIELDS``
  need part n to be a message/rfc822 (or message/global) and read the message
  inside it. A section that does not exist gives ``None``.
- ``<start.count>``: ``count`` octets from ``start``; empty past the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from imap_gateway.wire.fetch import HEADER, HEADER_FIELDS, HEADER_FIELDS_NOT, MIME, TEXT, Section

__all__ = [
    "Entity",
    "extract",
    "fields",
    "header_fields",
    "parse_header",
    "partial",
    "split_entity",
]

CRLF = b"\r\n"
_LINE = re.compile(rb"[^\n]*\n|[^\n]+\Z")
_ENCAPSULATING = frozenset({"message/rfc822", "message/global"})


@dataclass(frozen=True, slots=True)
class Entity:
    """A MIME entity: its header (blank line included) and its body."""

    header: bytes
    body: bytes

    def content_type(self, default: str = "text/plain") -> tuple[str, str | None]:
        """The content type, lower-cased, and the boundary of a multipart.

        A multipart without a boundary cannot be split: it is taken as text/plain,
        as RFC 2045 §5.2 says of an invalid Content-Type.
        """
        message = parse_header(self.header)
        message.set_default_type(default)
        content_type = message.get_content_type()
        if not content_type.startswith("multipart/"):
            return content_type, None
        boundary = message.get_boundary()
        return ("text/plain", None) if not boundary else (content_type, boundary)


def parse_header(header: bytes) -> Message:
    return BytesHeaderParser(policy=compat32).parsebytes(header)


def split_entity(data: bytes) -> Entity:
    """The header (through the first empty line) and the body of ``data``."""
    for match in _LINE.finditer(data):
        if match.group() in (b"\n", b"\r\n"):
            return Entity(data[: match.end()], data[match.end() :])
    return Entity(data, b"")


def _lines(data: bytes) -> list[bytes]:
    return [m.group() for m in _LINE.finditer(data)]


def fields(header: bytes) -> list[tuple[str | None, bytes]]:
    """The header's fields as (lower-cased name or None, raw octets), blank line left out."""
    fields: list[tuple[str | None, bytes]] = []
    for line in _lines(header):
        if line in (b"\n", b"\r\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            name, raw = fields[-1]
            fields[-1] = (name, raw + line)
            continue
        colon = line.find(b":")
        name = line[:colon].strip().lower().decode("latin-1") if colon > 0 else None
        fields.append((name, line))
    return fields


def header_fields(header: bytes, names: tuple[str, ...], *, exclude: bool) -> bytes:
    """``HEADER.FIELDS`` (or ``.NOT`` when ``exclude``) of one header."""
    wanted = {name.lower() for name in names}
    kept = [raw for name, raw in fields(header) if (name in wanted) != exclude]
    if kept and not kept[-1].endswith(b"\n"):
        kept[-1] += CRLF  # the last line of an all-header message has no line end
    return b"".join(kept) + CRLF


def _delimiter(boundary: str) -> re.Pattern[bytes]:
    # RFC 2046 §5.1.1: a delimiter line is "--" boundary, optional white space, and
    # the CRLF before it is part of it; "--" after the boundary closes the multipart.
    quoted = re.escape(boundary.encode("latin-1", "replace"))
    return re.compile(rb"(?:\r?\n|^)--" + quoted + rb"(--)?[ \t]*(?:\r?\n|\Z)", re.MULTILINE)


def multipart_parts(body: bytes, boundary: str) -> list[bytes]:
    """The parts of a multipart body (the preamble and epilogue dropped)."""
    parts: list[bytes] = []
    start: int | None = None
    for match in _delimiter(boundary).finditer(body):
        if start is not None:
            parts.append(body[start : match.start()])
        if match.group(1):
            return parts
        start = match.end()
    if start is not None:
        parts.append(body[start:])  # no close delimiter: the last part runs to the end
    return parts


def _children(entity: Entity, default: str) -> list[tuple[Entity, str]]:
    """The numbered sub-parts of ``entity`` with their default content types."""
    content_type, boundary = entity.content_type(default)
    if boundary is not None:
        child_default = "message/rfc822" if content_type == "multipart/digest" else "text/plain"
        return [(split_entity(p), child_default) for p in multipart_parts(entity.body, boundary)]
    if content_type in _ENCAPSULATING:
        inner = split_entity(entity.body)
        return _children_of_message(inner)
    return []


def _children_of_message(message: Entity) -> list[tuple[Entity, str]]:
    content_type, boundary = message.content_type()
    if boundary is not None:
        return _children(message, "text/plain")
    # A non-multipart message has one part, 1: its body, under the message's header.
    return [(message, content_type)]


def _resolve(raw: bytes, part: tuple[int, ...]) -> tuple[Entity, str] | None:
    message = split_entity(raw)
    children = _children_of_message(message)
    current: tuple[Entity, str] | None = None
    for n in part:
        if n < 1 or n > len(children):
            return None
        current = children[n - 1]
        children = _children(*current)
    return current


def extract(raw: bytes, section: Section) -> bytes | None:
    """The octets of ``BODY[section]`` of the message ``raw``; None if it does not exist."""
    if not section.part:
        message = split_entity(raw)
        if section.text is None:
            return raw
        return _message_text(message, section)
    found = _resolve(raw, section.part)
    if found is None:
        return None
    entity, default = found
    if section.text is None:
        return entity.body
    if section.text == MIME:
        return entity.header
    content_type, _ = entity.content_type(default)
    if content_type not in _ENCAPSULATING:
        return None
    return _message_text(split_entity(entity.body), section)


def _message_text(message: Entity, section: Section) -> bytes | None:
    if section.text == HEADER:
        return message.header
    if section.text == TEXT:
        return message.body
    if section.text in (HEADER_FIELDS, HEADER_FIELDS_NOT):
        return header_fields(
            message.header, section.fields, exclude=section.text == HEADER_FIELDS_NOT
        )
    return None


def partial(data: bytes, window: tuple[int, int] | None) -> bytes:
    """``<start.count>`` of ``data`` (RFC 9051 §6.4.5): empty when ``start`` is past the end."""
    if window is None:
        return data
    start, count = window
    return data[start : start + count]
