"""Which parts of a message are its body and which its attachments, in the MIME shapes
real mail takes (issue 15, "MIME cases"); each case a minimal hand-written message."""

from __future__ import annotations

import pytest

from mailstore.parsing import FORWARDED_LINE, parse_message
from mailstore.richtext import enriched_to_text, richtext_to_text


def _mixed(*parts: bytes, kind: bytes = b"mixed") -> bytes:
    body = b"".join(b"--b\r\n" + part + b"\r\n" for part in parts)
    return (
        b"From: a@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/" + kind + b'; boundary="b"\r\n\r\n' + body + b"--b--\r\n"
    )


def test_named_text_part_without_disposition_is_an_attachment() -> None:
    # A file sent as text/plain with only a name: its charset label lies (the bytes are
    # Windows-1252, not UTF-8), and merged into the body it showed as mojibake.
    raw = _mixed(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nSee the log.",
        b'Content-Type: text/plain; charset=utf-8; name="server.log"\r\n\r\ncaf\xe9 closed',
    )

    result = parse_message(raw)

    assert result.text.strip() == "See the log."
    [log] = result.attachments
    assert (log.filename, log.disposition) == ("server.log", "attachment")
    assert log.content == b"caf\xe9 closed"
    assert result.has_attachments


def test_named_text_part_marked_inline_stays_body_text() -> None:
    raw = _mixed(
        b"Content-Type: text/plain\r\n\r\nfirst",
        b'Content-Type: text/plain; name="more.txt"\r\nContent-Disposition: inline\r\n\r\nsecond',
    )

    result = parse_message(raw)

    assert result.text.split() == ["first", "second"]
    assert result.attachments == []


def test_only_a_forwarded_message_shows_the_inner_message() -> None:
    raw = (
        b"From: fwd@example.org\r\nSubject: Fwd: lunch\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: message/rfc822\r\n\r\n"
        b"From: Ann <ann@example.net>\r\nTo: Bob <bob@example.org>\r\n"
        b"Date: Tue, 1 Jul 2025 10:00:00 +0200\r\nSubject: =?utf-8?q?Lunch_=C3=A0_midi?=\r\n"
        b"\r\nSee you at noon.\r\n"
    )

    result = parse_message(raw)

    assert result.subject == "Fwd: lunch"
    assert result.text.splitlines()[:6] == [
        FORWARDED_LINE,
        "From: Ann <ann@example.net>",
        "Date: Tue, 01 Jul 2025 10:00:00 +0200",
        "Subject: Lunch à midi",
        "To: Bob <bob@example.org>",
        "",
    ]
    assert "See you at noon." in result.text
    assert result.preview.startswith(FORWARDED_LINE)
    # The forwarded message itself can still be downloaded whole.
    assert [a.content_type for a in result.attachments] == ["message/rfc822"]


def test_forwarded_html_message_keeps_its_cid_images_and_escapes_its_headers() -> None:
    inner = (
        b"From: <ann@example.net>\r\nSubject: <b>hi</b>\r\n"
        b'Content-Type: multipart/related; boundary="r"\r\n\r\n'
        b'--r\r\nContent-Type: text/html\r\n\r\n<p>pic <img src="cid:p@x"></p>\r\n'
        b"--r\r\nContent-Type: image/png\r\nContent-ID: <p@x>\r\n\r\nPNG\r\n--r--\r\n"
    )
    forward = b"Content-Type: message/rfc822\r\n\r\n" + inner
    raw = _mixed(b"Content-Type: text/plain\r\n\r\n", forward)

    result = parse_message(raw)

    assert result.html is not None
    assert "Subject: &lt;b&gt;hi&lt;/b&gt;" in result.html
    assert '<img src="cid:p@x">' in result.html
    image = next(a for a in result.attachments if a.content_type == "image/png")
    assert (image.content_id, image.disposition) == ("p@x", "inline")


def test_forward_with_text_of_its_own_keeps_the_message_as_attachment() -> None:
    raw = _mixed(
        b"Content-Type: text/plain\r\n\r\nHave a look.",
        b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner text",
    )

    result = parse_message(raw)

    assert result.text.strip() == "Have a look."
    assert [a.content_type for a in result.attachments] == ["message/rfc822"]


