"""Raw RFC 5322 bytes → the fields the mail store keeps, with the standard library's parser.

:func:`parse_message` never raises. The ``email`` package recovers from most damage and
records *defects*, but header and content accessors still raise a zoo of exceptions on
hostile input (``IndexError``, ``ValueError``, ``LookupError`` for bogus charsets,
``AttributeError`` deep in ``_header_value_parser``...). Each field is therefore extracted
on its own: a failure costs that field, is recorded in ``error``, and the raw message is
stored regardless, so nothing is ever dropped for being unparseable.

Everything returned is safe for PostgreSQL text and jsonb: no NUL characters (which text
cannot hold) and no lone surrogates (which UTF-8 cannot encode).
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import TypeVar

# Work bounds, so that one message cannot pin the consumer.
MAX_PARTS = 10_000
MAX_DEPTH = 50
# Characters kept in each body column; the raw message always holds everything.
MAX_BODY_CHARS = 1_000_000
# Characters of text fed to the full-text index: a tsvector is limited to 1 MB.
MAX_SEARCH_CHARS = 100_000
MAX_HEADER_CHARS = 2_000
MAX_ADDRESSES = 500
MAX_DEFECTS = 100
PREVIEW_CHARS = 200

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    address: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "address": self.address}


@dataclass(frozen=True, slots=True)
class Attachment:
    index: int
    filename: str | None
    content_type: str
    content_id: str | None
    # "inline" (shown in the body, usually referenced by Content-ID) or "attachment".
    disposition: str
    content: bytes


@dataclass(slots=True)
class ParsedMessage:
    subject: str = ""
    from_: Address | None = None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    date: datetime | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    text: str = ""
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    # Set when some part of the message could not be extracted; the rest is best effort.
    error: str | None = None

    @property
    def has_attachments(self) -> bool:
        return any(item.disposition == "attachment" for item in self.attachments)

    @property
    def preview(self) -> str:
        source = self.text or html_to_text(self.html or "")
        return _collapse(source[: PREVIEW_CHARS * 20])[:PREVIEW_CHARS]

    @property
    def search_text(self) -> str:
        """Subject, addresses and text, the document of the full-text index."""
        people = [self.from_, *self.to, *self.cc]
        names = " ".join(f"{p.name} {p.address}" for p in people if p is not None)
        body = self.text or html_to_text(self.html or "")
        return clean(f"{self.subject} {names} {body[:MAX_SEARCH_CHARS]}")

    def fail(self, what: str, exc: BaseException) -> None:
        note = f"{what}: {type(exc).__name__}: {exc}"[:500]
        self.error = note if self.error is None else f"{self.error}; {note}"[:2000]


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse ``raw``; never raises (see the module docstring)."""
    result = ParsedMessage()
    # policy.default builds header objects for every part while parsing (about 0.2 ms
    # each), so a body made of delimiter lines could keep the parser busy for minutes.
    # Counting candidate delimiter lines is cheap; too many, and only headers are parsed.
    too_many_parts = raw.count(b"\n--") > MAX_PARTS
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw, headersonly=too_many_parts)
    except Exception as exc:
        result.fail("message", exc)
        return result
    assert isinstance(message, EmailMessage)
    _headers(message, result)
    if too_many_parts:
        result.fail("body", RuntimeError(f"more than {MAX_PARTS} MIME parts; body not parsed"))
        return result
    try:
        _walk_parts(message, result)
    except Exception as exc:
        result.fail("body", exc)
    result.text = clean(result.text.replace("\r\n", "\n"))[:MAX_BODY_CHARS]
    if result.html is not None:
        result.html = clean(result.html)[:MAX_BODY_CHARS]
    return result


# -- headers ---------------------------------------------------------------------------------


def _headers(message: EmailMessage, result: ParsedMessage) -> None:
    subject = _field(result, "subject", lambda: _text_header(message, "subject"), "")
    result.subject = _collapse(subject)
    no_addresses: list[Address] = []
    senders = _field(result, "from", lambda: _addresses(message, "from"), no_addresses)
    result.from_ = senders[0] if senders else None
    result.to = _field(result, "to", lambda: _addresses(message, "to"), no_addresses)
    result.cc = _field(result, "cc", lambda: _addresses(message, "cc"), no_addresses)
    result.date = _field(result, "date", lambda: _date(message), None)
    result.message_id = _optional(result, message, "message-id")
    result.in_reply_to = _optional(result, message, "in-reply-to")
    result.references = _optional(result, message, "references")
    for defect in message.defects:
        _defect(result, defect)


def _field(result: ParsedMessage, what: str, extract: Callable[[], T], default: T) -> T:
    try:
        return extract()
    except Exception as exc:
        result.fail(what, exc)
        return default


def _raw_header(message: Message, name: str) -> str | None:
    # raw_items() does not run the header parser, so it works where message[name] raises.
    for key, value in message.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _text_header(message: EmailMessage, name: str) -> str:
    try:
        value = message[name]
        return "" if value is None else clean(str(value))[:MAX_HEADER_CHARS]
    except Exception:
        raw = _raw_header(message, name) or ""
        try:
            return clean(str(make_header(decode_header(raw))))[:MAX_HEADER_CHARS]
        except Exception:
            return clean(raw)[:MAX_HEADER_CHARS]


def _optional(result: ParsedMessage, message: EmailMessage, name: str) -> str | None:
    return _collapse(_field(result, name, lambda: _text_header(message, name), "")) or None


