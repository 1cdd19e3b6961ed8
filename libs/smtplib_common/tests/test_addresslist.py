"""Address lists of headers and forms (addresslist.py), the same on every Python.

Several cases here are exactly where ``email.utils.getaddresses`` answers differently
before and after the CVE-2023-27043 fix; `make test` runs this file on the newest
CPython installed as well as in .venv, so a regression shows on either.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.smtplib_common.tests.fuzzing import fuzz_settings
from smtplib_common.addresslist import (
    MAX_ENTRY_CHARS,
    header_mailboxes,
    mailboxes,
    parse_mailbox,
    split_entries,
)
from smtplib_common.client.message import envelope_of


@pytest.mark.parametrize("value", ["", " ", ",", " , ,", "\t"])
def test_a_blank_list_has_no_entries(value: str) -> None:
    # A browser sends an empty Cc; strict getaddresses makes it [('', '')].
    assert split_entries(value) == []
    assert mailboxes([value]) == ([], [])


@pytest.mark.parametrize(
    ("value", "entries"),
    [
        ("a@x.test", ["a@x.test"]),
        ("a@x.test,", ["a@x.test"]),  # strict getaddresses drops the whole list
        (", a@x.test", ["a@x.test"]),  # and every version gave a bad ('', '') here
        ("a@x.test, , b@x.test", ["a@x.test", "b@x.test"]),
        ('"Doe, Jane" <j@x.test>, b@x.test', ['"Doe, Jane" <j@x.test>', "b@x.test"]),
        (r'"a \" , b" <j@x.test>', [r'"a \" , b" <j@x.test>']),
        ("Jane (work, mostly) <j@x.test>", ["Jane (work, mostly) <j@x.test>"]),
        ("J (a (b, c)) <j@x.test>, b@x.test", ["J (a (b, c)) <j@x.test>", "b@x.test"]),
        ("<odd,@x.test>, b@x.test", ["<odd,@x.test>", "b@x.test"]),
    ],
)
def test_commas_split_entries_only_outside_quotes_comments_and_brackets(
    value: str, entries: list[str]
) -> None:
    assert split_entries(value) == entries


def test_more_separators_split_only_outside_quotes() -> None:
    value = '"Doe; Jane" <j@x.test>; b@x.test, c@x.test'
    assert split_entries(value, separators=",;") == [
        '"Doe; Jane" <j@x.test>',
        "b@x.test",
        "c@x.test",
    ]
    assert split_entries(value) == ['"Doe; Jane" <j@x.test>; b@x.test', "c@x.test"]


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("a@x.test", ("", "a@x.test")),
        ("Bob <b@x.test>", ("Bob", "b@x.test")),
        ('"Doe, Jane" <j@x.test>', ("Doe, Jane", "j@x.test")),
        ("=?utf-8?q?J=C3=B6rg?= <j@x.test>", ("Jörg", "j@x.test")),
        ("alice@[192.0.2.1]", ("", "alice@[192.0.2.1]")),  # strict parseaddr gives ''
    ],
)
def test_one_mailbox_is_read_with_its_display_name(entry: str, parsed: tuple[str, str]) -> None:
    assert parse_mailbox(entry) == parsed


@pytest.mark.parametrize(
    "entry",
    ["not", "@@", "a@x.test <b@x.test>", "<a@x.test", "Bob <>", "a@", "@x.test", "x" * 3000],
)
def test_anything_but_exactly_one_clean_mailbox_is_bad(entry: str) -> None:
    assert parse_mailbox(entry) is None


def test_bad_entries_are_named_whole_beside_the_good_ones() -> None:
    good, bad = mailboxes(["a@x.test, not an address", "", "Bob <b@x.test>"])
    assert good == [("", "a@x.test"), ("Bob", "b@x.test")]
    assert bad == ["not an address"]


def test_header_mailboxes_flatten_groups_and_read_strings_too() -> None:
    msg = EmailMessage()
    msg["To"] = "team: a@x.test, Bob <b@x.test>;, c@x.test"
    assert header_mailboxes(msg.get_all("To", [])) == [
        ("", "a@x.test"),
        ("Bob", "b@x.test"),
        ("", "c@x.test"),
    ]
    assert header_mailboxes(["undisclosed-recipients:;", "d@x.test,"]) == [("", "d@x.test")]


def test_envelope_of_keeps_recipients_after_a_trailing_comma() -> None:
    msg = EmailMessage()
    msg["From"] = "a@x.test"
    msg["To"] = "b@x.test,"
    msg["Cc"] = "c@x.test, alice@[192.0.2.1]"
    assert envelope_of(msg)[1] == ["b@x.test", "c@x.test", "alice@[192.0.2.1]"]


@pytest.mark.parametrize("entry", [",:;:;", ":;a:;", "g:;\x00"])
def test_a_group_where_a_mailbox_belongs_is_bad_not_a_crash(entry: str) -> None:
    # CPython's header parser raises AttributeError ('Group' has no local_part) here;
    # found by the fuzz test below, which a 500 on the compose form would have shown.
    assert parse_mailbox(entry) is None


@pytest.mark.fuzz
@fuzz_settings(200)
@given(st.text(max_size=MAX_ENTRY_CHARS // 4))
def test_any_text_parses_without_raising(value: str) -> None:
    good, bad = mailboxes([value])
    assert all("@" in address for _, address in good)
    assert all(entry.strip() == entry and entry for entry in bad)
