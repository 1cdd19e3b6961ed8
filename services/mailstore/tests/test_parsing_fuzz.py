"""Fuzz targets for parse_message: random bytes, and well-formed MIME mutated at random.

Whatever the input, parse_message returns (never raises), and what it returns is storable:
no NUL, no lone surrogate, bounded header fields, bare attachment names. A normal run tries
100 examples per target; LOCALPOST_FUZZ_EXAMPLES=20000 makes a fuzzing session of it.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mailstore import parsing
from mailstore.parsing import ParsedMessage, parse_message

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("LOCALPOST_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Pieces of real and hostile MIME for the structured target to put together.
_HEADER_NAMES = [
    b"Subject",
    b"From",
    b"To",
    b"Cc",
    b"Date",
    b"Message-ID",
    b"In-Reply-To",
    b"References",
    b"Content-Type",
    b"Content-Transfer-Encoding",
    b"Content-Disposition",
    b"Content-ID",
    b"MIME-Version",
    b"X-\x00",
    b"\xff",
]
_HEADER_VALUES = [
    b"hello", b"=?utf-8?q?caf=C3=A9?=", b"=?utf-8?b?!!!?=", b"=?x-bogus?q?a?=", b"=?utf-8?q?",
    b"a@b.c", b'"Q, R" <q@r.s>', b"<a@b>, (comment) c@d", b"group: a@b, c@d;", b"x@[1.2.3",
    b"Tue, 1 Jul 2025 10:00:00 +0200", b"Mon, 99 Foo 99999 99:99:99 +9999",
    b"text/plain; charset=utf-8", b"text/plain; charset=utf-16", b"text/plain; charset=utf-7",
    b"text/plain; charset=x-unknown", b"text/plain; charset=base64", b"text/html",
    b'multipart/mixed; boundary="b"', b"multipart/alternative", b"message/rfc822",
    b"base64", b"quoted-printable", b"x-uuencode", b"8bit",
    b"attachment; filename=\"../../etc/passwd\"", b"attachment; filename*0*=utf-8''%C3%A9",
    b"inline; filename*=x''%ff", b"caf\xc3\xa9", b"caf\xe9", b"\xed\xa0\x80", b"\x00",
]  # fmt: skip
_BODY_LINES = [
    b"--b", b"--b--", b"--", b"plain text", b"SGVsbG8=", b"!!!*", b"=3D=ZZ=", b"soft=",
    b"<p onclick=x>hi</p>", b"\x00\xff\xfe", b"\xed\xa0\x80", b"+ZeVnLIqe-", b"",
]  # fmt: skip

_HEADERS = st.lists(
    st.tuples(st.sampled_from(_HEADER_NAMES), st.sampled_from(_HEADER_VALUES)).map(
        lambda pair: pair[0] + b": " + pair[1]
    ),
    max_size=12,
)
_BODY = st.lists(st.sampled_from(_BODY_LINES), max_size=30)
_NEWLINE = st.sampled_from([b"\r\n", b"\n", b"\r"])


@st.composite
def mutated_mime(draw: st.DrawFn) -> bytes:
    newline = draw(_NEWLINE)
    raw = newline.join([*draw(_HEADERS), b"", *draw(_BODY)])
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(raw)))
        mutation = draw(st.sampled_from(["insert", "delete", "repeat", "truncate"]))
        if mutation == "insert":
            raw = raw[:at] + draw(st.binary(max_size=8)) + raw[at:]
        elif mutation == "delete":
            raw = raw[:at] + raw[at + draw(st.integers(1, 16)) :]
        elif mutation == "repeat":
            raw = raw[:at] + raw[at:] * draw(st.integers(2, 5))
        else:
            raw = raw[:at]
    return raw


def _assert_storable(result: ParsedMessage) -> None:
    texts = [result.subject, result.text, result.html or "", result.preview, result.search_text]
    texts += [result.message_id or "", result.in_reply_to or "", result.references or ""]
    texts += [
        value for a in [result.from_, *result.to, *result.cc] if a for value in (a.name, a.address)
    ]
    for value in texts:
        assert "\x00" not in value
        value.encode("utf-8")  # no lone surrogates
    assert len(result.subject) <= parsing.MAX_HEADER_CHARS
    assert len(result.defects) <= parsing.MAX_DEFECTS
    for item in result.attachments:
        assert item.filename is None or (item.filename.isprintable() and "/" not in item.filename)


@FUZZ
@given(raw=st.binary(max_size=4096))
@example(raw=b"")
@example(raw=b"\r\n\r\n")
def test_random_bytes_parse_to_storable_fields(raw: bytes) -> None:
    _assert_storable(parse_message(raw))


@FUZZ
@given(raw=mutated_mime())
@example(raw=b'Content-Type: multipart/mixed; boundary="b"\n\n--b\n--b\n--b--\n')
def test_mutated_mime_parses_to_storable_fields(raw: bytes) -> None:
    _assert_storable(parse_message(raw))
