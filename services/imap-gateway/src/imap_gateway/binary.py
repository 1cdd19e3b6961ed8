"""BINARY[part] content (RFC 3516 §4.2, RFC 9051 §6.4.5): a part's octets with its
Content-Transfer-Encoding undone. Pure.

:func:`transfer_encoding` reads the encoding from a part's MIME header;
:func:`decoder` gives an incremental decoder for it (fed the part's octets chunk
by chunk as they arrive, so the encoded part is never held whole), or raises
:class:`UnknownTransferEncoding`, which the session answers ``NO [UNKNOWN-CTE]``
(RFC 3516 §4.3).
"""

from __future__ import annotations

import binascii
import re
from typing import Protocol

from imap_gateway.sections import parse_header

__all__ = ["Decoder", "UnknownTransferEncoding", "decoder", "transfer_encoding"]

# RFC 2045 §6.1: the identity encodings; a multipart or message/rfc822 part may
# only have these (§6.4), so BINARY gives such a part as it is.
IDENTITY = frozenset({"7bit", "8bit", "binary"})
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")  # RFC 2045 §6.8: ignored when decoding
_TRAILING_SPACE = re.compile(rb"[ \t]+(?=\r?\n|\Z)")  # RFC 2045 §6.7 rule 3


class UnknownTransferEncoding(ValueError):
    """A Content-Transfer-Encoding this server cannot decode."""


def transfer_encoding(mime_header: bytes) -> str:
    """The part's Content-Transfer-Encoding, lower-cased; 7bit when there is none."""
    value = parse_header(mime_header).get("Content-Transfer-Encoding")
    return str(value).strip().lower() if value is not None else "7bit"


class Decoder(Protocol):
    def feed(self, data: bytes) -> bytes: ...
    def finish(self) -> bytes: ...


class _Identity:
    def feed(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return b""


class _Base64:
    """Whole groups of four as they come; a last partial group is padded, as a
    lenient reader (and Dovecot) does with a truncated part; nothing after "="."""

    def __init__(self) -> None:
        self._rest = b""
        self._ended = False

    def feed(self, data: bytes) -> bytes:
        if self._ended:
            return b""
        padding = data.find(b"=")
        if padding >= 0:
            data, self._ended = data[:padding], True
        text = self._rest + _NOT_BASE64.sub(b"", data)
        whole = len(text) - len(text) % 4
        self._rest = text[whole:]
        return binascii.a2b_base64(text[:whole]) if whole else b""

    def finish(self) -> bytes:
        rest, self._rest = self._rest, b""
        if len(rest) < 2:  # one sextet holds no whole octet
            return b""
        return binascii.a2b_base64(rest + b"=" * (-len(rest) % 4))


class _QuotedPrintable:
    """Line by line: a soft line break ("=" at the end) joins a line to the next."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> bytes:
        text = self._rest + data
        end = text.rfind(b"\n") + 1
        self._rest = text[end:]
        return self._decode(text[:end])

    def finish(self) -> bytes:
        rest, self._rest = self._rest, b""
        return self._decode(rest)

    @staticmethod
    def _decode(lines: bytes) -> bytes:
        return binascii.a2b_qp(_TRAILING_SPACE.sub(b"", lines)) if lines else b""


def decoder(encoding: str) -> Decoder:
    if encoding in IDENTITY:
        return _Identity()
    if encoding == "base64":
        return _Base64()
    if encoding == "quoted-printable":
        return _QuotedPrintable()
    raise UnknownTransferEncoding(encoding)
