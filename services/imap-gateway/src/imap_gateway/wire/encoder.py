"""Responses on the wire (RFC 9051 §7, §9 response): value encoders and a writer.

Value encoders return ``bytes`` and are composed with ``b" ".join``: no
per-octet Python loops, the checks that choose between atom, quoted string and
literal are compiled patterns and ``bytes`` methods running in C.

A string goes out quoted when that is safe (short, 7-bit or UTF-8 where the
client accepts it, no CR, LF or NUL) and as a literal otherwise; NUL forces
``~{n}`` (literal8, RFC 3516 §4.2), which only BINARY[...] data may use.
A large body is streamed from an async source in chunks
(:meth:`ResponseWriter.stream_literal`), never held whole.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass

from imap_gateway.wire import codes
from imap_gateway.wire.cursor import ASTRING, ATOM
from imap_gateway.wire.dates import format_date_time
from imap_gateway.wire.errors import WireError
from imap_gateway.wire.mailbox_names import encode_mailbox
from imap_gateway.wire.sequence import SequenceSet

CRLF = b"\r\n"
NIL = b"NIL"
# Longer strings go as literals: quoting buys nothing there, and a literal needs
# no escaping scan on the client's side.
QUOTED_MAX = 1024

# What a quoted string cannot hold (RFC 9051 §9 QUOTED-CHAR): CR, LF, NUL.
_UNQUOTABLE = re.compile(rb"[\x00\r\n]")
_CODE_ATOM = re.compile(rb"[A-Z][A-Z0-9.-]*")


class EncodingError(ValueError):
    """A value that has no wire form where it was put (a bug in the caller)."""


# --- values --------------------------------------------------------------------------------


def atom(value: str | bytes) -> bytes:
    data = value.encode("ascii") if isinstance(value, str) else value
    if ATOM.fullmatch(data) is None:
        raise EncodingError(f"not an atom: {data[:40]!r}")
    return data


def number(value: int) -> bytes:
    if value < 0:
        raise EncodingError("numbers on the wire are unsigned")
    return b"%d" % value


def literal(data: bytes, *, binary: bool = False) -> bytes:
    """``{n}`` CRLF data, or ``~{n}`` for literal8."""
    return b"".join((b"~{" if binary else b"{", b"%d" % len(data), b"}\r\n", data))


def string(value: str | bytes, *, utf8: bool = True) -> bytes:
    """``string``: quoted when safe, else a literal (literal8 when it holds NUL).

    ``utf8``: 8-bit UTF-8 may be quoted (RFC 9051 §9 QUOTED-CHAR; IMAP4rev1
    clients that did not enable UTF8=ACCEPT get a literal instead).
    """
    data = value.encode("utf-8") if isinstance(value, str) else value
    if (
        len(data) <= QUOTED_MAX
        and _UNQUOTABLE.search(data) is None
        and (data.isascii() or (utf8 and _is_utf8(data)))
    ):
        if b"\\" in data or b'"' in data:
            data = data.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        return b'"' + data + b'"'
    return literal(data, binary=b"\x00" in data)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def nstring(value: str | bytes | None, *, utf8: bool = True) -> bytes:
    return NIL if value is None else string(value, utf8=utf8)


def astring(value: str | bytes, *, utf8: bool = True) -> bytes:
    """An atom when the value is one (and not NIL, which reads as nil elsewhere), else a string."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    if ASTRING.fullmatch(data) is not None and data.upper() != NIL:
        return data
    return string(data, utf8=utf8)


def mailbox(name: str, *, utf8: bool) -> bytes:
    """A mailbox name as the client expects it (modified UTF-7 unless ``utf8``)."""
    return astring(encode_mailbox(name, utf8=utf8), utf8=utf8)


def paren_list(items: Iterable[bytes]) -> bytes:
    return b"(" + b" ".join(items) + b")"


def flag_list(flags: Iterable[str]) -> bytes:
    return paren_list([flag.encode("ascii") for flag in flags])


def sequence_set(value: SequenceSet) -> bytes:
    """The compact form (``1:3,5``); normalise with :meth:`SequenceSet.of` first."""
    return value.encode()


def date_time(value: dt.datetime) -> bytes:
    """``date-time`` for INTERNALDATE and APPEND: quoted ``dd-Mon-yyyy hh:mm:ss +zzzz``."""
    return b'"' + format_date_time(value).encode("ascii") + b'"'


# --- response lines ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusResponse:
    """``tag|* OK|NO|BAD|PREAUTH|BYE [CODE args] text`` (RFC 9051 §7.1)."""

    tag: str | None
    status: str
    text: str
    code: str | None = None
    code_args: bytes | None = None

    def encode(self) -> bytes:
        return status_line(self.tag, self.status, self.text, self.code, self.code_args)


