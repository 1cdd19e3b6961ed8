"""imap_structure.describe: envelope fields, the MIME tree and its byte offsets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.smtplib_common.tests.fuzzing import fuzz_settings
from mailstore.imap_structure import MAX_DEPTH, describe

MULTIPART = (
    b"From: Ann <ann@example.com>\r\n"
    b"To: Bob <bob@example.com>, carol@example.com\r\n"
    b"Subject: two\r\n parts\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n'
    b"\r\n"
    b"preamble\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"hello\r\n"
    b"--XX\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"Content-Disposition: attachment; filename=inner.eml\r\n"
    b"\r\n"
    b"Subject: inner\r\n"
    b"From: dan@example.com\r\n"
    b"\r\n"
    b"inner body\r\n"
    b"--XX--\r\n"
    b"epilogue\r\n"
)


def part_bytes(raw: bytes, part: dict[str, Any], which: str) -> bytes:
    start, end = part[which]
    return raw[start:end]


def test_envelope_fields_are_the_unfolded_raw_values() -> None:
    envelope = describe(MULTIPART)["envelope"]
    assert envelope["subject"] == "two parts"
    assert envelope["from"] == [["Ann", None, "ann", "example.com"]]
    assert envelope["to"] == [
        ["Bob", None, "bob", "example.com"],
        [None, None, "carol", "example.com"],
    ]
    assert envelope["date"] is None
    assert envelope["message_id"] is None
    assert envelope["cc"] is None


def test_sender_and_reply_to_default_to_from() -> None:
    envelope = describe(b"From: a@b.example\r\nReply-To: c@d.example\r\n\r\n")["envelope"]
    assert envelope["sender"] == envelope["from"] == [[None, None, "a", "b.example"]]
    assert envelope["reply_to"] == [[None, None, "c", "d.example"]]


def test_group_is_opened_and_closed_with_nil_host_markers() -> None:
    envelope = describe(b"To: Friends: a@x.example, b@y.example;, c@z.example\r\n\r\n")["envelope"]
    assert envelope["to"] == [
        [None, None, "Friends", None],
        [None, None, "a", "x.example"],
        [None, None, "b", "y.example"],
        [None, None, None, None],
        [None, None, "c", "z.example"],
    ]


def test_empty_group_and_route_address() -> None:
    envelope = describe(
        b"To: undisclosed-recipients:;\r\nCc: <@relay.example:joe@x.example>\r\n\r\n"
    )["envelope"]
    assert envelope["to"] == [
        [None, None, "undisclosed-recipients", None],
        [None, None, None, None],
    ]
    assert envelope["cc"] == [[None, "@relay.example", "joe", "x.example"]]


@pytest.mark.parametrize("value", [b"<@relay", b"<@relay,", b"<a@b", b"g: a", b'"open'])
def test_truncated_addresses_are_described(value: bytes) -> None:
    assert describe(b"To: " + value)["envelope"]["to"] is not None


def test_an_unclosed_comment_leaves_no_address() -> None:
    assert describe(b"To: (open <a@b>")["envelope"]["to"] is None


def test_address_without_domain_gets_a_placeholder_not_nil() -> None:
    # NIL host would mark a group (RFC 3501 §7.4.2).
    assert describe(b"To: joe\r\n\r\n")["envelope"]["to"] == [[None, None, "joe", "MISSING_DOMAIN"]]


def test_first_of_repeated_subject_wins_and_from_fields_are_joined() -> None:
    raw = b"Subject: one\r\nSubject: two\r\nFrom: a@x.example\r\nFrom: b@y.example\r\n\r\n"
    envelope = describe(raw)["envelope"]
    assert envelope["subject"] == "one"
    assert [address[2] for address in envelope["from"]] == ["a", "b"]


def test_eight_bit_header_octets_survive_as_latin1_code_points() -> None:
    raw = "Subject: caf\u00e9 \u2603\r\n\r\n".encode()
    subject = describe(raw)["envelope"]["subject"]
    assert subject.encode("latin-1") == "caf\u00e9 \u2603".encode()


def test_multipart_offsets_slice_headers_and_bodies() -> None:
    body = describe(MULTIPART)["body"]
    text, message = body["parts"]
    assert (body["type"], body["subtype"]) == ("multipart", "mixed")
    assert part_bytes(MULTIPART, body, "header").endswith(b'boundary="XX"\r\n\r\n')
    assert (
        part_bytes(MULTIPART, text, "header") == b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    # The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    assert part_bytes(MULTIPART, text, "body") == b"hello"
    assert text["lines"] == 0
    assert text["params"] == [["charset", "utf-8"]]
    inner = message["message"]
    assert inner["envelope"]["subject"] == "inner"
    assert part_bytes(MULTIPART, inner["body"], "header") == (
        b"Subject: inner\r\nFrom: dan@example.com\r\n\r\n"
    )
    assert part_bytes(MULTIPART, message, "body") == (
        b"Subject: inner\r\nFrom: dan@example.com\r\n\r\ninner body"
    )
    assert message["disposition"] == ["attachment", [["filename", "inner.eml"]]]
    assert part_bytes(MULTIPART, body, "body").endswith(b"--XX--\r\nepilogue\r\n")


def test_missing_final_boundary_ends_the_part_at_the_end() -> None:
    raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nno end\r\n"
    part = describe(raw)["body"]["parts"][0]
    assert part_bytes(raw, part, "body") == b"no end\r\n"


def test_multipart_without_parts_has_one_empty_text_part() -> None:
    raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\nno parts at all\r\n"
    body = describe(raw)["body"]
    start = body["body"][0]
    assert [(p["type"], p["subtype"], p["body"]) for p in body["parts"]] == [
        ("text", "plain", [start, start])
    ]


def test_longest_enclosing_boundary_wins() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=ab\r\n\r\n--ab\r\n"
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\ninner\r\n"
        b"--ab\r\n\r\nsecond\r\n--ab--\r\n"
    )
    top = describe(raw)["body"]["parts"]
    assert len(top) == 2
    assert part_bytes(raw, top[1], "body") == b"second"
    assert part_bytes(raw, top[0]["parts"][0], "body") == b"inner"


def test_content_fields_without_mime_version_or_content_type_are_ignored() -> None:
    # RFC 2045 §4: without MIME-Version this is not a MIME entity.
    body = describe(b"Content-Transfer-Encoding: base64\r\n\r\naGk=\r\n")["body"]
    assert body["encoding"] == "7bit"
    assert body["params"] == [["charset", "us-ascii"]]


def test_digest_parts_default_to_message_rfc822() -> None:
    raw = (
        b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
        b"Subject: in digest\r\n\r\nx\r\n--d--\r\n"
    )
    part = describe(raw)["body"]["parts"][0]
    assert (part["type"], part["subtype"]) == ("message", "rfc822")
    assert part["message"]["envelope"]["subject"] == "in digest"


def test_rfc2231_sections_are_joined() -> None:
    raw = (
        b"MIME-Version: 1.0\r\nContent-Type: application/pdf;\r\n"
        b" name*0*=utf-8''a%20b; name*1=\" c\"\r\n\r\nx"
    )
    assert describe(raw)["body"]["params"] == [["name*", "utf-8''a%20b%20c"]]


def test_nesting_beyond_the_cap_becomes_an_opaque_part() -> None:
    depth = MAX_DEPTH + 10
    raw = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(depth)
    )
    node = describe(raw)["body"]
    levels = 0
    while "parts" in node:
        node = node["parts"][0]
        levels += 1
    assert levels == MAX_DEPTH - 1
    assert (node["type"], node["subtype"]) == ("application", "octet-stream")


def test_huge_header_count_is_described() -> None:
    raw = b"".join(b"X-H%d: v\r\n" % i for i in range(20000)) + b"Subject: last\r\n\r\nbody"
    described = describe(raw)
    assert described["envelope"]["subject"] == "last"
    assert part_bytes(raw, described["body"], "body") == b"body"


def test_description_is_json_and_deterministic() -> None:
    described = describe(MULTIPART)
    assert json.loads(json.dumps(described)) == described
    assert json.dumps(describe(MULTIPART)) == json.dumps(described)


def _check_offsets(raw: bytes, part: dict[str, Any]) -> None:
    h0, h1 = part["header"]
    b0, b1 = part["body"]
    assert 0 <= h0 <= h1 <= len(raw)
    assert 0 <= b0 <= b1 <= len(raw)
    assert part["lines"] == raw.count(b"\n", b0, b1)
    for child in part.get("parts", []):
        _check_offsets(raw, child)
    if "message" in part:
        _check_offsets(raw, part["message"]["body"])


_LINES = st.sampled_from(
    [
        b"Content-Type: multipart/mixed; boundary=a\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Type: multipart/digest; boundary=b\r\n",
        b"Content-Type: text/plain; name*0*=x; name*1=y\r\n",
        b"MIME-Version: 1.0\r\n",
        b'From: "q\\" (c) <a@b>, g: x@y;\r\n',
        b"To: ,,<@r:x>\r\n",
        b"Cc: <@r",
        b"Bcc: g: <a@",
        b'"\\',
        b" folded\r\n",
        b"--a\r\n",
        b"--a--\r\n",
        b"--b\r\n",
        b"\r\n",
        b"\n",
        b"text\r\n",
        b"\x00\xff",
    ]
)


@pytest.mark.fuzz
@fuzz_settings(300)
@given(st.lists(st.one_of(_LINES, st.binary(max_size=40)), max_size=60))
def test_fuzz_any_bytes_give_a_json_description_within_bounds(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    described = describe(raw)
    json.dumps(described)
    _check_offsets(raw, described["body"])
