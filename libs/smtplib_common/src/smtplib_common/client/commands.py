"""Command lines and the positive replies each command may give.

The sets follow RFC 5321 §4.3.2 ("Command-Reply Sequences"). Any 4xx or 5xx
is a refusal and raises the command's own exception; a 2xx or 3xx outside the
set means client and server disagree about where the dialogue is, which
:func:`check` reports as :class:`SMTPUnexpectedReply`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from smtplib_common.client.response import Response
from smtplib_common.errors import SMTPResponseError, SMTPUnexpectedReply

__all__ = [
    "AUTH_CONTINUE",
    "AUTH_OK",
    "BDAT",
    "DATA",
    "DATA_END",
    "EHLO",
    "GREETING",
    "MAIL",
    "NOOP",
    "QUIT",
    "RCPT",
    "RSET",
    "STARTTLS",
    "VRFY",
    "check",
    "command_line",
    "path_line",
]

GREETING = frozenset({220})  # RFC 5321 §4.3.2 "CONNECTION ESTABLISHMENT"
EHLO = frozenset({250})  # also HELO
MAIL = frozenset({250})
RCPT = frozenset({250, 251})  # 251: "will forward", still accepted
DATA = frozenset({354})
DATA_END = frozenset({250})
BDAT = frozenset({250})  # RFC 3030 §2: one 250 per chunk
RSET = frozenset({250})
NOOP = frozenset({250})
VRFY = frozenset({250, 251, 252})  # 252: cannot verify, will try (§3.5.3)
QUIT = frozenset({221})
STARTTLS = frozenset({220})  # RFC 3207 §4
AUTH_OK = frozenset({235})  # RFC 4954 §6
AUTH_CONTINUE = 334  # RFC 4954 §4: a (possibly empty) base64 challenge

Refusal = Callable[[Response], SMTPResponseError]


def check(
    response: Response,
    *,
    command: str,
    expected: frozenset[int],
    refused: Refusal | None = None,
) -> Response:
    """Return ``response`` when its code is in ``expected``, else raise.

    4xx/5xx raise ``refused(response)`` (a plain :class:`SMTPResponseError`
    when none is given); any other code raises :class:`SMTPUnexpectedReply`.
    """
    if response.code in expected:
        return response
    if response.code >= 400:
        if refused is None:
            raise SMTPResponseError(f"{command} refused", response=response)
        raise refused(response)
    raise SMTPUnexpectedReply(f"unexpected reply to {command}", response=response, command=command)


def _checked(arg: str) -> str:
    # A CR or LF inside an argument would end the command early and let the
    # rest of the string be read as a second command (command injection).
    if "\r" in arg or "\n" in arg or "\0" in arg:
        raise ValueError(f"line break or NUL in SMTP command argument: {arg!r}")
    return arg


def command_line(verb: str, *args: str) -> bytes:
    """``VERB arg arg`` with CRLF, UTF-8 encoded (only SMTPUTF8 sends non-ASCII)."""
    return " ".join([verb, *map(_checked, args)]).encode("utf-8") + b"\r\n"


def path_line(prefix: str, address: str, params: Iterable[str] = ()) -> bytes:
    """``MAIL FROM:<address> params`` or ``RCPT TO:<address> params`` (§4.1.1.2-3)."""
    if "<" in address or ">" in address:
        raise ValueError(f"angle bracket in address: {address!r}")
    return command_line(f"{prefix}:<{_checked(address)}>", *params)
