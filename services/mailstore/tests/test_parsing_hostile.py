"""Malformed and hostile MIME, one row each: parse_message never raises, stays within a CPU
and memory budget, and shows what it could read with a safe fallback for the rest.

Rows are grouped by area (the first word of each id); docs/security.md counts them.
"""

from __future__ import annotations

import base64
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from mailstore import parsing
from mailstore.parsing import MAX_DEPTH, MAX_FORWARDS, MAX_PARTS, ParsedMessage, parse_message

# Generous, so that a loaded shared machine cannot make them flake: real figures are printed
# (pytest -s) and are well below them. CPU time, not wall-clock time.
CPU_SECONDS = 5.0
# tracemalloc's peak may reach this multiple of the input, plus a fixed allowance for the
# small cases (the parser's own objects).
MEMORY_FACTOR = 10
MEMORY_ALLOWANCE = 16 * 1024 * 1024

HEAD = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hostile\r\n"


def mime(content_type: bytes, body: bytes, *, extra: bytes = b"") -> bytes:
    return (
        HEAD
        + b"MIME-Version: 1.0\r\nContent-Type: "
        + content_type
        + b"\r\n"
        + extra
        + b"\r\n"
        + body
    )


def plain(body: bytes, *, charset: bytes = b"utf-8", encoding: bytes | None = None) -> bytes:
    extra = b"Content-Transfer-Encoding: " + encoding + b"\r\n" if encoding else b""
    return mime(b"text/plain; charset=" + charset, body, extra=extra)


def subject(value: bytes) -> bytes:
    return b"From: a@example.org\r\nSubject: " + value + b"\r\n\r\nbody\r\n"


def attachment(disposition: bytes, content: bytes = b"data") -> bytes:
    return mime(
        b'multipart/mixed; boundary="b"',
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: "
        + disposition
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(content)
        + b"--b--\r\n",
    )


def parts(count: int) -> bytes:
    return mime(
        b'multipart/mixed; boundary="x"',
        b"--x\r\nContent-Type: text/plain\r\n\r\np\r\n" * count + b"--x--\r\n",
    )


def nested_multipart(depth: int) -> bytes:
    body = b"".join(
        b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (n, n + 1)
        for n in range(depth)
    )
    return mime(b'multipart/mixed; boundary="b0"', body + b"--b%d\r\n\r\ndeep\r\n" % depth)


def nested_rfc822(depth: int) -> bytes:
    inner = b"Subject: innermost\r\n\r\ndeep\r\n"
    for _ in range(depth):
        inner = b"Subject: wrapper\r\nContent-Type: message/rfc822\r\n\r\n" + inner
    return mime(b"message/rfc822", inner)


def alternating(depth: int) -> bytes:
    # multipart → message/rfc822 → multipart → ...: both kinds of nesting in one chain.
    inner = b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    for n in range(depth):
        if n % 2:
            inner = b"Content-Type: message/rfc822\r\n\r\n" + inner
        else:
            inner = (
                b'Content-Type: multipart/mixed; boundary="m%d"\r\n\r\n--m%d\r\n%s--m%d--\r\n'
                % (
                    n,
                    n,
                    inner,
                    n,
                )
            )
    return HEAD + inner


def utf16(text: str, codec: str) -> bytes:
    return plain(base64.encodebytes(text.encode(codec)), charset=b"utf-16", encoding=b"base64")


def text_of(result: ParsedMessage) -> str:
    return result.text.strip()


def first_filename(result: ParsedMessage) -> str | None:
    return result.attachments[0].filename


@dataclass(frozen=True)
class Case:
    build: Callable[[], bytes]
    subject: str | None = "hostile"
    # What the reader is shown: (extract, expected); None when any text will do.
    shows: tuple[Callable[[ParsedMessage], object], object] | None = None
    attachments: int | None = None
    defects: tuple[str, ...] = ()
    # A substring of ParsedMessage.error; None when no error is expected.
    error: str | None = None


