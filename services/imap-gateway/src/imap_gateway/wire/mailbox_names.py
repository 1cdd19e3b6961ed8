"""Mailbox names on the wire: modified UTF-7 (RFC 3501 §5.1.3) and UTF-8 (RFC 9051 §5.1).

An IMAP4rev1 client writes non-ASCII names in modified UTF-7; a client that
enabled IMAP4rev2 or UTF8=ACCEPT (RFC 6855 §3) writes UTF-8 and ``&`` is then an
ordinary character. The session knows which; these helpers take it as ``utf8``.

Decoding is strict, so each name has exactly one wire form: a shifted run must
hold characters that could not be written directly, adjacent runs must be one,
the base64 must end on a character boundary with zero padding bits.
"""

from __future__ import annotations

import base64
import binascii
import re

INBOX = "INBOX"

# RFC 3501 §5.1.3: printable US-ASCII other than "&" represents itself.
_DIRECT = re.compile(r"[\x20-\x25\x27-\x7e]+")
_SHIFTED = re.compile(rb"&([A-Za-z0-9+,]*)-")
# RFC 9051 §5.1 / RFC 5198: no control characters in a name (C0, DEL, C1).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def encode_mutf7(name: str) -> bytes:
    """``name`` in modified UTF-7.

    RFC 3501 §5.1.3: ``~peter/mail/台北/日本語`` is ``~peter/mail/&U,BTFw-/&ZeVnLIqe-``.
    """
    out: list[bytes] = []
    pos = 0
    while pos < len(name):
        direct = _DIRECT.match(name, pos)
        if direct is not None:
            out.append(direct.group().encode("ascii"))
            pos = direct.end()
            continue
        if name[pos] == "&":
            out.append(b"&-")
            pos += 1
            continue
        end = pos
        while end < len(name) and not ("\x20" <= name[end] <= "\x7e"):
            end += 1
        utf16 = name[pos:end].encode("utf-16-be", "surrogatepass")
        b64 = base64.b64encode(utf16).rstrip(b"=").replace(b"/", b",")
        out.append(b"&" + b64 + b"-")
        pos = end
    return b"".join(out)


def decode_mutf7(data: bytes) -> str:
    """The name ``data`` writes in modified UTF-7; ValueError if it is not canonical."""
    if not data.isascii():
        raise ValueError("modified UTF-7 is 7-bit")
    out: list[str] = []
    pos = 0
    previous_shift_end = -1
    while pos < len(data):
        amp = data.find(b"&", pos)
        if amp < 0:
            out.append(_direct(data[pos:]))
            break
        out.append(_direct(data[pos:amp]))
        shifted = _SHIFTED.match(data, amp)
        if shifted is None:
            raise ValueError("unterminated or invalid modified UTF-7 shift")
        b64 = shifted.group(1)
        if not b64:
            out.append("&")
        else:
            if amp == previous_shift_end:
                raise ValueError("adjacent modified UTF-7 shifts must be one")
            out.append(_decode_run(b64))
            previous_shift_end = shifted.end()
        pos = shifted.end()
    return "".join(out)


def _direct(part: bytes) -> str:
    text = part.decode("ascii")
    if _DIRECT.fullmatch(text) is None and text:
        raise ValueError("control character in mailbox name")
    return text


def _decode_run(b64: bytes) -> str:
    padded = b64.replace(b",", b"/") + b"=" * (-len(b64) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except binascii.Error:
        raise ValueError("invalid base64 in modified UTF-7") from None
    if len(raw) % 2 or base64.b64encode(raw).rstrip(b"=") != b64.replace(b",", b"/"):
        raise ValueError("modified UTF-7 run does not end on a character")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError:
        raise ValueError("invalid UTF-16 in modified UTF-7") from None
    if any("\x20" <= ch <= "\x7e" for ch in text):
        raise ValueError("printable ASCII must not be shifted in modified UTF-7")
    return text


def decode_mailbox(data: bytes, *, utf8: bool) -> str:
    """A mailbox name as the client wrote it, decoded; ValueError if invalid.

    ``INBOX`` in any case is ``INBOX`` (RFC 9051 §5.1: the name is case-insensitive).
    """
    # UnicodeDecodeError is a ValueError too.
    name = data.decode("utf-8") if utf8 else decode_mutf7(data)
    if _CONTROL.search(name):
        raise ValueError("control character in mailbox name")
    return INBOX if name.upper() == INBOX else name


# What an undecodable LIST pattern stands for: a name with a control character,
# which no mailbox has (decode_mailbox refuses it), so the pattern matches nothing,
# as a wire form that no name encodes to matches nothing.
NO_MAILBOX = "\x00"


def encode_mailbox(name: str, *, utf8: bool) -> bytes:
    """The wire form of ``name`` for a client in UTF-8 mode or not."""
    return name.encode("utf-8") if utf8 else encode_mutf7(name)