def _addresses(message: EmailMessage, name: str) -> list[Address]:
    try:
        header = message[name]
        if header is None:
            return []
        pairs = [(a.display_name, a.addr_spec) for a in header.addresses]
    except Exception:
        raw = _raw_header(message, name)
        if raw is None:
            return []
        pairs = getaddresses([raw])
    found = []
    for display_name, addr_spec in pairs[:MAX_ADDRESSES]:
        address = Address(_collapse(clean(display_name))[:500], clean(addr_spec).strip()[:500])
        if address.name or address.address:
            found.append(address)
    return found


def _date(message: EmailMessage) -> datetime | None:
    header = message["date"]
    value = getattr(header, "datetime", None)
    if not isinstance(value, datetime):
        return None
    # RFC 5322 §3.3: "-0000" means "UTC, local zone unknown"; Python returns it naive.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _defect(result: ParsedMessage, defect: object) -> None:
    if len(result.defects) < MAX_DEFECTS:
        result.defects.append(type(defect).__name__)


# -- parts -----------------------------------------------------------------------------------


def _walk_parts(message: EmailMessage, result: ParsedMessage) -> None:
    texts: list[str] = []
    for count, (part, content_type, depth) in enumerate(_parts(message)):
        if count >= MAX_PARTS:
            result.fail("body", RuntimeError(f"more than {MAX_PARTS} parts; the rest ignored"))
            break
        if part is not message:
            for defect in part.defects:
                _defect(result, defect)
        if part.is_multipart() and content_type != "message/rfc822":
            if depth >= MAX_DEPTH:
                result.fail("body", RuntimeError(f"nested deeper than {MAX_DEPTH}; not walked"))
            continue
        _leaf(part, content_type, result, texts)
    result.text = "\n\n".join(texts)


def _parts(message: Message) -> Iterator[tuple[Message, str, int]]:
    # Iterative, unlike Message.walk(), so that nesting cannot exhaust the recursion limit.
    # The content type is computed once per part: each call re-parses the header.
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        content_type = part.get_content_type()
        yield part, content_type, depth
        walkable = part.is_multipart() and content_type != "message/rfc822"
        if walkable and depth < MAX_DEPTH:
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend(
                    (child, depth + 1) for child in reversed(children) if isinstance(child, Message)
                )


def _leaf(part: Message, content_type: str, result: ParsedMessage, texts: list[str]) -> None:
    disposition = _safe(part.get_content_disposition)
    filename = _safe(part.get_filename)
    # Like EmailMessage.get_body(): a text part is body text unless it says "attachment",
    # file name or not (clients show it inline too).
    is_body = disposition != "attachment"
    if content_type.startswith("multipart/"):
        # A multipart whose boundary is missing or never appears was left unsplit: its
        # payload is all there is to read, so it is the text.
        texts.append(_decoded_text(part))
    elif is_body and content_type == "text/plain":
        texts.append(_decoded_text(part))
    elif is_body and content_type == "text/html" and result.html is None:
        result.html = _decoded_text(part)
    else:
        result.attachments.append(
            Attachment(
                index=len(result.attachments),
                filename=clean(filename)[:500] if filename else None,
                content_type=content_type,
                content_id=_content_id(part),
                # A part that neither says "attachment" nor has a name is part of the
                # message's own content (a signature, a delivery report), not a file.
                disposition="attachment"
                if disposition == "attachment" or (filename and disposition != "inline")
                else "inline",
                content=_payload_bytes(part, content_type),
            )
        )


def _safe(call: Callable[[], str | None]) -> str | None:
    try:
        return call()
    except Exception:
        return None


def _decoded_text(part: Message) -> str:
    charset = (_safe(part.get_content_charset) or "us-ascii").lower()
    if charset not in ("us-ascii", "ascii"):
        try:
            content = part.get_content()  # type: ignore[attr-defined]
        except Exception:  # bogus charset or transfer encoding: decode the bytes by hand
            content = None
        if isinstance(content, str):
            return content
    # Unlabelled (or "us-ascii") 8-bit text is decoded from the bytes: the stdlib would
    # replace every non-ASCII byte, where it is usually UTF-8 or Windows-1252.
    payload = _payload_bytes(part, "text/plain")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        # Mislabelled 8-bit text in the wild is overwhelmingly Windows-1252.
        return payload.decode("cp1252", errors="replace")


def _payload_bytes(part: Message, content_type: str) -> bytes:
    if content_type == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return bytes(inner[0].as_bytes())
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _content_id(part: Message) -> str | None:
    raw = _raw_header(part, "content-id")
    if raw is None:
        return None
    return clean(raw).strip().strip("<>").strip()[:500] or None


# -- text ------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")
_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)


def clean(value: str) -> str:
    """Make ``value`` storable in PostgreSQL text: valid UTF-8 and no NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # The parser keeps undecodable header bytes as surrogate escapes; turning them back
        # into bytes recovers raw UTF-8 headers (RFC 6532), and anything else is replaced.
        raw = value.encode("utf-8", errors="surrogateescape" if _escapes_only(value) else "replace")
        value = raw.decode("utf-8", errors="replace")
    return value.replace("\x00", "\ufffd")


def _escapes_only(value: str) -> bool:
    return all("\udc80" <= ch <= "\udcff" for ch in value if "\ud800" <= ch <= "\udfff")


def _collapse(value: str) -> str:
    return _WHITESPACE.sub(" ", value).strip()


def html_to_text(markup: str) -> str:
    """Rough text of an HTML body, for previews and the search index only (never displayed)."""
    return html_lib.unescape(_TAG.sub(" ", markup[:MAX_BODY_CHARS]))
