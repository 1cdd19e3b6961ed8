"""Raw RFC 5322 bytes → the fields the mail store keeps, with the standard library's parser.

:func:`parse_message` never raises. The ``email`` package recovers from most damage and
records *defects*, but header and content accessors still raise a zoo of exceptions on
hostile input (``IndexError``, ``ValueError``, ``LookupError`` for bogus charsets,
``AttributeError`` deep in ``_header_value_parser``...). Each field is therefore extracted
on its own: a failure costs that field, is recorded in ``error``, and the raw message is
stored regardless, so nothing is ever dropped for being unparseable.

Everything returned is safe for PostgreSQL text and jsonb: no NUL characters (which text
cannot hold) and no lone surrogates (which UTF-8 cannot encode); attachment names are bare
file names without control characters.

Work is bounded in time and memory by the size of the message: a message with too many
parts, too many short lines or nesting too deep for the stdlib parser's recursion has only
its headers parsed (``error`` says why), and the walk stops at ``MAX_PARTS`` and
``MAX_DEPTH``. tests/test_parsing_hostile.py holds the cases.
"""

from __future__ import annotations

import base64
import html as html_lib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy, quoprimime
from email.errors import HeaderParseError
from email.message import Message
from email.parser import BytesParser
from email.policy import Compat32
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from typing import Any, TypeVar

from mailstore.imap_search import stored_texts
from mailstore.imap_structure import describe
from mailstore.richtext import RICH_TYPES, as_text

# Work bounds, so that one message cannot pin the consumer.
MAX_PARTS = 10_000
MAX_DEPTH = 50
# The stdlib parser holds every line as a Python object (100-250 bytes, however short the
# line) until its part ends: past MAX_LINES, lines must average MIN_LINE_OCTETS, or memory
# could reach a hundred times the message. Base64 lines are 76 octets; a CSV or a log file
# sent as text has 20-40.
MAX_LINES = 100_000
MIN_LINE_OCTETS = 20
# What is parsed of a message whose body is not: its headers are in there.
MAX_HEADER_BLOCK = 256 * 1024
# Characters kept in each body column; the raw message always holds everything.
MAX_BODY_CHARS = 1_000_000
# Characters of text fed to the full-text index: a tsvector is limited to 1 MB.
MAX_SEARCH_CHARS = 100_000
MAX_HEADER_CHARS = 2_000
MAX_ADDRESSES = 500
MAX_DEFECTS = 100
PREVIEW_CHARS = 200
# A message that is only a forward shows the forwarded message; one that forwards a
# forward, that one's; deeper, the rest stays an attachment.
MAX_FORWARDS = 3
FORWARDED_LINE = "---------- Forwarded message ----------"

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
    # The gateway's localpost-sender result ("pass", "fail", "none"; None: not there)
    # and the mailbox it is about (see _sender_check).
    sender_check: str | None = None
    sender_claimed: str | None = None
    # Set when some part of the message could not be extracted; the rest is best effort.
    error: str | None = None
    # mailstore.imap_structure.describe(raw): what IMAP's FETCH shows of the structure.
    imap_structure: dict[str, Any] | None = None
    # mailstore.imap_search.stored_texts(raw): what IMAP's SEARCH SUBJECT, FROM, TO, CC
    # and BCC compare with, so that SEARCH need not read the message.
    imap_search: dict[str, list[str]] | None = None

    @property
    def has_attachments(self) -> bool:
        return any(item.disposition == "attachment" for item in self.attachments)

    @property
    def preview(self) -> str:
        source = self.text or html_to_text(self.html or "")
        # Collapse a window just wide enough: the whole text would cost more than the
        # rest of a small message's parse. Widened while whitespace eats it.
        window = PREVIEW_CHARS * 2
        while True:
            text = _collapse(source[:window])
            if len(text) >= PREVIEW_CHARS or window >= min(len(source), PREVIEW_CHARS * 20):
                return text[:PREVIEW_CHARS]
            window *= 4

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
    result = _parse(raw)
    # Computed with the rest so that the consumer's thread for large messages does it
    # too, and stored with the message (IMAP's ENVELOPE and BODYSTRUCTURE).
    result.imap_structure = describe(raw)
    result.imap_search = stored_texts(raw)
    return result


