"""The envelope of the AMQP contract: who a delivered message is from and for."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aio_pika.abc import AbstractIncomingMessage

from mailstore.errors import InvalidEnvelope

# The gateway's id: a ULID, 26 characters of Crockford base32 (case-insensitive).
_GATEWAY_ID = re.compile(r"[0-9A-Za-z]{26}")


@dataclass(frozen=True, slots=True)
class Envelope:
    gateway_id: str
    mail_from: str
    rcpt_to: list[str]
    submitted_by: str | None


def read_envelope(message: AbstractIncomingMessage) -> Envelope:
    """The envelope of the AMQP contract; raises :class:`InvalidEnvelope` when it is broken."""
    gateway_id = message.message_id
    if not gateway_id or not _GATEWAY_ID.fullmatch(gateway_id):
        raise InvalidEnvelope(f"message_id is not a 26-character ULID: {gateway_id!r}")
    headers = message.headers or {}
    mail_from = _text(headers.get("x-localpost-mail-from"), "x-localpost-mail-from")
    recipients = headers.get("x-localpost-rcpt-to")
    if not isinstance(recipients, list | tuple):
        raise InvalidEnvelope("x-localpost-rcpt-to is missing or not an array")
    rcpt_to = [_text(item, "x-localpost-rcpt-to").lower() for item in recipients]
    submitted = headers.get("x-localpost-submitted-by")
    submitted_by = None if submitted is None else _text(submitted, "x-localpost-submitted-by")
    return Envelope(
        gateway_id=gateway_id,
        mail_from=mail_from,
        rcpt_to=list(dict.fromkeys(rcpt_to)),
        submitted_by=submitted_by.lower() if submitted_by else None,
    )


def _text(value: object, name: str) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEnvelope(f"{name} is not UTF-8") from None
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidEnvelope(f"{name} is missing or not a string")
    return value


def delivery_count(message: AbstractIncomingMessage) -> int:
    # Quorum queues set x-delivery-count on redeliveries (absent on the first delivery).
    value = (message.headers or {}).get("x-delivery-count", 0)
    return value if isinstance(value, int) else 0
