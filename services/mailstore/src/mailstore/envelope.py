"""The envelope of the AMQP contract: who a delivered message is from and for.

One AMQP message carries one mail message (the single form: the envelope in the
properties and headers) or several (the batch form: a JSON manifest at the start of
the body, then the messages' bytes back to back); docs/architecture.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aio_pika.abc import AbstractIncomingMessage, FieldValue

from mailstore.errors import InvalidEnvelope

# The gateway's id: a ULID, 26 characters of Crockford base32 (case-insensitive).
_GATEWAY_ID = re.compile(r"[0-9A-Za-z]{26}")
# The single form.
CONTENT_TYPE = "message/rfc822"
HEADER_MAIL_FROM = "x-localpost-mail-from"
HEADER_RCPT_TO = "x-localpost-rcpt-to"
HEADER_SUBMITTED_BY = "x-localpost-submitted-by"
# The batch form.
BATCH_CONTENT_TYPE = "application/x-localpost-batch"
HEADER_MANIFEST = "x-localpost-manifest"


@dataclass(frozen=True, slots=True)
class Envelope:
    gateway_id: str
    mail_from: str
    rcpt_to: list[str]
    submitted_by: str | None


def read_deliveries(message: AbstractIncomingMessage) -> list[tuple[Envelope, bytes]]:
    """Every mail message an AMQP message carries, with its envelope, in order.

    Raises :class:`InvalidEnvelope` when any part breaks the contract: the gateway is
    the only producer, so the whole AMQP message is suspect then.
    """
    if message.content_type == BATCH_CONTENT_TYPE:
        return _read_batch(message)
    return [(read_envelope(message), message.body)]


def read_envelope(message: AbstractIncomingMessage) -> Envelope:
    """The envelope of the single form; raises :class:`InvalidEnvelope` when it is broken."""
    headers = message.headers or {}
    recipients = headers.get(HEADER_RCPT_TO)
    return _envelope(
        message.message_id,
        headers.get(HEADER_MAIL_FROM),
        recipients if isinstance(recipients, list | tuple) else None,
        headers.get(HEADER_SUBMITTED_BY),
    )


def single_form_headers(envelope: Envelope) -> dict[str, FieldValue]:
    """The headers the single form carries ``envelope`` in (read back by read_envelope)."""
    recipients: list[FieldValue] = [*envelope.rcpt_to]
    headers: dict[str, FieldValue] = {
        HEADER_MAIL_FROM: envelope.mail_from,
        HEADER_RCPT_TO: recipients,
    }
    if envelope.submitted_by is not None:
        headers[HEADER_SUBMITTED_BY] = envelope.submitted_by
    return headers


def _read_batch(message: AbstractIncomingMessage) -> list[tuple[Envelope, bytes]]:
    body = message.body
    length = (message.headers or {}).get(HEADER_MANIFEST)
    if not isinstance(length, int) or not 0 < length <= len(body):
        raise InvalidEnvelope(f"{HEADER_MANIFEST} is missing or out of range: {length!r}")
    try:
        manifest = json.loads(body[:length])
    except ValueError:
        raise InvalidEnvelope("the batch manifest is not JSON") from None
    if not isinstance(manifest, list) or not manifest:
        raise InvalidEnvelope("the batch manifest is not a non-empty array")
    deliveries = []
    start = length
    for entry in manifest:
        if not isinstance(entry, dict):
            raise InvalidEnvelope("a batch manifest entry is not an object")
        size = entry.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidEnvelope(f"a batch manifest size is not a count: {size!r}")
        recipients = entry.get("rcpt_to")
        envelope = _envelope(
            entry.get("id"),
            entry.get("mail_from"),
            recipients if isinstance(recipients, list) else None,
            entry.get("submitted_by"),
        )
        deliveries.append((envelope, body[start : start + size]))
        start += size
    if start != len(body):
        raise InvalidEnvelope(f"the batch manifest sizes add up to {start}, not {len(body)}")
    return deliveries


def _envelope(
    gateway_id: object, mail_from: object, recipients: Sequence[object] | None, submitted: object
) -> Envelope:
    if not isinstance(gateway_id, str) or not _GATEWAY_ID.fullmatch(gateway_id):
        raise InvalidEnvelope(f"message_id is not a 26-character ULID: {gateway_id!r}")
    sender = _text(mail_from, HEADER_MAIL_FROM)
    if recipients is None:
        raise InvalidEnvelope(f"{HEADER_RCPT_TO} is missing or not an array")
    rcpt_to = [_text(item, HEADER_RCPT_TO).lower() for item in recipients]
    submitted_by = None if submitted is None else _text(submitted, HEADER_SUBMITTED_BY)
    return Envelope(
        gateway_id=gateway_id,
        mail_from=sender,
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