def _parse(raw: bytes) -> ParsedMessage:
    result = ParsedMessage()
    too_much = _beyond_bounds(raw)
    try:
        if too_much is None:
            try:
                message = BytesParser(policy=_RECEIVED).parsebytes(raw)
            except RecursionError:
                # The stdlib parser recurses per nesting level (a few hundred reach the
                # recursion limit), before MAX_DEPTH can apply.
                too_much = "MIME parts nested deeper than the parser can follow"
        if too_much is not None:
            head = raw[:MAX_HEADER_BLOCK]
            message = BytesParser(policy=_RECEIVED).parsebytes(head, headersonly=True)
    except Exception as exc:
        result.fail("message", exc)
        return result
    _headers(message, result)
    if too_much is not None:
        for defect in message.defects:
            _defect(result, defect)
        result.fail("body", RuntimeError(f"{too_much}; body not parsed"))
        return result
    try:
        _walk_parts(message, result)
    except Exception as exc:
        result.fail("body", exc)
    result.text = clean(result.text.replace("\r\n", "\n"))[:MAX_BODY_CHARS]
    if result.html is not None:
        result.html = clean(result.html)[:MAX_BODY_CHARS]
    return result


def _beyond_bounds(raw: bytes) -> str | None:
    """Why only the headers of ``raw`` should be parsed, if they should: cheap counts that
    bound the stdlib parser's time and memory."""
    # The parser ends lines at CR, LF or CRLF: count candidate delimiter lines and lines
    # either way, without counting CRLF twice.
    if raw.count(b"\n--") + raw.count(b"\r--") > MAX_PARTS:
        return f"more than {MAX_PARTS} MIME parts"
    lines = max(raw.count(b"\n"), raw.count(b"\r"))
    if lines > max(MAX_LINES, len(raw) // MIN_LINE_OCTETS):
        return f"{lines} lines, too many of them short"
    return None


# -- headers ---------------------------------------------------------------------------------
#
# policy.default builds a structured header object (a full RFC 5322 parse tree) for every
# header it reads, its own lookups of Content-Type included: most of the parse time of a
# small message. Here the parser keeps header values as the strings received, and only the
# stored headers are decoded: RFC 2047 words by decode_words(), addresses by a fast path for
# the common address forms.


class _ReceivedPolicy(Compat32):
    """compat32 without its one header transformation: undecodable bytes stay surrogate
    escapes (which :func:`clean` turns back into UTF-8) instead of becoming an
    ``unknown-8bit`` Header object that stringifies them as U+FFFD."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_RECEIVED = _ReceivedPolicy()


def _headers(message: Message, result: ParsedMessage) -> None:
    first: dict[str, str] = {}
    items = list(message.raw_items())
    for key, value in items:
        first.setdefault(key.lower(), value)
    if items and items[0][0].lower() == "authentication-results":
        unchecked: tuple[str | None, str | None] = (None, None)
        result.sender_check, result.sender_claimed = _field(
            result, "authentication-results", lambda: _sender_check(items[0][1]), unchecked
        )
    subject = _field(result, "subject", lambda: _text_header(first, "subject"), "")
    result.subject = _collapse(subject)
    no_addresses: list[Address] = []
    senders = _field(result, "from", lambda: _addresses(first, "from"), no_addresses)
    result.from_ = senders[0] if senders else None
    result.to = _field(result, "to", lambda: _addresses(first, "to"), no_addresses)
    result.cc = _field(result, "cc", lambda: _addresses(first, "cc"), no_addresses)
    result.date = _field(result, "date", lambda: _date(first), None)
    result.message_id = _optional(result, first, "message-id")
    result.in_reply_to = _optional(result, first, "in-reply-to")
    result.references = _optional(result, first, "references")


# The gateway's verdict on From:/Sender: (smtp_gateway.identity, RFC 8601): it strips every
# Authentication-Results field naming itself and puts its own first of all, above its
# Received:. Only that first field is read, so a field a sender wrote lower down is never
# taken for the gateway's, whatever authserv-id it names (RFC 8601 §7.1: trust only the
# fields added inside one's own ADMD).
_SENDER_RESULT = re.compile(r"(?:^|;)\s*localpost-sender\s*=\s*(pass|fail|none)\b([^;]*)", re.I)
_HEADER_FROM = re.compile(r"\bheader\.from\s*=\s*([^\s;()]+)", re.I)


def _sender_check(value: str) -> tuple[str | None, str | None]:
    found = _SENDER_RESULT.search(_unfold(value))
    if found is None:
        return None, None
    claimed = _HEADER_FROM.search(found[2])
    return found[1].lower(), clean(claimed[1])[:500] if claimed else None


def _field(result: ParsedMessage, what: str, extract: Callable[[], T], default: T) -> T:
    try:
        return extract()
    except Exception as exc:
        result.fail(what, exc)
        return default


def _unfold(value: str) -> str:
    # RFC 5322 §2.2.3: unfolding removes the line breaks and keeps the whitespace after them.
    return _LINE_BREAK.sub("", value)


# An RFC 2047 encoded word, as leniently as email.header.decode_header() finds them: also
# inside a word or a quoted string, where mail clients put them too.
_ENCODED_WORD = re.compile(r"=\?([^?]*?)\?([qQbB])\?(.*?)\?=")


def decode_words(value: str) -> str:
    """``value`` with its RFC 2047 encoded words decoded.

    Whitespace between two encoded words is dropped and the bytes of adjacent words in one
    charset are joined before decoding (RFC 2047 §6.2), so a character split across two
    words survives; an encoded word in a bogus charset keeps its bytes, which :func:`clean`
    then makes storable. Raises ``email.errors.HeaderParseError`` for undecodable base64.
    (email.header.decode_header() does the same, but round-trips the text between words
    through raw-unicode-escape, which turns a literal "\\u0041" into "A".)
    """
    if "=?" not in value:
        return value
    pieces: list[str] = []
    run, run_charset = b"", ""  # adjacent encoded words, not yet decoded
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        charset = match[1].lower().partition("*")[0]  # RFC 2231 §5: "charset*language"
        if (between and not (run_charset and between.isspace())) or charset != run_charset:
            pieces.append(_decode_run(run, run_charset))
            pieces.append("" if run_charset and between.isspace() else between)
            run = b""
        run += _word_bytes(match[2].lower(), match[3])
        run_charset = charset
        position = match.end()
    pieces.append(_decode_run(run, run_charset))
    pieces.append(value[position:])
    return "".join(pieces)


def _word_bytes(encoding: str, text: str) -> bytes:
    if encoding == "q":
        # 8-bit octets inside the word arrive as surrogate escapes: back to octets.
        return quoprimime.header_decode(text).encode("latin-1", "surrogateescape")
    try:
        return base64.b64decode(text + "==="[: -len(text) % 4])  # missing padding: Postel
    except ValueError as exc:  # binascii.Error, or non-ASCII in the word
        raise HeaderParseError(f"undecodable base64 word: {exc}") from exc


def _decode_run(run: bytes, charset: str) -> str:
    if not run:
        return ""
    try:
        return run.decode(_charset(charset), "surrogateescape")
    except (LookupError, UnicodeError):
        return run.decode("ascii", "surrogateescape")


def _text_header(headers: dict[str, str], name: str) -> str:
    raw = headers.get(name)
    if raw is None:
        return ""
    value = _unfold(raw)
    try:
        decoded = decode_words(value)
    except HeaderParseError:
        # Broken base64 in an encoded word: policy.default's parser salvages what it can.
        decoded = str(policy.default.header_factory(name, value))
    return visible(clean(decoded))[:MAX_HEADER_CHARS]


def _optional(result: ParsedMessage, headers: dict[str, str], name: str) -> str | None:
    return _collapse(_field(result, name, lambda: _text_header(headers, name), "")) or None


def _addresses(headers: dict[str, str], name: str) -> list[Address]:
    raw = headers.get(name)
    if raw is None:
        return []
    value = _unfold(raw)
    pairs = _simple_addresses(value)
    if pairs is None:
        try:
            header = policy.default.header_factory(name, value)
            pairs = [(a.display_name, a.addr_spec) for a in header.addresses]
        except Exception:
            pairs = getaddresses([value])
    found = []
    for display_name, addr_spec in pairs[:MAX_ADDRESSES]:
        name = _collapse(visible(clean(display_name)))[:500]
        address = Address(name, visible(clean(addr_spec)).strip()[:500])
        if address.name or address.address:
            found.append(address)
    return found


# RFC 5322 §3.4 mailboxes in their everyday forms: "local@domain", "Phrase <local@domain>"
# and '"Quoted phrase" <local@domain>' (either phrase possibly RFC 2047 encoded words), with
# ASCII dot-atoms only. Anything else (groups, comments, routes, quoted local parts, obsolete
# syntax, 8-bit) goes through policy.default's full parser, and must give the same result.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_ADDR_SPEC = rf"{_DOT_ATOM}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_WORD = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]"  # atext and ".", as in "John Q. Public" (§4.1)
_PHRASE = rf"{_ATEXT}{_WORD}*(?:[ \t]+{_WORD}+)*"
_MAILBOX = re.compile(
    rf"""[ \t]*(?:
        (?P<bare>{_ADDR_SPEC})
        | (?:"(?P<quoted>[^"\\]*)"|(?P<phrase>{_PHRASE}))?[ \t]*<(?P<angle>{_ADDR_SPEC})>
    )[ \t]*(?:,|$)""",
    re.VERBOSE,
)


def _simple_addresses(value: str) -> list[tuple[str, str]] | None:
    """``(display name, address)`` pairs when ``value`` is a list of simple mailboxes."""
    pairs = []
    position = 0
    while position < len(value):
        match = _MAILBOX.match(value, position)
        if match is None or match.end() == position:
            return None
        if match["bare"]:
            pairs.append(("", match["bare"]))
        else:
            phrase = match["quoted"] or match["phrase"] or ""
            pairs.append((decode_words(phrase), match["angle"]))
        position = match.end()
    return pairs if pairs else None


def _date(headers: dict[str, str]) -> datetime | None:
    raw = headers.get("date")
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(_unfold(raw))
    except ValueError:
        return None
    # RFC 5322 §3.3: "-0000" means "UTC, local zone unknown"; Python returns it naive.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _defect(result: ParsedMessage, defect: object) -> None:
    if len(result.defects) < MAX_DEFECTS:
        result.defects.append(type(defect).__name__)


# -- parts -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Walk:
    """What the walk of one message collects besides ``ParsedMessage``'s own fields."""

    texts: list[str] = field(default_factory=list)
    # Formatted text parts (richtext.RICH_TYPES), as text and as the inline part they stay
    # when the message has plain text of its own (then they are its alternatives).
    rich: list[tuple[str, Attachment]] = field(default_factory=list)
    # The message/rfc822 parts: one is the content of a message that is only a forward
    # (several, a digest, stay attachments).
    forwarded: list[Message | None] = field(default_factory=list)


