"""Content-Transfer-Encoding undone chunk by chunk, for BINARY[part] (RFC 3516)."""

from __future__ import annotations

import base64
import quopri

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imap_gateway.binary import UnknownTransferEncoding, decoder, transfer_encoding


def decoded(encoding: str, chunks: list[bytes]) -> bytes:
    d = decoder(encoding)
    return b"".join(d.feed(chunk) for chunk in chunks) + d.finish()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@given(st.binary(max_size=300), st.lists(st.integers(0, 500), max_size=6))
def test_base64_in_any_chunks(data: bytes, cuts: list[int]) -> None:
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")

    assert decoded("base64", split(encoded, cuts)) == data


@given(st.binary(max_size=300), st.lists(st.integers(0, 500), max_size=6))
def test_quoted_printable_in_any_chunks(data: bytes, cuts: list[int]) -> None:
    encoded = quopri.encodestring(data)  # its line ends are LF: data may hold CR and LF

    assert decoded("quoted-printable", split(encoded, cuts)) == data


@pytest.mark.parametrize(
    ("encoding", "chunks", "data"),
    [
        ("base64", [b"aGVs", b"bG8=\r\n"], b"hello"),
        ("base64", [b"aGVsbG8", b""], b"hello"),  # padding missing
        ("base64", [b"aG Vs*bG8=\r\n"], b"hello"),  # RFC 2045 §6.8: other characters ignored
        ("base64", [b"aGVsbG8=", b"aGk="], b"hello"),  # nothing after the padding
        ("base64", [b"aGVs", b"b"], b"hel"),  # one sextet left: no octet
        ("quoted-printable", [b"a=3D", b"b   \r\nc=\r", b"\nd=\r\n"], b"a=b\r\ncd"),
        ("quoted-printable", [b"x \t=  \r\ny \r\n"], b"x \ty\r\n"),  # RFC 2045 §6.7 (3)
        ("quoted-printable", [b"bad=ZZ"], b"bad=ZZ"),
        ("7bit", [b"as", b" is\0"], b"as is\0"),
        ("8bit", [b"\xff"], b"\xff"),
        ("binary", [b"\0"], b"\0"),
    ],
)
def test_decoding(encoding: str, chunks: list[bytes], data: bytes) -> None:
    assert decoded(encoding, chunks) == data


@pytest.mark.parametrize("encoding", ["x-uuencode", "base-64", ""])
def test_an_unknown_encoding_is_refused(encoding: str) -> None:
    with pytest.raises(UnknownTransferEncoding):
        decoder(encoding)


@pytest.mark.parametrize(
    ("header", "encoding"),
    [
        (b"Content-Type: text/plain\r\n\r\n", "7bit"),
        (b"Content-Transfer-Encoding:  BASE64 \r\n\r\n", "base64"),
        (b"content-transfer-encoding: Quoted-Printable\r\n\r\n", "quoted-printable"),
    ],
)
def test_transfer_encoding(header: bytes, encoding: str) -> None:
    assert transfer_encoding(header) == encoding
