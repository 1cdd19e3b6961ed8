"""structure: ENVELOPE, BODY, BODYSTRUCTURE and section ranges from a description."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from imap_gateway import structure
from imap_gateway.structure import SectionNotFound
from imap_gateway.wire.encoder import nstring

RAW = (
    b"Subject: hi\r\n"
    b"Content-Type: multipart/mixed; boundary=X\r\n\r\n"  # header 0..58
    b"--X\r\n"
    b"Content-Type: text/plain\r\n\r\n"  # 63..91
    b"a\x00b\r\n"  # 91..94
    b"--X\r\n"
    b"Content-Type: message/rfc822\r\n\r\n"  # 101..133
    b"Subject: in\r\n\r\n"  # 133..148
    b"inner"  # 148..153
    b"\r\n--X--\r\n"
)


def leaf(header: list[int], body: list[int], **fields: Any) -> dict[str, Any]:
    part: dict[str, Any] = {
        "type": "text",
        "subtype": "plain",
        "params": [["charset", "us-ascii"]],
        "id": None,
        "description": None,
        "encoding": "7bit",
        "md5": None,
        "disposition": None,
        "language": None,
        "location": None,
        "header": header,
        "body": body,
        "lines": 0,
    }
    part.update(fields)
    return part


ENVELOPE_FIELDS = "date subject in_reply_to message_id from sender reply_to to cc bcc"
EMPTY_ENVELOPE: dict[str, Any] = dict.fromkeys(ENVELOPE_FIELDS.split())
INNER = leaf([133, 148], [148, 153])
MESSAGE = leaf(
    [101, 133],
    [133, 153],
    type="message",
    subtype="rfc822",
    params=None,
    lines=2,
    message={"envelope": {**EMPTY_ENVELOPE, "subject": "in"}, "body": INNER},
)
DESCRIPTION: dict[str, Any] = {
    "version": 1,
    "envelope": {**EMPTY_ENVELOPE, "subject": "hi"},
    "body": {
        **leaf([0, 58], [58, len(RAW)], type="multipart", subtype="mixed"),
        "params": [["boundary", "X"]],
        "parts": [leaf([63, 91], [91, 94], lines=0), MESSAGE],
    },
}


def test_envelope_writes_nil_strings_and_address_lists() -> None:
    envelope = {
        **EMPTY_ENVELOPE,
        "subject": 'say "hi"',
        "from": [["Ann", None, "ann", "example.com"]],
        "to": [[None, None, "team", None], [None, None, "b", "x.example"], [None] * 4],
    }
    assert structure.envelope(envelope) == (
        b'(NIL "say \\"hi\\"" (("Ann" NIL "ann" "example.com")) NIL NIL '
        b'((NIL NIL "team" NIL)(NIL NIL "b" "x.example")(NIL NIL NIL NIL)) NIL NIL NIL NIL)'
    )


def test_eight_bit_strings_are_literals_unless_the_client_accepts_utf8() -> None:
    subject = "caf\u00e9".encode().decode("latin-1")  # the octets of UTF-8 "café"
    envelope = {**EMPTY_ENVELOPE, "subject": subject}
    assert b"{5}\r\ncaf\xc3\xa9 NIL" in structure.envelope(envelope)
    assert b'"caf\xc3\xa9"' in structure.envelope(envelope, utf8=True)
    # Not UTF-8: a literal even for a UTF-8 client (RFC 9051 §9 QUOTED-CHAR).
    latin = {**EMPTY_ENVELOPE, "subject": "caf\u00e9"}
    assert b"{4}\r\ncaf\xe9" in structure.envelope(latin, utf8=True)


def test_bodystructure_has_extension_data_and_body_has_none() -> None:
    assert structure.bodystructure(DESCRIPTION) == (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)'
        b'("message" "rfc822" NIL NIL NIL "7bit" 20 '
        b'(NIL "in" NIL NIL NIL NIL NIL NIL NIL NIL) '
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL) 2 '
        b'NIL NIL NIL NIL) "mixed" ("boundary" "X") NIL NIL NIL)'
    )
    assert structure.body(DESCRIPTION) == (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0)'
        b'("message" "rfc822" NIL NIL NIL "7bit" 20 '
        b'(NIL "in" NIL NIL NIL NIL NIL NIL NIL NIL) '
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0) 2) "mixed")'
    )


def test_disposition_and_language_lists() -> None:
    part = leaf(
        [0, 0],
        [0, 0],
        type="application",
        subtype="pdf",
        params=None,
        disposition=["attachment", [["filename", "a b.pdf"]]],
        language=["en", "de"],
        location="http://x.example/a",
    )
    assert structure.bodystructure({"body": part}).endswith(
        b' NIL ("attachment" ("filename" "a b.pdf")) ("en" "de") "http://x.example/a")'
    )


def test_output_is_the_same_every_time() -> None:
    assert structure.bodystructure(DESCRIPTION) == structure.bodystructure(dict(DESCRIPTION))


@pytest.mark.parametrize(
    ("part", "text", "expected"),
    [
        ((), None, RAW.replace(b"\0", b"\x80")),
        ((), "HEADER", RAW[:58]),
        ((), "TEXT", RAW[58:].replace(b"\0", b"\x80")),
        ((1,), None, b"a\x80b"),
        ((1,), "MIME", b"Content-Type: text/plain\r\n\r\n"),
        ((2,), None, b"Subject: in\r\n\r\ninner"),
        ((2,), "HEADER", b"Subject: in\r\n\r\n"),
        ((2,), "TEXT", b"inner"),
        # Below a message/rfc822 part the numbers go on in the message it holds;
        # a body that is not multipart is part 1.
        ((2, 1), None, b"inner"),
    ],
)
def test_sections_are_slices_with_nul_written_as_0x80(
    part: tuple[int, ...], text: str | None, expected: bytes
) -> None:
    assert structure.section_bytes(RAW, DESCRIPTION, part, text) == expected


@pytest.mark.parametrize(
    ("part", "text"), [((3,), None), ((1, 1), None), ((1,), "HEADER"), ((), "MIME"), ((2, 2), None)]
)
def test_sections_that_do_not_exist(part: tuple[int, ...], text: str | None) -> None:
    with pytest.raises(SectionNotFound):
        structure.section_range(DESCRIPTION, part, text)


def test_single_part_message_is_its_own_part_one() -> None:
    raw = b"Subject: x\r\n\r\nbody\r\n"
    description = {"envelope": EMPTY_ENVELOPE, "body": leaf([0, 14], [14, 20])}
    assert structure.section_bytes(raw, description, (1,), None) == b"body\r\n"
    assert structure.section_bytes(raw, description, (1,), "MIME") == b"Subject: x\r\n\r\n"


# One code point per octet, as the mail store's descriptions hold them: short ASCII
# over the characters that decide between a quoted string and a literal (the quick
# path's own ground), any of the 256, short and long, and plain ASCII around QUOTED_MAX.
_DESCRIBED = st.one_of(
    st.text(alphabet=st.sampled_from('"\\\r\n\x00\t a~\x7f'), max_size=8),
    st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=1100),
    st.integers(1020, 1030).map(lambda n: "x" * n),
)


@given(value=st.one_of(st.none(), _DESCRIBED), utf8=st.booleans())
@example(value="a\rb", utf8=True)
@example(value="a\nb", utf8=True)
@example(value="a\x00b", utf8=True)
@example(value='a"b', utf8=True)
@example(value="a\\b", utf8=True)
@example(value="x" * 1025, utf8=True)
def test_the_quick_string_path_writes_what_the_encoder_writes(
    value: str | None, utf8: bool
) -> None:
    expected = nstring(None if value is None else value.encode("latin-1"), utf8=utf8)

    assert structure._nstring(value, utf8) == expected