def _walk_parts(message: Message, result: ParsedMessage, *, forwards: int = 0) -> None:
    walk = _Walk()
    for count, (part, content_type, depth, parent) in enumerate(_parts(message)):
        if count >= MAX_PARTS:
            result.fail("body", RuntimeError(f"more than {MAX_PARTS} parts; the rest ignored"))
            break
        if part.is_multipart() and content_type != "message/rfc822":
            if depth >= MAX_DEPTH:
                result.fail("body", RuntimeError(f"nested deeper than {MAX_DEPTH}; not walked"))
        else:
            _leaf(part, content_type, parent, result, walk)
        # After _leaf: decoding the payload adds its defects (bad base64) to the part.
        for defect in part.defects:
            _defect(result, defect)
    if not any(text.strip() for text in walk.texts) and walk.rich:
        walk.texts = [text for text, _ in walk.rich]
    else:
        for _, part_itself in walk.rich:
            _attach(result, part_itself)
    result.text = "\n\n".join(walk.texts)
    inner = walk.forwarded[0] if len(walk.forwarded) == 1 else None
    if (
        inner is not None
        and not result.text.strip()
        and result.html is None
        and forwards < MAX_FORWARDS
    ):
        _show_forwarded(inner, result, forwards=forwards + 1)


def _parts(message: Message) -> Iterator[tuple[Message, str, int, str]]:
    """Each part with its content type, depth and its parent's content type."""
    # Iterative, unlike Message.walk(), so that nesting cannot exhaust the recursion limit.
    # The content type is computed once per part: each call re-parses the header.
    stack: list[tuple[Message, int, str]] = [(message, 0, "")]
    while stack:
        part, depth, parent = stack.pop()
        content_type = part.get_content_type()
        yield part, content_type, depth, parent
        walkable = part.is_multipart() and content_type != "message/rfc822"
        if walkable and depth < MAX_DEPTH:
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend(
                    (child, depth + 1, content_type)
                    for child in reversed(children)
                    if isinstance(child, Message)
                )


