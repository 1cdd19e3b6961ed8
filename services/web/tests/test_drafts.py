"""The compose form's recipient fields (drafts.parse_addresses, make_draft), and a draft
as stored in Drafts (drafts.unsent_message, unsent_fields).

`make test` runs this on the newest CPython installed too: there an empty field is where
``email.utils.getaddresses`` (CVE-2023-27043 fix) used to make Send answer
``Not an address: ?``.
"""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default

import pytest

from webmail import drafts
from webmail.drafts import make_draft, parse_addresses
from webmail.errors import InvalidFields
from webmail.mailstore_client import Account


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


# -- a draft as stored in Drafts (unsent_message, unsent_fields) ----------------------------

SENDER = Account("me@localpost.test", "Me")


@pytest.mark.parametrize(
    "typed",
    ["bob@", '"', "a<", "bob@localpost.test, not an address", "Jöhn <j@localpost.test>", ""],
)
def test_a_draft_keeps_the_address_fields_as_typed(typed: str) -> None:
    msg = drafts.unsent_message({"to": typed, "cc": typed, "bcc": typed}, (), sender=SENDER)
    values = drafts.unsent_fields(msg.as_bytes())
    assert (values["to"], values["cc"], values["bcc"]) == (typed, typed, typed)


def test_a_draft_gives_mail_programs_the_usable_addresses() -> None:
    msg = drafts.unsent_message({"to": "bob@localpost.test, bob@"}, (), sender=SENDER)
    parsed = message_from_bytes(msg.as_bytes(), policy=default)
    assert str(parsed["To"]) == "bob@localpost.test"


def test_a_draft_round_trips_its_fields_and_attachments() -> None:
    values = {
        "subject": "Plans\nfor Monday", "body": "\n\nFirst line\r\nsecond\n",
        "in_reply_to": "<a@x>", "references": "<z@x> <a@x>", "source": "12",
        "source_flag": "answered",
    }  # fmt: skip
    notes = drafts.attachment("notes.txt", "text/plain", b"notes")
    raw = drafts.unsent_message(values, (notes,), sender=SENDER).as_bytes()
    back = drafts.unsent_fields(raw)
    assert back["subject"] == "Plans for Monday"
    assert back["body"] == "\n\nFirst line\nsecond"
    assert (back["in_reply_to"], back["references"]) == ("<a@x>", "<z@x> <a@x>")
    assert (back["source"], back["source_flag"]) == ("12", "answered")
    (part,) = message_from_bytes(raw, policy=default).iter_attachments()
    assert part.get_filename() == "notes.txt"


def test_a_mail_programs_html_only_draft_opens_with_its_text() -> None:
    raw = (
        b"From: me@localpost.test\r\nSubject: Plans\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>First <b>bold</b> line</p><p>Second</p><script>alert(1)</script>\r\n"
    )
    values = drafts.unsent_fields(raw)
    assert values["body"] == "First bold line\n\nSecond"


def test_a_draft_with_both_bodies_opens_with_its_plain_text() -> None:
    msg = drafts.unsent_message({"body": "plain words"}, (), sender=SENDER)
    msg.add_alternative("<p>html words</p>", subtype="html")
    assert drafts.unsent_fields(msg.as_bytes())["body"] == "plain words"


def test_a_lone_surrogate_does_not_stop_a_draft_being_saved() -> None:
    raw = drafts.unsent_message({"subject": "a\ud800", "body": "b\udfff"}, (), sender=SENDER)
    assert drafts.unsent_fields(raw.as_bytes())["body"] == "b?"
