"""SASL for SMTP AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN.

Credentials pass through here only as arguments; they are never logged, and
the lines that carry them are logged as ``[credentials]``.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence

from smtplib_common.client import commands
from smtplib_common.client.response import Response
from smtplib_common.client.transport import Channel
from smtplib_common.errors import (
    SMTPAuthenticationError,
    SMTPNotSupported,
    SMTPResponseError,
)

__all__ = ["SUPPORTED_MECHANISMS", "authenticate", "choose_mechanism", "plain_response"]

log = logging.getLogger(__name__)

# Best first. Both send the password in clear text inside the (TLS) session;
# PLAIN wins because its initial response saves a round trip (RFC 4954 §4).
SUPPORTED_MECHANISMS = ("PLAIN", "LOGIN")
# RFC 4954 §4: the AUTH command line, initial response included, must fit the
# 512-octet command limit of RFC 5321 §4.5.3.1.4; longer ones go after a 334.
MAX_AUTH_LINE = 512


def choose_mechanism(offered: Sequence[str], requested: str | None = None) -> str:
    """The mechanism to use: ``requested`` if offered, else the best we support."""
    offered_upper = [m.upper() for m in offered]
    if requested is not None:
        mechanism = requested.upper()
        if mechanism not in SUPPORTED_MECHANISMS:
            raise ValueError(f"unsupported AUTH mechanism {requested!r}")
        if mechanism not in offered_upper:
            raise SMTPNotSupported(f"server does not offer AUTH {mechanism}", extension="AUTH")
        return mechanism
    for mechanism in SUPPORTED_MECHANISMS:
        if mechanism in offered_upper:
            return mechanism
    raise SMTPNotSupported(
        f"no supported AUTH mechanism among {' '.join(offered_upper) or 'none'}",
        extension="AUTH",
    )


def _b64(data: str) -> str:
    return base64.b64encode(data.encode("utf-8")).decode("ascii")


def plain_response(username: str, password: str, authzid: str = "") -> str:
    """RFC 4616 §2: ``[authzid] NUL authcid NUL passwd``, base64-encoded."""
    return _b64(f"{authzid}\0{username}\0{password}")


async def authenticate(
    channel: Channel,
    *,
    mechanism: str,
    username: str,
    password: str,
) -> Response:
    """Run one AUTH exchange; return the 235, raise on anything else."""
    if mechanism == "PLAIN":
        answers = [plain_response(username, password)]
        initial = f"AUTH PLAIN {answers[0]}\r\n"
        if len(initial) <= MAX_AUTH_LINE:
            log.debug("C: AUTH PLAIN [credentials]")
            await channel.send(initial.encode("ascii"))
            answers = []
        else:
            log.debug("C: AUTH PLAIN")
            await channel.send(b"AUTH PLAIN\r\n")
    else:
        # LOGIN (draft-murchison-sasl-login): the server prompts for the user
        # name, then the password; we answer in that order whatever the prompts say.
        answers = [_b64(username), _b64(password)]
        log.debug("C: AUTH LOGIN")
        await channel.send(b"AUTH LOGIN\r\n")

    response = await channel.read_response()
    while response.code == commands.AUTH_CONTINUE:
        if not answers:
            # RFC 4954 §4: "*" cancels an exchange we cannot continue.
            await channel.send(b"*\r\n")
            await channel.read_response()
            raise SMTPAuthenticationError(
                f"AUTH {mechanism}: unexpected extra challenge", response=response
            )
        log.debug("C: [credentials]")
        await channel.send(answers.pop(0).encode("ascii") + b"\r\n")
        response = await channel.read_response()
    return commands.check(
        response,
        command=f"AUTH {mechanism}",
        expected=commands.AUTH_OK,
        refused=_refused(mechanism),
    )


def _refused(mechanism: str) -> commands.Refusal:
    def refuse(response: Response) -> SMTPResponseError:
        return SMTPAuthenticationError(f"AUTH {mechanism} failed", response=response)

    return refuse