def _leaf(
    part: Message, content_type: str, parent: str, result: ParsedMessage, walk: _Walk
) -> None:
    disposition = _safe(part.get_content_disposition)
    filename = _safe(lambda: _filename(part))
    filename = safe_filename(filename) if filename else None
    # A text part is body text unless it says "attachment", or names a file without
    # saying "inline": a file sent as text/plain (a log, a CSV, "msg.txt") is a file, and
    # its charset label is often wrong. EmailMessage.get_body() takes it for the body; mail
    # clients list it as an attachment.
    is_body = disposition != "attachment" and not (filename and disposition is None)
    content_id = _content_id(part)
    if content_type.startswith("multipart/"):
        # A multipart whose boundary is missing or never appears was left unsplit: its
        # payload is all there is to read, so it is the text.
        walk.texts.append(_decoded_text(part, content_type))
        return
    if is_body and content_type == "text/plain":
        walk.texts.append(_decoded_text(part, content_type))
        return
    if is_body and content_type == "text/html" and result.html is None:
        result.html = _decoded_text(part, content_type)
        return
    if content_type == "message/rfc822" and len(walk.forwarded) < 2:
        walk.forwarded.append(_inner_message(part))
    # A part that neither says "attachment" nor has a name is part of the message's own
    # content (a signature, a delivery report), not a file; so is a part of
    # multipart/related that the HTML references by its Content-ID (RFC 2387), named or not.
    attached = disposition == "attachment" or bool(filename and disposition != "inline")
    if disposition is None and content_id and parent == "multipart/related":
        attached = False
    item = Attachment(
        index=-1,  # numbered by _attach
        filename=filename,
        content_type=content_type,
        content_id=content_id,
        disposition="attachment" if attached else "inline",
        content=_payload_bytes(part, content_type),
    )
    if is_body and content_type in RICH_TYPES:
        walk.rich.append((as_text(content_type, _decoded_text(part, content_type)), item))
    else:
        _attach(result, item)


