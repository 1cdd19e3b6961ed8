"""Messages and their wire form: building, serialising, dot-stuffing, xtext.

Pure functions only; :mod:`.connection` decides which of them a transaction
needs from what the server offered.
"""

from __future__ import annotations

import copy
import email.policy
import re
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from smtplib_common.addresslist import header_mailboxes

__all__ = [
    "build_message",
    "data_payload",
    "dot_stuff",
    "envelope_of",
    "has_8bit",
    "headers_have_8bit",
    "message_needs_smtputf8",
    "needs_smtputf8",
    "normalize_line_endings",
    "prepare_content",
    "serialize_message",
]

_LINE_ENDING = re.compile(rb"\r\n|\r|\n")
# Headers whose addr-specs must go through SMTPUTF8 when non-ASCII: an
# encoded-word is not allowed inside an addr-spec (RFC 2047 §5 (3)).
_ADDRESS_HEADERS = ("from", "sender", "reply-to", "to", "cc", "bcc")


def normalize_line_endings(data: bytes) -> bytes:
    """Turn every CRLF, bare CR and bare LF into CRLF.

    RFC 5321 §2.3.8 forbids bare CR and LF in SMTP, and servers hardened
    against SMTP smuggling (ours included) reject them, so we never send one.
    """
    return _LINE_ENDING.sub(b"\r\n", data)


def prepare_content(data: bytes) -> bytes:
    """Normalise line endings and make sure non-empty content ends with CRLF.

    This is the message as the server will store it; RFC 1870 §3 counts its
    octets for SIZE=.
    """
    content = normalize_line_endings(data)
    if content and not content.endswith(b"\r\n"):
        content += b"\r\n"
    return content


def dot_stuff(content: bytes) -> bytes:
    """Double a leading "." on every line (RFC 5321 §4.5.2).

    ``content`` must already be normalised, so every line ends with CRLF.
    """
    stuffed = content.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def data_payload(content: bytes) -> bytes:
    """What follows a 354: the stuffed content and the end-of-data line."""
    return dot_stuff(content) + b".\r\n"


def has_8bit(data: bytes) -> bool:
    """True when any octet has the high bit set (RFC 6152 calls this 8bit data)."""
    return not data.isascii()


def headers_have_8bit(content: bytes) -> bool:
    """True when the header section (up to the first empty line) is not ASCII.

    Raw UTF-8 in headers is only legal in an SMTPUTF8 transaction (RFC 6532 §3,
    RFC 6531 §3.2); 8-bit bodies only need 8BITMIME.
    """
    end = content.find(b"\r\n\r\n")
    return has_8bit(content if end < 0 else content[:end])


def needs_smtputf8(addresses: Iterable[str], content: bytes = b"") -> bool:
    """True when a mailbox or the header section needs RFC 6531 SMTPUTF8."""
    return not all(map(str.isascii, addresses)) or headers_have_8bit(content)


def build_message(
    sender: str,
    recipients: Iterable[str],
    subject: str,
    body: str,
    *,
    cc: Iterable[str] = (),
    reply_to: str | None = None,
    headers: Mapping[str, str] | None = None,
    allow_8bit: bool = True,
) -> EmailMessage:
    """A ``text/plain`` message with the RFC 5322 §3.6 headers a server expects.

    ``allow_8bit=False`` forces quoted-printable for a non-ASCII body, for
    servers that do not offer 8BITMIME (RFC 6152 §3 forbids 8-bit data then).
    """
    msg = EmailMessage()
    msg["From"] = sender
    to = list(recipients)
    if to:
        msg["To"] = ", ".join(to)
    cc = list(cc)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if reply_to is not None:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    # make_msgid() would otherwise call socket.getfqdn(), a blocking DNS lookup.
    domain = sender.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    for name, value in (headers or {}).items():
        msg[name] = value
    if body.isascii() or allow_8bit:
        msg.set_content(body)
    else:
        msg.set_content(body, cte="quoted-printable")
    return msg


def _header_addresses(msg: EmailMessage, names: Iterable[str]) -> list[str]:
    # Not email.utils.getaddresses: its answers differ between patch releases (addresslist).
    return [addr for _, addr in header_mailboxes(v for n in names for v in msg.get_all(n, []))]


def envelope_of(
    msg: EmailMessage,
    *,
    sender: str | None = None,
    recipients: Iterable[str] | None = None,
) -> tuple[str, list[str], EmailMessage]:
    """Envelope sender and recipients for ``msg``, and the copy to transmit.

    Defaults follow the headers: Sender, else From (RFC 5322 §3.6.2); To, Cc
    and Bcc. Bcc is removed from the transmitted copy (RFC 5322 §3.6.3) so
    blind recipients stay blind.
    """
    if sender is None:
        found = _header_addresses(msg, ["sender"]) or _header_addresses(msg, ["from"])
        if not found:
            raise ValueError("no sender given and the message has no Sender or From")
        sender = found[0]
    rcpts = (
        list(recipients) if recipients is not None else _header_addresses(msg, _ADDRESS_HEADERS[3:])
    )
    if not rcpts:
        raise ValueError("no recipients given and the message has no To, Cc or Bcc")
    sent = copy.copy(msg)
    del sent["Bcc"]
    return sender, list(dict.fromkeys(rcpts)), sent


def serialize_message(msg: EmailMessage, *, utf8: bool) -> bytes:
    """The message as CRLF-terminated octets, ready for :func:`prepare_content`.

    Without ``utf8`` non-ASCII header text is RFC 2047-encoded; with it
    (an SMTPUTF8 transaction) headers are written as raw UTF-8 (RFC 6532 §3).
    """
    policy = email.policy.SMTPUTF8 if utf8 else email.policy.SMTP
    return msg.as_bytes(policy=policy)


def message_needs_smtputf8(msg: EmailMessage) -> bool:
    """True when an address header holds a non-ASCII addr-spec."""
    return not all(map(str.isascii, _header_addresses(msg, _ADDRESS_HEADERS)))
