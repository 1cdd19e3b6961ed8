"""Exceptions raised by the SMTP client (:mod:`smtplib_common.client`).

Every exception the client raises on purpose derives from :class:`SMTPError`,
so ``except SMTPError`` is the one clause a caller needs to catch "the mail did
not go". The whole tree::

    SMTPError                       base class; never raised itself
    ├── SMTPConnectError            TCP connect or TLS handshake failed, or the
    │                               greeting was not 220 (RFC 5321 §3.1: a
    │                               server may greet with 554 and refuse us)
    ├── SMTPTimeoutError            connect, a write, or a reply took longer than
    │                               its timeout; also a TimeoutError. The
    │                               connection is closed: a late reply would
    │                               desynchronise the dialogue
    ├── SMTPServerDisconnected      the server closed the connection (EOF or
    │                               reset), or a command was issued on a client
    │                               that is not connected
    ├── SMTPNotSupported            we need an extension the server did not offer
    │                               in its EHLO reply: STARTTLS, AUTH or the asked
    │                               mechanism, SMTPUTF8 for a non-ASCII address,
    │                               8BITMIME for 8-bit content
    ├── SMTPMalformedReply          a reply line is not ``ddd[ -]text`` (RFC 5321
    │                               §4.2), is longer than we read, or a
    │                               multi-line reply changes code mid-way; the
    │                               connection is closed
    └── SMTPResponseError           a well-formed reply the command cannot accept;
        │                           carries ``code`` and the parsed ``response``
        ├── SMTPSenderRefused       MAIL FROM was refused; carries ``sender``
        ├── SMTPRecipientsRefused   every RCPT TO of a transaction was refused (or
        │                           one, from :meth:`SMTPClient.rcpt`); carries
        │                           ``refused``: recipient -> response, each with
        │                           its own code. ``code`` is the first refusal's
        ├── SMTPDataRefused         DATA or BDAT was refused, before or after the
        │                           content was sent
        ├── SMTPAuthenticationError AUTH failed (RFC 4954 §6: 535, 534, 538, ...)
        └── SMTPUnexpectedReply     a positive or intermediate code the command
                                    never answers with (``354`` to RCPT, ``334``
                                    to MAIL); the dialogue is out of step, so the
                                    connection is closed

Context is keyword-only so that messages stay free text and the data stays
typed: ``SMTPSenderRefused("sender refused", response=r, sender="a@b")``.
A 4xx ``code`` means "try again later" (RFC 5321 §4.2.1); :attr:`transient`
says so without callers comparing numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smtplib_common.client.response import Response

__all__ = [
    "SMTPAuthenticationError",
    "SMTPConnectError",
    "SMTPDataRefused",
    "SMTPError",
    "SMTPMalformedReply",
    "SMTPNotSupported",
    "SMTPRecipientsRefused",
    "SMTPResponseError",
    "SMTPSenderRefused",
    "SMTPServerDisconnected",
    "SMTPTimeoutError",
    "SMTPUnexpectedReply",
]


class SMTPError(Exception):
    """Base class of every error the SMTP client raises."""


class SMTPConnectError(SMTPError):
    """The connection could not be opened, or the server refused us in its greeting."""

    def __init__(self, message: str, *, response: Response | None = None) -> None:
        super().__init__(message)
        self.response = response


class SMTPTimeoutError(SMTPError, TimeoutError):
    """Connecting, writing or waiting for a reply exceeded its timeout."""


class SMTPServerDisconnected(SMTPError):
    """The server closed the connection, or the client was not connected."""


class SMTPNotSupported(SMTPError):
    """The server did not offer an extension this operation needs."""

    def __init__(self, message: str, *, extension: str) -> None:
        super().__init__(message)
        self.extension = extension


class SMTPMalformedReply(SMTPError):
    """A reply could not be parsed; ``line`` is the offending raw line."""

    def __init__(self, message: str, *, line: bytes = b"") -> None:
        super().__init__(message)
        self.line = line


class SMTPResponseError(SMTPError):
    """The server answered with a reply the command could not accept."""

    def __init__(self, message: str, *, response: Response) -> None:
        super().__init__(message)
        self.response = response

    @property
    def code(self) -> int:
        return self.response.code

    @property
    def transient(self) -> bool:
        """True for 4xx: the same command may succeed later (RFC 5321 §4.2.1)."""
        return 400 <= self.code < 500

    def __str__(self) -> str:
        return f"{self.args[0]}: {self.response}"


class SMTPSenderRefused(SMTPResponseError):
    """MAIL FROM was refused."""

    def __init__(self, message: str, *, response: Response, sender: str) -> None:
        super().__init__(message, response=response)
        self.sender = sender


class SMTPRecipientsRefused(SMTPResponseError):
    """Every recipient was refused; ``refused`` maps each one to its reply."""

    def __init__(self, message: str, *, refused: Mapping[str, Response]) -> None:
        if not refused:
            raise ValueError("SMTPRecipientsRefused needs at least one refused recipient")
        super().__init__(message, response=next(iter(refused.values())))
        self.refused = dict(refused)

    @property
    def transient(self) -> bool:
        """True when any recipient may be accepted later, so a retry is worth it."""
        return any(r.is_transient for r in self.refused.values())

    def __str__(self) -> str:
        each = "; ".join(f"{rcpt}: {resp}" for rcpt, resp in self.refused.items())
        return f"{self.args[0]}: {each}"


class SMTPDataRefused(SMTPResponseError):
    """DATA or BDAT, or the message content itself, was refused."""


class SMTPAuthenticationError(SMTPResponseError):
    """AUTH failed."""


class SMTPUnexpectedReply(SMTPResponseError):
    """A reply code the command never answers with; the dialogue is out of step."""

    def __init__(self, message: str, *, response: Response, command: str) -> None:
        super().__init__(message, response=response)
        self.command = command
