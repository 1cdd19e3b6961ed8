"""Message building and wire form: line endings, dot-stuffing, 8-bit, SMTPUTF8, xtext."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtplib_common.client.message import (
    build_message,
    data_payload,
    dot_stuff,
    envelope_of,
    has_8bit,
    headers_have_8bit,
    message_needs_smtputf8,
    needs_smtputf8,
    normalize_line_endings,
    prepare_content,
    serialize_message,
)
from smtplib_common.client.transaction import mail_parameters
from smtplib_common.errors import SMTPNotSupported


def _unstuff(payload: bytes) -> bytes:
    assert payload.endswith(b".\r\n")
    return re.sub(rb"(?m)^\.", b"", payload[:-3])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\rb\r", b"a\r\nb\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b"a\n\rb", b"a\r\n\r\nb"),  # LF then CR: two line ends, not one
        (b"a\r\r\nb", b"a\r\n\r\nb"),
    ],
)
def test_bare_cr_and_lf_become_crlf(raw: bytes, expected: bytes) -> None:
    assert normalize_line_endings(raw) == expected


def test_prepared_content_always_ends_with_crlf() -> None:
    assert prepare_content(b"no newline") == b"no newline\r\n"
    assert prepare_content(b"x\n") == b"x\r\n"
    assert prepare_content(b"") == b""


def test_leading_dots_are_doubled_on_every_line() -> None:
    assert dot_stuff(b".first\r\nmid\r\n..two\r\n.\r\n") == b"..first\r\nmid\r\n...two\r\n..\r\n"


def test_dot_inside_a_line_is_left_alone() -> None:
    assert dot_stuff(b"a.b\r\n x.\r\n") == b"a.b\r\n x.\r\n"


def test_data_payload_ends_with_the_terminator_line() -> None:
    assert data_payload(b"hi\r\n.\r\n") == b"hi\r\n..\r\n.\r\n"


@given(st.binary(max_size=300))
def test_stuffed_payload_unstuffs_to_the_normalised_content(raw: bytes) -> None:
    content = prepare_content(raw)
    payload = data_payload(content)
    # The only "\r\n.\r\n" is the terminator, so no message can end early
    # (the SMTP smuggling problem) and no bare CR or LF reaches the server.
    assert payload.find(b"\r\n.\r\n") in (-1, len(payload) - 5)
    assert not re.search(rb"\r(?!\n)|(?<!\r)\n", payload)
    assert _unstuff(payload) == content


@given(st.binary(max_size=200))
def test_normalisation_is_idempotent(raw: bytes) -> None:
    once = normalize_line_endings(raw)
    assert normalize_line_endings(once) == once


def test_8bit_detection_looks_at_every_octet() -> None:
    assert not has_8bit(b"plain ascii\r\n")
    assert has_8bit("é".encode())


def test_only_8bit_in_the_header_section_needs_smtputf8() -> None:
    assert headers_have_8bit("Subject: é\r\n\r\nbody\r\n".encode())
    assert not headers_have_8bit("Subject: e\r\n\r\nbödy\r\n".encode())
    assert needs_smtputf8(["jörg@example.org"])
    assert not needs_smtputf8(["ann@example.org"], "Subject: x\r\n\r\nbödy".encode())


# --- MAIL parameters ----------------------------------------------------------


def test_size_is_announced_when_the_server_offers_it() -> None:
    assert mail_parameters({"SIZE": "1000"}, content=b"12345", smtputf8=False) == ["SIZE=5"]
    assert mail_parameters({}, content=b"12345", smtputf8=False) == []


def test_8bit_content_asks_for_8bitmime_or_is_not_sent() -> None:
    body = "é\r\n".encode()
    assert mail_parameters({"8BITMIME": ""}, content=body, smtputf8=False) == ["BODY=8BITMIME"]
    with pytest.raises(SMTPNotSupported) as caught:
        mail_parameters({}, content=body, smtputf8=False)
    assert caught.value.extension == "8BITMIME"


def test_smtputf8_is_required_when_needed() -> None:
    assert mail_parameters({"SMTPUTF8": ""}, content=b"", smtputf8=True) == ["SMTPUTF8"]
    with pytest.raises(SMTPNotSupported) as caught:
        mail_parameters({"8BITMIME": ""}, content=b"", smtputf8=True)
    assert caught.value.extension == "SMTPUTF8"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("ann@example.org", "AUTH=ann@example.org"),
        ("a+b=c@example.org", "AUTH=a+2Bb+3Dc@example.org"),  # RFC 3461 §4
        ("with space@x", "AUTH=with+20space@x"),
        ("jörg@x", "AUTH=j+C3+B6rg@x"),
        ("", "AUTH=<>"),  # RFC 4954 §5: submitter unknown
    ],
)
def test_auth_parameter_is_xtext_encoded(address: str, expected: str) -> None:
    params = mail_parameters({"AUTH": "PLAIN"}, content=b"", smtputf8=False, auth_address=address)
    assert params == [expected]


def test_auth_parameter_is_left_out_when_auth_is_not_offered() -> None:
    assert mail_parameters({}, content=b"", smtputf8=False, auth_address="a@b") == []


@given(st.text(max_size=60))
def test_xtext_uses_only_the_allowed_octets_and_decodes_back(value: str) -> None:
    (param,) = mail_parameters({"AUTH": ""}, content=b"", smtputf8=False, auth_address=value or "x")
    xtext = param.removeprefix("AUTH=")
    assert all(33 <= ord(c) <= 126 and c != "=" for c in xtext)
    raw = re.sub(r"\+([0-9A-F]{2})", lambda m: chr(int(m[1], 16)), xtext)
    assert raw.encode("latin-1").decode("utf-8") == (value or "x")


# --- building and envelopes ---------------------------------------------------


def test_built_message_has_the_headers_a_server_expects() -> None:
    msg = build_message("ann@example.org", ["bob@example.net"], "Hi", "Hello\n", cc=["c@x.org"])
    for header in ("From", "To", "Cc", "Subject", "Date", "Message-ID"):
        assert msg[header], header
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg.get_content() == "Hello\n"


def test_non_ascii_body_is_8bit_only_when_allowed() -> None:
    eight = build_message("a@x", ["b@y"], "s", "grüße\n", allow_8bit=True)
    seven = build_message("a@x", ["b@y"], "s", "grüße\n", allow_8bit=False)
    assert has_8bit(serialize_message(eight, utf8=False))
    wire = serialize_message(seven, utf8=False)
    assert not has_8bit(wire)
    decoded = message_from_bytes(wire, policy=policy.default).get_content()
    assert decoded.replace("\r\n", "\n") == "grüße\n"


def test_serialised_message_uses_crlf_only() -> None:
    msg = build_message("a@x", ["b@y"], "s", "one\ntwo\n")
    wire = serialize_message(msg, utf8=False)
    assert b"\r\n" in wire
    assert not re.search(rb"(?<!\r)\n", wire)


def test_non_ascii_subject_is_encoded_unless_smtputf8() -> None:
    msg = build_message("a@x", ["b@y"], "grüße", "x\n")
    assert not headers_have_8bit(serialize_message(msg, utf8=False))
    assert "Subject: grüße".encode() in serialize_message(msg, utf8=True)


def test_envelope_defaults_to_headers_and_bcc_is_not_transmitted() -> None:
    msg = EmailMessage()
    msg["From"] = "Ann <ann@example.org>"
    msg["To"] = "Bob <bob@example.net>, carl@example.net"
    msg["Cc"] = "dora@example.net"
    msg["Bcc"] = "eve@example.net"
    msg.set_content("x")
    sender, rcpts, sent = envelope_of(msg)
    assert sender == "ann@example.org"
    assert rcpts == ["bob@example.net", "carl@example.net", "dora@example.net", "eve@example.net"]
    assert sent["Bcc"] is None
    assert msg["Bcc"] == "eve@example.net"  # the caller's message is untouched


def test_sender_header_wins_over_from() -> None:
    msg = EmailMessage()
    msg["From"] = "ann@example.org"
    msg["Sender"] = "list@example.org"
    msg["To"] = "b@y"
    assert envelope_of(msg)[0] == "list@example.org"


def test_message_without_recipients_is_rejected_before_any_io() -> None:
    msg = EmailMessage()
    msg["From"] = "a@x"
    with pytest.raises(ValueError, match="no recipients"):
        envelope_of(msg)


def test_non_ascii_address_header_needs_smtputf8() -> None:
    msg = EmailMessage()
    msg["From"] = "Jörg <jörg@example.org>"
    assert message_needs_smtputf8(msg)
    msg.replace_header("From", "Jörg <joerg@example.org>")
    assert not message_needs_smtputf8(msg)
