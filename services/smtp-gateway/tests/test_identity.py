"""The pure parts of identity.py: ownership, header reading, our field and its stripping."""

from __future__ import annotations

import pytest

from smtp_gateway import identity
from smtp_gateway.identity import FAIL, PASS, Verdict

DOMAINS = frozenset({"localpost.test"})


@pytest.mark.parametrize(
    ("address", "owned"),
    [
        ("alice@localpost.test", True),
        ("alice@LocalPost.TEST", True),
        ("Alice@localpost.test", False),
        ("alice@example.org", False),
        ("alice.x@localpost.test", False),
        ("", False),
    ],
)
def test_owns_compares_the_domain_without_case_and_the_local_part_exactly(
    address: str, owned: bool
) -> None:
    assert identity.owns("alice@localpost.test", address) is owned


@pytest.mark.parametrize(
    ("address", "owned"),
    [
        ("info@localpost.test", True),
        ("info@LOCALPOST.test", True),
        ("Info@localpost.test", False),
        ("sales@localpost.test", False),
        ("alice+info@localpost.test", False),
        ("info@example.org", False),
    ],
)
def test_owns_an_alias_that_delivers_to_the_account(address: str, owned: bool) -> None:
    aliases = ["info@localpost.test", "team@localpost.test"]
    assert identity.owns("alice@localpost.test", address, aliases) is owned


def test_sender_fields_reads_every_from_and_sender_and_stops_at_the_body() -> None:
    message = (
        b"Received: from x\r\n\tby y\r\nFrom: a@localpost.test,\r\n b@example.org\r\n"
        b"Sender: c@localpost.test\r\nFROM: d@example.org\r\n\r\nFrom: e@localpost.test\r\n"
    )

    fields = identity.sender_fields(message)

    assert fields.from_ == ("a@localpost.test", "b@example.org", "d@example.org")
    assert fields.sender == ("c@localpost.test",)
    assert fields.readable


def test_stamp_leaves_a_message_without_our_fields_as_it_was() -> None:
    message = b"Received: x\r\nFrom: a@b.test\r\n\r\nAuthentication-Results: localpost.test\r\n"

    assert identity.stamp(message, "localpost.test", b"A: 1\r\n") == b"A: 1\r\n" + message


def test_stamp_drops_only_fields_naming_us_with_their_continuation_lines() -> None:
    message = (
        b"Received: x\r\nAuthentication-Results: (a (nested) comment)\r\n localpost.test;\r\n"
        b"\tnone\r\nAuthentication-Results: other.test; none\r\nFrom: a@b.test\r\n\r\nbody\r\n"
    )

    stamped = identity.stamp(message, "LOCALPOST.test", b"A: 1\r\n")

    assert stamped == (
        b"A: 1\r\nReceived: x\r\nAuthentication-Results: other.test; none\r\n"
        b"From: a@b.test\r\n\r\nbody\r\n"
    )


@pytest.mark.parametrize(
    ("value", "ours"),
    [
        (b" localpost.test; none", True),
        (b' "localpost.test" 1; none', True),
        (b" (x) localpost.test", True),
        (b" localpost.test.example.org; none", False),
        (b" mx.example.org; localpost.test", False),
        (b"", False),
    ],
)
def test_claims_authserv_id_reads_the_first_token(value: bytes, ours: bool) -> None:
    assert identity.claims_authserv_id(value, "localpost.test") is ours


def test_results_never_copy_a_hostile_address_whole() -> None:
    verdict = Verdict(FAIL, '"x; localpost-sender=pass"@localpost.test', "not authenticated")

    field = identity.authentication_results("localpost.test", verdict)

    assert field == (
        b"Authentication-Results: localpost.test;\r\n"
        b"\tlocalpost-sender=fail header.from=localpost.test (not authenticated)\r\n"
    )


def test_submission_results_name_the_authenticated_identity() -> None:
    field = identity.authentication_results(
        "mx.test", Verdict(PASS, "a@localpost.test"), smtp_auth="a@localpost.test"
    )

    assert field == (
        b"Authentication-Results: mx.test;\r\n\tauth=pass smtp.auth=a@localpost.test;\r\n"
        b"\tlocalpost-sender=pass header.from=a@localpost.test\r\n"
    )


def test_unreadable_fields_fail_when_their_text_names_a_local_domain() -> None:
    fields = identity.sender_fields(b"From: Friend <f@example.org> x@ LocalPost.Test\r\n\r\n")

    verdict = identity.delivery_verdict(fields, domains=DOMAINS, trusted=False)

    assert not fields.readable
    assert verdict == Verdict(FAIL, "localpost.test", "not authenticated")
