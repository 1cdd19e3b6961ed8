"""mailstore.recipients: lists (nested, looping), sender exclusion, catch-all order (pure)."""

from __future__ import annotations

import pytest

from mailstore.recipients import (
    ANYONE,
    LOCAL,
    MEMBERS,
    Directory,
    MailingList,
    copy_fields,
    expand,
    list_fields,
)

ALICE, BOB, CAROL, DAVE, ADMIN = 1, 2, 3, 4, 5
ACCOUNTS = {
    "alice@l.test": ALICE,
    "bob@l.test": BOB,
    "carol@l.test": CAROL,
    "dave@l.test": DAVE,
    "admin@l.test": ADMIN,
}
LISTS = {
    # team: alice, the alias info (bob, carol), and devs, which contains team again.
    "team@l.test": MailingList(("alice@l.test", "info@l.test", "devs@l.test"), MEMBERS),
    "devs@l.test": MailingList(("dave@l.test", "team@l.test", "alice@l.test"), LOCAL),
    "self@l.test": MailingList(("self@l.test", "bob@l.test"), ANYONE),
    "empty@l.test": MailingList((), ANYONE),
    "gone@l.test": MailingList(("deleted@l.test", "carol@l.test"), ANYONE),
}
DIRECTORY = Directory(
    accounts=ACCOUNTS,
    aliases={"info@l.test": [BOB, CAROL]},
    administrators=[ADMIN],
    lists=LISTS,
    catchalls={"l.test": "team@l.test", "other.test": "dave@l.test"},
)


def test_nested_lists_reach_each_account_once_and_a_loop_ends() -> None:
    assert DIRECTORY.resolve("team@l.test") == [ALICE, BOB, CAROL, DAVE]
    assert DIRECTORY.resolve("devs@l.test") == [DAVE, ALICE, BOB, CAROL]
    assert DIRECTORY.resolve("self@l.test") == [BOB]
    assert DIRECTORY.resolve("empty@l.test") == []
    # A member that is no longer anything reaches nobody; the rest still get it.
    assert DIRECTORY.resolve("gone@l.test") == [CAROL]


def test_a_list_is_reached_by_its_subaddresses_and_names_itself() -> None:
    route = DIRECTORY.route("team+announce@l.test")
    assert (route.accounts, route.list_address) == ([ALICE, BOB, CAROL, DAVE], "team@l.test")
    assert DIRECTORY.route("alice@l.test").list_address is None


def test_a_list_skips_disabled_accounts() -> None:
    directory = Directory(ACCOUNTS, {"info@l.test": [BOB]}, (), LISTS, disabled=frozenset({DAVE}))
    assert directory.resolve("devs@l.test") == [ALICE, BOB]
    # Named directly, a disabled account is still reached (the gateway refuses it).
    assert directory.resolve("dave@l.test") == [DAVE]


def test_catch_all_comes_after_every_other_rule() -> None:
    # Accounts, aliases, lists, subaddresses and role addresses win over the catch-all.
    assert DIRECTORY.resolve("alice+x@l.test") == [ALICE]
    assert DIRECTORY.resolve("info@l.test") == [BOB, CAROL]
    assert DIRECTORY.resolve("abuse@l.test") == [ADMIN]
    # Anything else of the domain goes to the target, a list here, named as such.
    route = DIRECTORY.route("whoever@l.test")
    assert (route.accounts, route.list_address) == ([ALICE, BOB, CAROL, DAVE], "team@l.test")
    assert DIRECTORY.resolve("nobody@other.test") == [DAVE]
    assert DIRECTORY.resolve("nobody@third.test") == []
    assert DIRECTORY.resolve("no-at-sign") == []


def test_role_address_without_administrators_falls_to_the_catch_all() -> None:
    directory = Directory(ACCOUNTS, catchalls={"l.test": "carol@l.test"})
    assert directory.resolve("postmaster@l.test") == [CAROL]
    assert Directory(ACCOUNTS).resolve("postmaster@l.test") == []


def test_a_catch_all_target_is_taken_exactly() -> None:
    # Not a subaddress, not a role, not the catch-all again.
    for target in ("alice+x@l.test", "abuse@l.test", "nobody@l.test"):
        directory = Directory(ACCOUNTS, administrators=[ADMIN], catchalls={"l.test": target})
        assert directory.resolve("unknown@l.test") == [], target