def _attach(result: ParsedMessage, item: Attachment) -> None:
    result.attachments.append(replace(item, index=len(result.attachments)))


def _show_forwarded(inner: Message, result: ParsedMessage, *, forwards: int) -> None:
    """The body of a message that is only a forwarded message (a ``message/rfc822`` part
    and no text of its own): the inner message's headers and body, as mail clients show
    an attached message inline. Its parts join the outer message's attachments, so that
    the inner HTML's ``cid:`` images resolve."""
    shown = ParsedMessage()
    _headers(inner, shown)
    _walk_parts(inner, shown, forwards=forwards)
    lines = [("From", _person(shown.from_) if shown.from_ else "")]
    lines.append(("Date", format_datetime(shown.date) if shown.date else ""))
    lines.append(("Subject", shown.subject))
    lines.append(("To", ", ".join(_person(p) for p in shown.to)))
    if shown.cc:
        lines.append(("Cc", ", ".join(_person(p) for p in shown.cc)))
    header = [f"{name}: {value}" for name, value in lines if value]
    result.text = "\n".join([FORWARDED_LINE, *header, "", shown.text])
    if shown.html is not None:
        block = "".join(f"{html_lib.escape(line)}<br>" for line in [FORWARDED_LINE, *header])
        result.html = f'<div class="forwarded-headers">{block}</div><br>{shown.html}'
    for item in shown.attachments:
        _attach(result, item)
    result.defects.extend(shown.defects[: MAX_DEFECTS - len(result.defects)])
    if shown.error:
        result.fail("forwarded message", RuntimeError(shown.error))