CASES = [
    # -- structure: the MIME tree -------------------------------------------------------------
    pytest.param(
        Case(
            lambda: mime(b"multipart/mixed", b"no boundary parameter\r\n"),
            shows=(text_of, "no boundary parameter"),
            attachments=0,
            defects=("NoBoundaryInMultipartDefect",),
        ),
        id="structure-missing-boundary",
    ),
    pytest.param(
        Case(
            lambda: mime(b'multipart/mixed; boundary="b"', b"--b\r\n\r\nhello\r\n"),
            shows=(text_of, "hello"),
            defects=("CloseBoundaryNotFoundDefect",),
        ),
        id="structure-boundary-never-closed",
    ),
    pytest.param(
        Case(
            lambda: mime(b'multipart/mixed; boundary="b"', b"the boundary never appears\r\n"),
            shows=(text_of, "the boundary never appears"),
            defects=("StartBoundaryNotFoundDefect",),
        ),
        id="structure-boundary-never-opened",
    ),
    pytest.param(
        Case(lambda: parts(MAX_PARTS), shows=(text_of, ""), error="MIME parts; body not parsed"),
        id="structure-10000-parts",
    ),
    pytest.param(
        Case(lambda: parts(MAX_PARTS - 1_000), shows=(lambda r: r.text.count("p"), 9_000)),
        id="structure-9000-parts-walked",
    ),
    pytest.param(
        Case(lambda: nested_multipart(1_000), shows=(text_of, ""), error="nested deeper"),
        id="structure-multipart-1000-deep",
        # Reaching the recursion limit is slow under tracemalloc (~30 s), not without it.
        marks=pytest.mark.slow,
    ),
    pytest.param(
        Case(
            lambda: nested_multipart(MAX_DEPTH - 1),
            shows=(text_of, "deep"),
        ),
        id="structure-multipart-49-deep-walked",
    ),
    pytest.param(
        Case(lambda: nested_rfc822(1_000), attachments=0, error="nested deeper"),
        id="structure-rfc822-1000-deep",
    ),
    pytest.param(
        Case(lambda: alternating(1_000), error="nested deeper"),
        id="structure-multipart-rfc822-alternating-1000-deep",
        # Reaching the recursion limit is slow under tracemalloc (~30 s), not without it.
        marks=pytest.mark.slow,
    ),
    # -- headers --------------------------------------------------------------------------------
    pytest.param(
        Case(
            lambda: b"Subject: hostile\r\nthis line has no colon\r\nFrom: a@b\r\n\r\nbody\r\n",
            shows=(text_of, "this line has no colon\r\nFrom: a@b\r\n\r\nbody".replace("\r", "")),
            defects=("MissingHeaderBodySeparatorDefect",),
        ),
        id="headers-line-without-colon",
    ),
    pytest.param(
        Case(
            lambda: subject(b"x" * 1024 * 1024),
            subject="x" * parsing.MAX_HEADER_CHARS,
            shows=(text_of, "body"),
        ),
        id="headers-1mb-single-line",
    ),
    pytest.param(
        Case(
            lambda: subject(b"hostile").replace(
                b"\r\n\r\n", b"\r\n" + b"X-Filler: v\r\n" * 100_000 + b"\r\n"
            ),
            shows=(text_of, ""),
            error="too many of them short; body not parsed",
        ),
        id="headers-100000-headers",
    ),
    pytest.param(
        Case(
            lambda: subject(b"hostile") + b"\n" * 1_000_000,
            shows=(text_of, ""),
            error="too many of them short; body not parsed",
        ),
        id="structure-1000000-empty-lines",
    ),
    pytest.param(
        Case(
            lambda: subject(b"hostile").replace(b"\r\n", b"\r") + b"\r" * 1_000_000,
            shows=(text_of, ""),
            error="too many of them short; body not parsed",
        ),
        id="structure-1000000-bare-cr-lines",
    ),
    pytest.param(
        Case(
            lambda: parts(MAX_PARTS).replace(b"\r\n", b"\r"),
            shows=(text_of, ""),
            error="MIME parts; body not parsed",
        ),
        id="structure-10000-parts-bare-cr-lines",
    ),
    pytest.param(
        Case(
            lambda: nested_rfc822(MAX_DEPTH - 1),
            # Each of the first MAX_FORWARDS levels is a message that is only a forward:
            # it shows the next one, whose part joins the attachments; the rest is whole.
            attachments=1 + MAX_FORWARDS,
        ),
        id="structure-rfc822-49-deep-kept-whole",
    ),
    pytest.param(
        Case(
            lambda: subject("café ✓".encode()) + b"To: J\xfcrgen <j@example.org>\r\n",
            subject="café ✓",
        ),
        id="headers-8bit-utf8-and-latin1",
    ),
    pytest.param(
        Case(lambda: subject(b"a\x00b") + b"X-\x00: \x00\r\n", subject="a\ufffdb"),
        id="headers-nul-bytes",
    ),
    pytest.param(
        # policy.default's lenient decoder, the fallback for undecodable base64 words.
        Case(lambda: subject(b"=?utf-8?b?!!!not base64?="), subject="!!!not base64"),
        id="headers-rfc2047-broken-base64",
    ),
    pytest.param(
        Case(lambda: subject(b"=?x-unknown?q?caf=E9?= ok"), subject="caf\ufffd ok"),
        id="headers-rfc2047-unknown-charset",
    ),
    pytest.param(
        Case(
            lambda: subject(b"=?utf-8?x?abc?= =?utf-8?q?unterminated"),
            subject="=?utf-8?x?abc?= =?utf-8?q?unterminated",
        ),
        id="headers-rfc2047-bad-encoding-and-unterminated",
    ),
    pytest.param(
        Case(lambda: subject(b"=?utf-8?b?7aCA?= =?utf-16?b?ANg=?="), subject="\ufffd" * 5),
        id="headers-rfc2047-lone-surrogates",
    ),
    pytest.param(
        Case(
            lambda: subject(b"=?utf-8?q?" + b"=E2=9C=93" * 20_000 + b"?="),
            subject="✓" * parsing.MAX_HEADER_CHARS,
        ),
        id="headers-rfc2047-huge-word",
    ),
    # -- encodings: transfer encodings and charsets ------------------------------------------
    pytest.param(
        Case(
            lambda: plain(b"!!!not*base64\r\nSGVsbG8=\r\n", encoding=b"base64"),
            defects=("InvalidBase64CharactersDefect",),
        ),
        id="encodings-broken-base64",
    ),
    pytest.param(
        Case(lambda: plain(b"SGVsbG8", encoding=b"base64"), shows=(text_of, "Hello")),
        id="encodings-base64-missing-padding",
    ),
    pytest.param(
        Case(
            lambda: plain(b"begin 644 x\r\n#86)C\r\nend\r\n", encoding=b"x-unknown"),
            shows=(text_of, "begin 644 x\n#86)C\nend"),
        ),
        id="encodings-unknown-transfer-encoding",
    ),
    pytest.param(
        Case(
            lambda: plain(b"soft=\r\nbreak =ZZ bad= \r\nend=", encoding=b"quoted-printable"),
            # Python keeps "= " before a line break (RFC 2045 calls it transport padding).
            shows=(text_of, "softbreak =ZZ bad= \nend"),
        ),
        id="encodings-quoted-printable-broken-soft-breaks",
    ),
    pytest.param(
        Case(lambda: plain(b"Hi +ZeVnLIqe-", charset=b"utf-7"), shows=(text_of, "Hi 日本語")),
        id="encodings-charset-utf7",
    ),
    pytest.param(
        Case(lambda: plain("café".encode(), charset=b"x-unknown"), shows=(text_of, "café")),
        id="encodings-charset-unknown",
    ),
    pytest.param(
        Case(lambda: plain(b"caf\xe9", charset=b"base64"), shows=(text_of, "café")),
        id="encodings-charset-names-a-bytes-codec",
    ),
    pytest.param(
        Case(lambda: utf16("Hello, world", "utf-16-le"), shows=(text_of, "Hello, world")),
        id="encodings-charset-utf16-little-endian-no-bom",
    ),
    pytest.param(
        Case(lambda: utf16("Hello, world", "utf-16-be"), shows=(text_of, "Hello, world")),
        id="encodings-charset-utf16-big-endian-no-bom",
    ),
    pytest.param(
        Case(lambda: utf16("Hello, world", "utf-16"), shows=(text_of, "Hello, world")),
        id="encodings-charset-utf16-with-bom",
    ),
    pytest.param(
        Case(
            lambda: plain(b"odd\x00", charset=b"utf-16"), shows=(lambda r: len(r.text) <= 2, True)
        ),
        id="encodings-charset-utf16-odd-length",
    ),
    pytest.param(
        Case(
            lambda: attachment(
                b"attachment; filename*0*=utf-8''R%C3%A9; filename*1*=sum%C3%A9.pdf"
            ),
            shows=(first_filename, "Résumé.pdf"),
            attachments=1,
        ),
        id="encodings-rfc2231-filename-continuations",
    ),
    pytest.param(
        Case(
            lambda: attachment(b"attachment; filename*=x-bogus''%ff%fe%zz; filename*1=more"),
            attachments=1,
        ),
        id="encodings-rfc2231-broken",
    ),
    # -- content: what ends up in text columns and file names -------------------------------
    pytest.param(
        Case(lambda: plain(b"nul\x00inside\x00"), shows=(text_of, "nul\ufffdinside\ufffd")),
        id="content-nul-bytes-in-body",
    ),
    pytest.param(
        Case(
            lambda: plain(b"lone \xed\xa0\x80 surrogate"),
            shows=(text_of, "lone \ufffd\ufffd\ufffd surrogate"),
        ),
        id="content-lone-surrogate-bytes-in-body",
    ),
    pytest.param(
        Case(
            lambda: attachment(b'attachment; filename="../../etc/passwd"'),
            shows=(first_filename, ".._.._etc_passwd"),
            attachments=1,
        ),
        id="content-filename-path-traversal",
    ),
    pytest.param(
        Case(
            lambda: attachment(b'attachment; filename="C:\\\\Windows\\\\evil\x01\x1b[31m.exe"'),
            shows=(first_filename, "C:_Windows_evil[31m.exe"),
            attachments=1,
        ),
        id="content-filename-windows-path-and-control-chars",
    ),
    pytest.param(
        Case(
            lambda: attachment(b'attachment; filename=".."'),
            shows=(first_filename, None),
            attachments=1,
        ),
        id="content-filename-dot-dot-only",
    ),
    pytest.param(
        Case(
            lambda: attachment(b'attachment; filename="big.bin"', b"\xa5" * (20 * 1024 * 1024)),
            shows=(lambda r: len(r.attachments[0].content), 20 * 1024 * 1024),
            attachments=1,
        ),
        id="content-20mib-attachment",
    ),
    pytest.param(
        Case(
            lambda: mime(
                b'multipart/mixed; boundary="b"',
                b"--b\r\nContent-Type: text/csv\r\n"
                b'Content-Disposition: attachment; filename="data.csv"\r\n\r\n'
                + b"1234567890,abcdefghij\r\n" * 150_000
                + b"--b--\r\n",
            ),
            # The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
            shows=(lambda r: len(r.attachments[0].content), 23 * 150_000 - 2),
            attachments=1,
        ),
        # Not hostile: many short lines that must not trip the line bound.
        id="content-150000-line-csv-attachment",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_hostile_message_is_parsed_within_bounds(
    case: Case, request: pytest.FixtureRequest
) -> None:
    raw = case.build()

    started = time.process_time()
    result = parse_message(raw)
    cpu = time.process_time() - started
    tracemalloc.start()
    try:
        parse_message(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    print(
        f"{request.node.callspec.id}: {len(raw)} octets, "
        f"{cpu * 1e3:.1f} ms CPU, peak {peak / 2**20:.1f} MiB"
    )
    assert cpu < CPU_SECONDS
    assert peak < MEMORY_FACTOR * len(raw) + MEMORY_ALLOWANCE
    if case.subject is not None:
        assert result.subject == case.subject
    if case.shows is not None:
        extract, expected = case.shows
        assert extract(result) == expected
    if case.attachments is not None:
        assert len(result.attachments) == case.attachments
    assert set(case.defects) <= set(result.defects), result.defects
    if case.error is None:
        assert result.error is None
    else:
        assert result.error is not None
        assert case.error in result.error
    for value in (
        result.subject,
        result.text,
        result.html or "",
        result.preview,
        result.search_text,
    ):
        assert "\x00" not in value
        value.encode("utf-8")
    for item in result.attachments:
        assert item.filename is None or item.filename.isprintable()
