"""Reading the AMQP contract's two forms (docs/architecture.md): pure logic, no broker."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from mailstore.envelope import (
    BATCH_CONTENT_TYPE,
    HEADER_MANIFEST,
    Envelope,
    read_deliveries,
    single_form_headers,
)
from mailstore.errors import InvalidEnvelope

ID_A, ID_B = "01M94NTFQAC4HH8QGS1CMBX692", "01M94NTFQAC4HH8QGS1CMBX693"


@dataclass
class Delivered:
    """The parts of an incoming AMQP message the envelope reads."""

    body: bytes
    content_type: str | None = "message/rfc822"
    message_id: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)


def entry(gateway_id: str | None, size: int | None, **changes: Any) -> dict[str, Any]:
    return {
        "id": gateway_id, "mail_from": "a@example.org", "rcpt_to": ["B@localpost.test"],
        "submitted_by": None, "size": size, **changes,
    }  # fmt: skip


def batch(manifest: Any, *bodies: bytes, length: Any = None) -> Delivered:
    encoded = json.dumps(manifest).encode()
    return Delivered(
        encoded + b"".join(bodies),
        content_type=BATCH_CONTENT_TYPE,
        headers={HEADER_MANIFEST: len(encoded) if length is None else length},
    )


def test_the_single_form_is_one_message_with_its_envelope() -> None:
    message = Delivered(
        b"raw",
        message_id=ID_A,
        headers={
            "x-localpost-mail-from": b"a@example.org",
            "x-localpost-rcpt-to": ["B@localpost.test", "b@localpost.test"],
            "x-localpost-submitted-by": "A@localpost.test",
        },
    )

    ((envelope, raw),) = read_deliveries(message)

    assert raw == b"raw"
    assert (envelope.gateway_id, envelope.mail_from) == (ID_A, "a@example.org")
    # Lowercased and each recipient once.
    assert envelope.rcpt_to == ["b@localpost.test"]
    assert envelope.submitted_by == "a@localpost.test"


def test_a_batch_is_its_messages_in_order_with_their_envelopes() -> None:
    message = batch([entry(ID_A, 3), entry(ID_B, 0, submitted_by="S@localpost.test")], b"one", b"")

    (first, first_raw), (second, second_raw) = read_deliveries(message)

    assert (first.gateway_id, first_raw, first.rcpt_to) == (ID_A, b"one", ["b@localpost.test"])
    assert (second.gateway_id, second_raw, second.submitted_by) == (ID_B, b"", "s@localpost.test")


BROKEN_BATCHES = {
    "no manifest length": batch([entry(ID_A, 1)], b"x", length="12"),
    "manifest length zero": batch([entry(ID_A, 1)], b"x", length=0),
    "manifest length past the body": batch([entry(ID_A, 1)], b"x", length=10_000),
    "manifest cut short": batch([entry(ID_A, 1)], b"x", length=5),
    "manifest not an array": batch({"id": ID_A}, b"x"),
    "empty manifest": batch([], b"x"),
    "entry not an object": batch(["x"], b"x"),
    "size missing": batch([entry(ID_A, None)], b"x"),
    "size negative": batch([entry(ID_A, -1)], b"x"),
    "size a boolean": batch([entry(ID_A, True)], b"x"),
    "sizes short of the body": batch([entry(ID_A, 1)], b"xy"),
    "sizes past the body": batch([entry(ID_A, 3)], b"xy"),
    "id not a ULID": batch([entry("batch-" + ID_A, 1)], b"x"),
    "id missing": batch([entry(None, 1)], b"x"),
    "recipients not an array": batch([entry(ID_A, 1, rcpt_to="b@localpost.test")], b"x"),
    "recipient not a string": batch([entry(ID_A, 1, rcpt_to=[7])], b"x"),
    "sender missing": batch([entry(ID_A, 1, mail_from=None)], b"x"),
    "sender with NUL": batch([entry(ID_A, 1, mail_from="a\x00@example.org")], b"x"),
    "submitter not a string": batch([entry(ID_A, 1, submitted_by=1)], b"x"),
    "one good entry, one bad": batch([entry(ID_A, 1), entry("short", 1)], b"x", b"y"),
}


@pytest.mark.parametrize("message", BROKEN_BATCHES.values(), ids=BROKEN_BATCHES.keys())
def test_a_batch_that_breaks_the_contract_is_refused_whole(message: Delivered) -> None:
    with pytest.raises(InvalidEnvelope):
        read_deliveries(message)


@pytest.mark.parametrize("submitted_by", [None, "s@localpost.test"])
def test_a_batch_message_in_the_single_form_reads_back_the_same(submitted_by: str | None) -> None:
    # How a message of a batch is dead-lettered alone: the single form's headers.
    envelope = Envelope(ID_A, "a@example.org", ["b@localpost.test"], submitted_by)
    message = Delivered(b"raw", message_id=ID_A, headers=single_form_headers(envelope))

    assert read_deliveries(message) == [(envelope, b"raw")]
