"""Localpost's asyncio SMTP client.

::

    async with SMTPClient("mail.example.org", 587, starttls=True,
                          username="ann", password=secret) as client:
        result = await client.send_message(
            "ann@example.org", ["bob@example.net"], "Hello", "Hi Bob!\n"
        )
        result.accepted, result.refused, result.data_response

Errors are in :mod:`smtplib_common.errors`, re-exported here.
"""

from __future__ import annotations

from smtplib_common.client.connection import SMTPClient
from smtplib_common.client.message import (
    build_message,
    dot_stuff,
    normalize_line_endings,
)
from smtplib_common.client.pool import SMTPPool
from smtplib_common.client.response import Response, parse_ehlo, parse_reply
from smtplib_common.client.transaction import SendResult
from smtplib_common.client.transport import Timeouts
from smtplib_common.errors import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPDataRefused,
    SMTPError,
    SMTPMalformedReply,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseError,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
    SMTPUnexpectedReply,
)

__all__ = [
    "Response",
    "SMTPAuthenticationError",
    "SMTPClient",
    "SMTPConnectError",
    "SMTPDataRefused",
    "SMTPError",
    "SMTPMalformedReply",
    "SMTPNotSupported",
    "SMTPPool",
    "SMTPRecipientsRefused",
    "SMTPResponseError",
    "SMTPSenderRefused",
    "SMTPServerDisconnected",
    "SMTPTimeoutError",
    "SMTPUnexpectedReply",
    "SendResult",
    "Timeouts",
    "build_message",
    "dot_stuff",
    "normalize_line_endings",
    "parse_ehlo",
    "parse_reply",
]
