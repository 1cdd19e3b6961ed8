"""BODY[section]<partial> from raw bytes: table tests of RFC 9051 §6.4.5 and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imap_gateway.sections import extract, partial, split_entity
from imap_gateway.wire.fetch import HEADER, HEADER_FIELDS, HEADER_FIELDS_NOT, MIME, TEXT, Section
from libs.smtplib_common.tests.fuzzing import fuzz_settings

SIMPLE = b"From: a@example.org\r\nSubject: hi\r\n  folded\r\nTo: b@example.org\r\n\r\nBody line\r\n"
NESTED = (
    b"From: a@example.org\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"preamble\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"first part\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: inner\r\n"
    b'Content-Type: multipart/alternative; boundary="in"\r\n'
    b"\r\n"
    b"--in\r\n"
    b"\r\n"
    b"plain\r\n"
    b"--in\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<p>html</p>\r\n"
    b"--in--\r\n"
    b"--outer--\r\n"
    b"epilogue\r\n"
)


@pytest.mark.parametrize(
    ("raw", "section", "expected"),
    [
        (SIMPLE, Section(), SIMPLE),
        (SIMPLE, Section(text=HEADER), SIMPLE[: SIMPLE.index(b"\r\n\r\n") + 4]),
        (SIMPLE, Section(text=TEXT), b"Body line\r\n"),
        # RFC 9051 §6.4.5: matching is case-insensitive, folding kept, blank line added.
        (
            SIMPLE,
            Section(text=HEADER_FIELDS, fields=("SUBJECT", "to")),
            b"Subject: hi\r\n  folded\r\nTo: b@example.org\r\n\r\n",
        ),
        (
            SIMPLE,
            Section(text=HEADER_FIELDS_NOT, fields=("subject",)),
            b"From: a@example.org\r\nTo: b@example.org\r\n\r\n",
        ),
        (SIMPLE, Section(text=HEADER_FIELDS, fields=("X-None",)), b"\r\n"),
        # A non-multipart message has one part: its body.
        (SIMPLE, Section(part=(1,)), b"Body line\r\n"),
        (SIMPLE, Section(part=(2,)), None),
        (NESTED, Section(part=(1,)), b"first part"),
        (NESTED, Section(part=(1,), text=MIME), b"Content-Type: text/plain\r\n\r\n"),
        (
            NESTED,
            Section(part=(2,), text=HEADER),
            b'Subject: inner\r\nContent-Type: multipart/alternative; boundary="in"\r\n\r\n',
        ),
        (NESTED, Section(part=(2, 1)), b"plain"),
        (NESTED, Section(part=(2, 2)), b"<p>html</p>"),
        (NESTED, Section(part=(2, 2), text=MIME), b"Content-Type: text/html\r\n\r\n"),
        (NESTED, Section(part=(2, 3)), None),
        # HEADER of a part that is not message/rfc822 does not exist.
        (NESTED, Section(part=(1,), text=HEADER), None),
        (
            NESTED,
            Section(part=(2,), text=HEADER_FIELDS, fields=("subject",)),
            b"Subject: inner\r\n\r\n",
        ),
        # No blank line: all header, empty text.
        (b"Subject: x\r\n", Section(text=TEXT), b""),
        (b"Subject: x", Section(text=HEADER_FIELDS, fields=("subject",)), b"Subject: x\r\n\r\n"),
        # Bare LF line ends are read too.
        (b"Subject: x\n\nbody\n", Section(text=TEXT), b"body\n"),
    ],
)
def test_section_extraction(raw: bytes, section: Section, expected: bytes | None) -> None:
    assert extract(raw, section) == expected


def test_partial_is_a_window_and_empty_past_the_end() -> None:
    assert partial(b"0123456789", (2, 3)) == b"234"
    assert partial(b"0123456789", (8, 10)) == b"89"
    assert partial(b"0123456789", (20, 1)) == b""
    assert partial(b"abc", None) == b"abc"


def test_an_empty_part_between_two_delimiters_is_empty() -> None:
    raw = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n'

    assert extract(raw, Section(part=(1,))) == b""
    assert extract(raw, Section(part=(2,))) == b"x"


# --- fuzzing -------------------------------------------------------------------------------

field_names = st.sampled_from(["Subject", "From", "To", "X-Test", "Received", "content-type"])
lines = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
sections = st.builds(
    Section,
    part=st.lists(st.integers(1, 3), max_size=3).map(tuple),
    text=st.sampled_from([None, HEADER, TEXT, HEADER_FIELDS, HEADER_FIELDS_NOT, MIME]),
    fields=st.lists(field_names, min_size=1, max_size=3).map(tuple),
)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    header = b"".join(
        draw(field_names).encode() + b": " + draw(lines) + b"\r\n"
        for _ in range(draw(st.integers(0, 5)))
    )
    if draw(st.booleans()):
        parts = draw(st.lists(lines, min_size=1, max_size=3))
        body = b"".join(b"--B\r\nContent-Type: text/plain\r\n\r\n" + p + b"\r\n" for p in parts)
        header += b'Content-Type: multipart/mixed; boundary="B"\r\n'
        return header + b"\r\n" + body + b"--B--\r\n"
    return header + b"\r\n" + draw(lines)


@pytest.mark.fuzz
@fuzz_settings(300)
@given(raw=st.one_of(messages(), st.binary(max_size=300)), section=sections)
def test_fuzz_extraction_never_fails_and_is_stable(raw: bytes, section: Section) -> None:
    section = (
        section
        if section.text in (HEADER_FIELDS, HEADER_FIELDS_NOT)
        else Section(section.part, section.text)
    )
    if section.text == MIME and not section.part:
        section = Section(text=HEADER)
    first = extract(raw, section)

    assert first == extract(raw, section)
    if section.text == HEADER and not section.part:
        assert first is not None
        assert raw.startswith(first)


@pytest.mark.fuzz
@fuzz_settings(300)
@given(raw=st.one_of(messages(), st.binary(max_size=300)))
def test_fuzz_header_and_text_make_the_message(raw: bytes) -> None:
    header = extract(raw, Section(text=HEADER))
    text = extract(raw, Section(text=TEXT))

    assert header is not None
    assert text is not None
    assert header + text == raw
    assert split_entity(raw).header == header


@pytest.mark.fuzz
@fuzz_settings(300)
@given(raw=messages(), names=st.lists(field_names, min_size=1, max_size=3).map(tuple))
def test_fuzz_fields_and_fields_not_split_the_header(raw: bytes, names: tuple[str, ...]) -> None:
    kept = extract(raw, Section(text=HEADER_FIELDS, fields=names))
    others = extract(raw, Section(text=HEADER_FIELDS_NOT, fields=names))
    header = extract(raw, Section(text=HEADER))

    assert kept is not None
    assert others is not None
    assert header is not None
    assert kept.endswith(b"\r\n")
    assert others.endswith(b"\r\n")
    together = sorted(kept[:-2].splitlines(keepends=True) + others[:-2].splitlines(keepends=True))
    assert together == sorted(header[:-2].splitlines(keepends=True))


@pytest.mark.fuzz
@fuzz_settings(300)
@given(parts=st.lists(lines.filter(lambda b: b"--B" not in b), min_size=1, max_size=4))
def test_fuzz_multipart_parts_come_back_exactly(parts: list[bytes]) -> None:
    body = b"".join(b"--B\r\n\r\n" + p + b"\r\n" for p in parts)
    raw = b'Content-Type: multipart/mixed; boundary="B"\r\n\r\npre\r\n' + body + b"--B--\r\n"

    for n, expected in enumerate(parts, 1):
        assert extract(raw, Section(part=(n,))) == expected
    assert extract(raw, Section(part=(len(parts) + 1,))) is None


@pytest.mark.fuzz
@fuzz_settings(300)
@given(data=st.binary(max_size=100), start=st.integers(0, 120), count=st.integers(1, 120))
def test_fuzz_partial_is_the_slice(data: bytes, start: int, count: int) -> None:
    assert partial(data, (start, count)) == data[start : start + count]
