"""The compose form's recipient fields (drafts.parse_addresses, make_draft).

`make test` runs this on the newest CPython installed too: there an empty field is where
``email.utils.getaddresses`` (CVE-2023-27043 fix) used to make Send answer
``Not an address: ?``.
"""

from __future__ import annotations

import pytest

from webmail.drafts import make_draft, parse_addresses
from webmail.errors import InvalidFields


@pytest.mark.parametrize("value", ["", "   ", ",", [], [""], ["", " "]])
def test_an_empty_field_is_no_recipients_and_no_error(value: str | list[str]) -> None:
    assert parse_addresses(value) == ([], [])


def test_stray_commas_are_not_addresses() -> None:
    assert parse_addresses(", a@x.test,, Bob <b@x.test>,") == (["a@x.test", "b@x.test"], [])


def test_a_bad_entry_is_named_whole() -> None:
    assert parse_addresses("a@x.test, not an address, c@nodot") == (
        ["a@x.test"],
        ["not an address", "c@nodot"],
    )


def test_duplicates_are_sent_once_whatever_their_case() -> None:
    assert parse_addresses(["A@x.test", "a@X.TEST, Ann <a@x.test>"])[0] == ["A@x.test"]


def test_a_draft_with_an_empty_cc_as_browsers_send_it() -> None:
    draft = make_draft(to="b@localpost.test", cc="", subject="Hi", body="Hello")
    assert (draft.to, draft.cc) == (("b@localpost.test",), ())


def test_a_bad_cc_is_shown_next_to_the_cc_field() -> None:
    with pytest.raises(InvalidFields) as excinfo:
        make_draft(to="b@localpost.test", cc="bob", subject="", body="")
    assert excinfo.value.fields == {"cc": "Not an address: bob"}


@pytest.mark.parametrize(
    "pasted",
    [
        "a@x.test; b@x.test",  # Outlook's separator
        "a@x.test\nb@x.test\n",  # a column copied from a spreadsheet
        "a@x.test\r\nb@x.test",
        "Ann\ta@x.test\r\nBob\tb@x.test",  # rows: name, address
        "Ann Lee\ta@x.test Bob\tb@x.test",  # those rows pasted into a one-line input
        "Ann\t<a@x.test>\tnote\nBob\tb@x.test\t",
        "a@x.test\tb@x.test",
        "Ann <a@x.test>\nBob <b@x.test>",
        "a@x.test b@x.test",  # a pasted column, its line breaks made spaces by the browser
    ],
)
def test_a_pasted_list_is_several_recipients(pasted: str) -> None:
    draft = make_draft(to=pasted, cc="", subject="", body="")
    assert draft.to == ("a@x.test", "b@x.test")


@pytest.mark.parametrize(
    ("value", "addresses"),
    [
        ('"Doe, Jane" <j@x.test>, b@x.test', ["j@x.test", "b@x.test"]),
        ('"Doe; Jane" <j@x.test>; b@x.test', ["j@x.test", "b@x.test"]),
    ],
)
def test_a_quoted_display_name_stays_one_address(value: str, addresses: list[str]) -> None:
    assert parse_addresses(value) == (addresses, [])


def test_a_bad_line_of_a_pasted_list_is_named_whole() -> None:
    with pytest.raises(InvalidFields) as excinfo:
        make_draft(to="a@x.test\nnot an address\n", cc="", subject="", body="")
    assert excinfo.value.fields == {"to": "Not an address: not an address"}


def test_words_beside_an_address_are_one_bad_entry() -> None:
    assert parse_addresses("a@x.test bob") == ([], ["a@x.test bob"])


def test_recipients_outside_the_domains_are_named_with_why() -> None:
    with pytest.raises(InvalidFields) as excinfo:
        make_draft(
            to="a@x.test, b@far.example",
            cc="c@FAR.example",
            bcc="d@x.test",
            subject="",
            body="",
            domains=("x.test", "y.test"),
        )
    assert excinfo.value.fields == {
        "to": "Localpost delivers only to addresses @x.test or @y.test, not: b@far.example",
        "cc": "Localpost delivers only to addresses @x.test or @y.test, not: c@FAR.example",
    }


def test_recipients_in_the_domains_whatever_their_case_are_sent() -> None:
    draft = make_draft(to="a@X.Test", cc="", subject="", body="", domains=("x.test",))
    assert draft.to == ("a@X.Test",)