def _inner_message(part: Message) -> Message | None:
    inner = part.get_payload()
    if not (isinstance(inner, list) and inner and isinstance(inner[0], Message)):
        return None
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding not in ("base64", "quoted-printable"):
        return inner[0]
    # RFC 2046 §5.2.1 allows message/rfc822 no encoding but 7bit, 8bit or binary; some
    # programs base64 it anyway, and the parser then read the encoded text as a message.
    raw = inner[0].as_bytes()
    decoded = (
        base64.b64decode(raw)
        if encoding == "base64"
        else quoprimime.body_decode(raw.decode("ascii", "surrogateescape")).encode(
            "latin-1", "surrogateescape"
        )
    )
    if _beyond_bounds(decoded) is not None:
        return None
    return BytesParser(policy=_RECEIVED).parsebytes(decoded)


def _person(address: Address) -> str:
    return f"{address.name} <{address.address}>" if address.name else address.address


def _safe(call: Callable[[], str | None]) -> str | None:
    try:
        return call()
    except Exception:
        return None


def _filename(part: Message) -> str | None:
    filename = part.get_filename()
    # Not RFC 2047 (§5 rules encoded words out of parameters), but common in the wild, and
    # what every mail client shows.
    return decode_words(filename) if filename else filename


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# C0 and C1 controls but the whitespace ones (tab, line feed, carriage return).
_SHOWN_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Labels that mean Windows-1252 in practice: the WHATWG Encoding Standard decodes them so
# (browsers do, for web pages), because Windows mail programs label its curly quotes and
# dashes (0x80-0x9F) as ISO-8859-1, where those octets are C1 controls.
_WINDOWS_1252_LABELS = frozenset(
    {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819", "ibm819"}
)


def _charset(label: str) -> str:
    return "cp1252" if label.strip().lower() in _WINDOWS_1252_LABELS else label


def visible(value: str) -> str:
    """``value`` with its control characters shown as U+FFFD: a subject or a name decoded
    from a broken encoded word (bytes in a charset that maps them to C0/C1 controls, an
    escape sequence) must not reach a screen or a terminal raw."""
    return _SHOWN_CONTROL.sub("\ufffd", value)


def safe_filename(name: str) -> str | None:
    """``name`` as a file name that cannot leave a directory or drive a terminal: storable,
    without control characters, path separators made "_" (as webmail.drafts does for the
    names it sends); None for "." and "..", which name directories."""
    name = _CONTROL.sub("", clean(name)).replace("/", "_").replace("\\", "_").strip()
    return name[:500] if name not in ("", ".", "..") else None


def _decoded_text(part: Message, content_type: str) -> str:
    payload = _payload_bytes(part, "text/plain")
    charset = (_safe(part.get_content_charset) or "us-ascii").lower()
    if charset not in ("us-ascii", "ascii") and content_type.startswith("text/"):
        # As EmailMessage.get_content() decodes text: the charset parameter as given.
        label = part.get_param("charset", "ascii")
        if isinstance(label, str):
            if charset == "utf-16" and payload[:2] not in (b"\xff\xfe", b"\xfe\xff"):
                label = _utf16_order(payload)
            try:
                return payload.decode(_charset(label), errors="replace")
            except (LookupError, ValueError):
                pass  # a bogus charset, or a bytes codec ("base64"): decode by hand
    # Unlabelled (or "us-ascii") 8-bit text is decoded from the bytes: the stdlib would
    # replace every non-ASCII byte, where it is usually UTF-8 or Windows-1252.
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        # Mislabelled 8-bit text in the wild is overwhelmingly Windows-1252.
        return payload.decode("cp1252", errors="replace")


def _utf16_order(payload: bytes) -> str:
    # UTF-16 without a byte order mark is big-endian by RFC 2781 §4.3, but Windows sends it
    # little-endian. Mostly-ASCII text has its zero octets on the high-order side.
    sample = payload[:4096]
    return "utf-16-be" if sample[::2].count(0) > sample[1::2].count(0) else "utf-16-le"


def _payload_bytes(part: Message, content_type: str) -> bytes:
    if content_type == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            # policy.default, unlike compat32, keeps received header lines as they are
            # unless they are too long for SMTP.
            return bytes(inner[0].as_bytes(policy=policy.default))
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _content_id(part: Message) -> str | None:
    for key, value in part.raw_items():
        if key.lower() == "content-id":
            return clean(str(value)).strip().strip("<>").strip()[:500] or None
    return None


# -- text ------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")
_LINE_BREAK = re.compile(r"\r|\n")
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