def status_line(
    tag: str | None, status: str, text: str, code: str | None = None, args: bytes | None = None
) -> bytes:
    """One status response line with its CRLF; ``tag`` None makes it untagged."""
    head = b"* " if tag is None else tag.encode("ascii") + b" "
    parts = [head, status.encode("ascii"), b" "]
    if code is not None:
        code_bytes = code.encode("ascii")
        if _CODE_ATOM.fullmatch(code_bytes) is None:
            raise EncodingError(f"not a response code: {code!r}")
        parts += [b"[", code_bytes, b" " + args if args else b"", b"] "]
    parts += [_text(text), CRLF]
    return b"".join(parts)


def _text(text: str) -> bytes:
    # RFC 9051 §9: text is 1*TEXT-CHAR (no CR, LF); an empty text is not allowed.
    data = text.encode("utf-8").replace(b"\r", b" ").replace(b"\n", b" ")
    return data or b"."


def untagged(*parts: bytes) -> bytes:
    """``* part part ...`` CRLF, e.g. ``untagged(b"5", b"EXISTS")``."""
    return b"* " + b" ".join(parts) + CRLF


def continuation(text: str = codes.READY_FOR_LITERAL) -> bytes:
    """``+ text`` CRLF (RFC 9051 §7.5)."""
    return b"+ " + _text(text) + CRLF


def response_for(error: WireError) -> StatusResponse:
    """The response that answers a wire error (its tag, status, code and text)."""
    return StatusResponse(error.tag, error.status, error.text, error.code)


# Response text collected before it goes to the transport in one write: a FETCH of a
# page of envelopes is a few short writes per message, each a send(2) of its own.
FLUSH_AT = 64 * 1024


class ResponseWriter:
    """Writes responses to one connection; drains after each command's answer.

    Text is collected and handed to the transport at :meth:`drain` (or past
    :data:`FLUSH_AT`, or before a literal's octets), so whoever waits for the client
    must drain first, as every command's answer does; :meth:`flush` hands it over
    without waiting (before the connection closes).

    It knows whether a response has begun and not ended (:attr:`in_response`): a
    command that fails then cannot be answered in step with the client, which is
    still reading that response, so the session must close the connection instead.
    """

    def __init__(
        self, writer: asyncio.StreamWriter, *, on_write: Callable[[int], None] | None = None
    ) -> None:
        self.writer = writer
        # Told the size of everything handed to the transport (the service's bytes-out
        # metric), once per flush: a FETCH of 50 envelopes is one count, not 100.
        self._on_write = on_write
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._line_open = False
        # Octets of a literal announced and not yet sent.
        self._literal_left = 0

    @property
    def in_response(self) -> bool:
        return self._line_open or self._literal_left > 0

    @property
    def in_literal(self) -> bool:
        """Inside an announced literal: whatever is written now is read as its octets."""
        return self._literal_left > 0

    def _send(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Hand what is collected to the transport (which sends it as it can)."""
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            self._pending_size = 0
            self.writer.write(data)
            if self._on_write is not None:
                self._on_write(len(data))

    def write(self, data: bytes) -> None:
        """Response text: whole lines, or the head of one (``* 1 FETCH (``) to go on."""
        if self._literal_left:
            raise EncodingError(f"response text inside a literal of {self._literal_left} octets")
        self._send(data)
        self._line_open = not data.endswith(b"\r\n")

    def untagged(self, *parts: bytes) -> None:
        self.write(untagged(*parts))

    def status(
        self,
        tag: str | None,
        status: str,
        text: str,
        code: str | None = None,
        args: bytes | None = None,
    ) -> None:
        self.write(status_line(tag, status, text, code, args))

    def abandon(self) -> bool:
        """End a response that cannot be finished; whether a line may follow (a BYE).

        An open line is cut with CRLF (the client sees one malformed response and
        then the next line); inside a literal nothing can follow, since the client
        would take it as the literal's octets.
        """
        if self._literal_left:
            return False
        if self._line_open:
            self._send(b"\r\n")
            self._line_open = False
        return True

    async def continuation(self, text: str = codes.READY_FOR_LITERAL) -> None:
        self.write(continuation(text))
        await self.drain()

    async def drain(self) -> None:
        self.flush()
        await self.writer.drain()

    async def stream_literal(
        self, size: int, chunks: AsyncIterable[bytes], *, binary: bool = False
    ) -> None:
        """``{size}`` CRLF and then the chunks, draining between them (flow control).

        The source must yield exactly ``size`` octets: a short or long body would
        put the client out of step, so that is an error the session must end the
        connection on. While the octets go out :attr:`in_literal` is true.
        """
        self.write(b"".join((b"~{" if binary else b"{", b"%d" % size, b"}\r\n")))
        # The CRLF above is the literal's, not the response's: it goes on after the octets.
        self._line_open = True
        self._literal_left = size
        sent = 0
        async for chunk in chunks:
            sent += len(chunk)
            if sent > size:
                raise EncodingError(f"literal source gave more than the {size} octets announced")
            self._send(chunk)
            self._literal_left = size - sent
            await self.drain()
        if sent != size:
            raise EncodingError(f"literal source gave {sent} of the {size} octets announced")