@pytest.mark.parametrize(
    ("address", "sender", "allowed"),
    [
        # members: an account a list reaches, at any depth, or a member address.
        ("team@l.test", "alice@l.test", True),
        ("team@l.test", "carol@l.test", True),  # through the alias info@
        ("team@l.test", "dave@l.test", True),  # through devs@
        ("team@l.test", "info@l.test", True),  # a member address itself
        ("team+x@l.test", "alice@l.test", True),
        ("team@l.test", "admin@l.test", False),
        ("team@l.test", "stranger@example.com", False),
        ("team@l.test", None, False),
        ("team@l.test", "", False),
        ("whoever@l.test", "admin@l.test", False),  # the catch-all's list, its policy
        # local: any account of ours (or an alias the gateway let them send as).
        ("devs@l.test", "admin@l.test", True),
        ("devs@l.test", "info@l.test", True),
        ("devs@l.test", "stranger@example.com", False),
        ("devs@l.test", None, False),
        # anyone, even the null sender.
        ("self@l.test", None, True),
        ("self@l.test", "stranger@example.com", True),
        # Not a list: no policy.
        ("alice@l.test", None, True),
        ("nobody@third.test", None, True),
    ],
)
def test_posting_policy(address: str, sender: str | None, allowed: bool) -> None:
    assert DIRECTORY.may_post(address, sender) is allowed


def test_the_authenticated_sender_is_left_out_of_a_list_only() -> None:
    found = expand(["team@l.test"], DIRECTORY, sender="alice@l.test")
    assert list(found.accounts) == [BOB, CAROL, DAVE]
    assert found.lists == {BOB: "team@l.test", CAROL: "team@l.test", DAVE: "team@l.test"}
    assert found.nobody == []
    # Naming themself too (a Bcc to self), the sender gets it, without list fields.
    found = expand(["team@l.test", "alice@l.test"], DIRECTORY, sender="alice@l.test")
    assert found.accounts[ALICE] is None
    assert ALICE not in found.lists
    # A sender who is the list's only member: nobody gets it, yet it reached somebody.
    found = expand(["self@l.test"], DIRECTORY, sender="bob@l.test")
    assert (found.accounts, found.nobody) == ({}, [])
    # No authenticated sender (a MAIL FROM is not one): every member.
    assert list(expand(["team@l.test"], DIRECTORY).accounts) == [ALICE, BOB, CAROL, DAVE]


def test_an_account_reached_directly_and_through_a_list_is_reached_once() -> None:
    found = expand(["team@l.test", "bob@l.test"], DIRECTORY)
    assert found.accounts == {
        ALICE: "team@l.test",
        BOB: None,
        CAROL: "team@l.test",
        DAVE: "team@l.test",
    }
    assert BOB not in found.lists
    # Two lists reaching one account: the first recipient names it, its list's fields.
    found = expand(["self@l.test", "team@l.test"], DIRECTORY)
    assert (found.accounts[BOB], found.lists[BOB]) == ("self@l.test", "self@l.test")
    # Through the catch-all: Delivered-To names the original recipient.
    found = expand(["whoever@l.test"], DIRECTORY)
    assert found.accounts[ALICE] == "whoever@l.test"
    assert found.lists[ALICE] == "team@l.test"


def test_list_fields() -> None:
    assert list_fields("team@l.test") == (
        b"List-Id: <team.l.test>\r\nList-Post: <mailto:team@l.test>\r\n"
    )
    # Nothing in an address can add a field or break the angle brackets.
    hostile = list_fields("a<b>\r\nX: y@l.test")
    assert hostile.count(b"\r\n") == 2
    assert hostile.startswith(b"List-Id: <a-b--")
    assert b"mailto:a%3Cb%3E%0D%0AX%3A%20y@l.test>" in hostile
    assert copy_fields("x@l.test", None) == b"Delivered-To: x@l.test\r\n"
    assert copy_fields("x@l.test", "team@l.test").startswith(b"Delivered-To: x@l.test\r\nList-Id:")