def test_digest_of_several_messages_is_not_unwrapped() -> None:
    raw = _mixed(
        b"Content-Type: message/rfc822\r\n\r\nSubject: one\r\n\r\n1",
        b"Content-Type: message/rfc822\r\n\r\nSubject: two\r\n\r\n2",
        kind=b"digest",
    )

    result = parse_message(raw)

    assert result.text == ""
    assert len(result.attachments) == 2


def test_base64_encoded_forward_is_decoded_before_it_is_shown() -> None:
    # RFC 2046 §5.2.1 forbids it; programs do it (corpus: james-mime4j).
    raw = (
        b"Subject: fwd\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n"
        b"\r\nU3ViamVjdDogaW5uZXIKCmlubmVyIHRleHQK\r\n"  # "Subject: inner\n\ninner text\n"
    )

    result = parse_message(raw)

    assert "Subject: inner" in result.text
    assert "inner text" in result.text


@pytest.mark.parametrize(
    ("content_type", "body", "shown"),
    [
        (b"text/enriched", b"<bold>Hi</bold> <<you>\r\nthere\r\n\r\nBye", "Hi <you> there\nBye"),
        (b"text/richtext", b"<bold>Hi</bold><nl>2 <lt> 3\r\nmore", "Hi\n2 < 3 more"),
        (b"text/markdown", b"# T\r\n\r\n<script>x</script> *em*", "# T\n\n<script>x</script> *em*"),
    ],
)
def test_formatted_text_body_is_shown_as_text(content_type: bytes, body: bytes, shown: str) -> None:
    raw = b"Subject: s\r\nContent-Type: " + content_type + b"; charset=utf-8\r\n\r\n" + body

    result = parse_message(raw)

    assert result.text == shown
    assert result.html is None
    assert result.attachments == []


def test_formatted_alternative_of_a_plain_text_body_is_not_shown_twice() -> None:
    raw = _mixed(
        b"Content-Type: text/plain\r\n\r\nHello",
        b"Content-Type: text/enriched\r\n\r\n<bold>Hello</bold>",
        kind=b"alternative",
    )

    result = parse_message(raw)

    assert result.text.strip() == "Hello"
    assert [(a.content_type, a.disposition) for a in result.attachments] == [
        ("text/enriched", "inline")
    ]


def test_enriched_param_and_nofill() -> None:
    source = "<color><param>red</param>Red</color>\n<nofill>a\nb</nofill>"

    assert enriched_to_text(source) == "Red a\nb"


def test_richtext_page_break_is_a_blank_line() -> None:
    assert richtext_to_text("one<np>two") == "one\n\ntwo"


def test_image_with_content_id_in_related_is_inline_even_with_a_name() -> None:
    raw = _mixed(
        b'Content-Type: text/html\r\n\r\n<img src="cid:logo@x">',
        b'Content-Type: image/png; name="logo.png"\r\nContent-ID: <logo@x>\r\n\r\nPNG',
        kind=b"related",
    )

    result = parse_message(raw)

    [logo] = result.attachments
    assert (logo.filename, logo.disposition) == ("logo.png", "inline")
    assert not result.has_attachments


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # Control characters out of encoded words: shown as U+FFFD, never raw.
        (b"=?utf-8?q?a=01b=1B[31mc?=", "a\ufffdb\ufffd[31mc"),
        (b"=?x-unknown?q?bell=07?=", "bell\ufffd"),
        (b"=?utf-8?b?woVuZXh0?=", "\ufffdnext"),  # U+0085, a C1 control
        # Windows-1252 labelled as Latin-1 (WHATWG): curly quotes, not C1 controls.
        (b"=?iso-8859-1?q?=93quoted=94?=", "\u201cquoted\u201d"),
    ],
)
def test_control_characters_in_subjects_and_names_are_not_shown_raw(
    header: bytes, expected: str
) -> None:
    raw = b"From: " + header + b" <a@example.org>\r\nSubject: " + header + b"\r\n\r\nx"

    result = parse_message(raw)

    assert result.subject == expected
    assert result.from_ is not None
    assert result.from_.name == expected


def test_control_characters_in_attachment_names_are_dropped() -> None:
    raw = _mixed(
        b"Content-Type: text/plain\r\n\r\nx",
        b"Content-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="=?utf-8?q?a=1B[2Jb=C2=85.pdf?="\r\n\r\n%PDF',
    )

    assert parse_message(raw).attachments[0].filename == "a[2Jb.pdf"
