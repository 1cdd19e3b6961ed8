"""mailstore.recipients: the resolution rules of issue 16's address kinds (pure)."""

from __future__ import annotations

import pytest

from mailstore.recipients import (
    Directory,
    candidates,
    delivered_to_field,
    expand,
)

ALICE, BOB, CAROL = 1, 2, 3
DIRECTORY = Directory(
    accounts={
        "alice@l.test": ALICE,
        "bob@l.test": BOB,
        # Registered before "+" was refused in new addresses: still exactly itself.
        "carol+work@l.test": CAROL,
    },
    aliases={"info@l.test": [ALICE, BOB], "abuse@l.test": [BOB], "team@l.test": [BOB, BOB]},
    administrators=[CAROL],
)


def test_candidates_cut_at_each_delimiter_longest_first() -> None:
    assert candidates("a+b+c@l.test") == ["a+b+c@l.test", "a+b@l.test", "a@l.test"]
    assert candidates("alice@l.test") == ["alice@l.test"]


@pytest.mark.parametrize(
    "address",
    ["+tag@l.test", "@l.test", "no-at-sign", "", "+@l.test", "++@l.test"],
)
def test_hostile_addresses_leave_no_empty_local_part(address: str) -> None:
    assert all(not form.startswith("@") for form in candidates(address)[1:])
    assert DIRECTORY.resolve(address) == []


@pytest.mark.parametrize(
    ("address", "reached"),
    [
        ("alice@l.test", [ALICE]),
        ("alice+anything@l.test", [ALICE]),
        ("alice+@l.test", [ALICE]),  # RFC 5233 §1: the detail may be empty
        ("alice+a+b@l.test", [ALICE]),
        ("carol+work@l.test", [CAROL]),
        ("carol+work+x@l.test", [CAROL]),
        ("carol@l.test", []),  # her account's name is carol+work, not carol
        ("info@l.test", [ALICE, BOB]),
        ("info+sales@l.test", [ALICE, BOB]),
        ("team@l.test", [BOB]),  # a target twice reaches it once
        ("abuse@l.test", [BOB]),  # an alias for a role address wins
        ("postmaster@l.test", [CAROL]),  # no alias: the administrators
        ("webmaster+x@l.test", [CAROL]),
        ("nobody@l.test", []),
        ("nobody+alice@l.test", []),
        ("alice@other.test", []),
    ],
)
def test_resolve(address: str, reached: list[int]) -> None:
    assert DIRECTORY.resolve(address) == reached


def test_role_address_without_administrators_reaches_nobody() -> None:
    assert Directory(accounts={"alice@l.test": ALICE}).resolve("hostmaster@l.test") == []


def test_an_account_named_directly_and_through_an_alias_is_reached_once_without_delivered_to() -> (
    None
):
    for order in (["info@l.test", "alice@l.test"], ["alice@l.test", "info@l.test"]):
        expansion = expand(order, DIRECTORY)
        assert expansion.accounts == {ALICE: None, BOB: "info@l.test"}
        assert expansion.nobody == []


def test_the_first_recipient_that_reaches_an_account_is_its_delivered_to() -> None:
    expansion = expand(["alice+a@l.test", "info@l.test", "alice+b@l.test"], DIRECTORY)
    assert expansion.accounts == {ALICE: "alice+a@l.test", BOB: "info@l.test"}


def test_recipients_reaching_nobody_are_listed() -> None:
    expansion = expand(["nobody@l.test", "bob@l.test", "x+bob@l.test"], DIRECTORY)
    assert expansion.accounts == {BOB: None}
    assert expansion.nobody == ["nobody@l.test", "x+bob@l.test"]


@pytest.mark.parametrize(
    ("recipient", "field"),
    [
        ("alice+tag@l.test", b"Delivered-To: alice+tag@l.test\r\n"),
        ('"a\r\nBcc: x"@l.test', b'Delivered-To: "a??Bcc: x"@l.test\r\n'),
        ("a\x00b@l.test", b"Delivered-To: a?b@l.test\r\n"),
        ("j\u00f6rg@l.test", "Delivered-To: j\u00f6rg@l.test\r\n".encode()),
        ("a\ud800@l.test", b"Delivered-To: a?@l.test\r\n"),
    ],
)
def test_delivered_to_is_one_field_whatever_the_address(recipient: str, field: bytes) -> None:
    assert delivered_to_field(recipient) == field
