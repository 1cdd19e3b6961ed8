"""BINARY, BINARY.PEEK and BINARY.SIZE (RFC 3516) over real sockets, on the in-memory backend."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Client, Server

USER = "alice@example.org"
PAYLOAD = b"\x00\x01binary\xff" * 20
MESSAGE = (
    b"From: bob@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"caf=C3=A9 =\r\nsoft\r\n"
    b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(PAYLOAD).replace(b"\n", b"\r\n")
    + b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
    b"begin 644 x\r\n`\r\nend\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
    b"--b--\r\n"
)


@pytest.fixture
async def client(server: Server) -> Client:
    server.backend.deliver(USER, MESSAGE)
    return await server.logged_in()


async def test_binary_is_advertised(server: Server) -> None:
    client = await server.logged_in(select=None)

    line = client.untagged(await client.ok("CAPABILITY"), b"CAPABILITY")[0]

    assert b"BINARY" in line.split(b" ")


@pytest.mark.parametrize(
    ("items", "answer"),
    [
        ("BINARY.PEEK[1]", b"* 1 FETCH (BINARY[1] {10}\r\ncaf\xc3\xa9 soft)"),
        ("BINARY.SIZE[1]", b"* 1 FETCH (BINARY.SIZE[1] 10)"),
        ("BINARY.SIZE[2]", b"* 1 FETCH (BINARY.SIZE[2] %d)" % len(PAYLOAD)),
        ("BINARY.PEEK[2]", b"* 1 FETCH (BINARY[2] ~{%d}\r\n%s)" % (len(PAYLOAD), PAYLOAD)),
        ("BINARY.PEEK[2]<2.6>", b"* 1 FETCH (BINARY[2]<2> {6}\r\nbinary)"),
        ("BINARY.PEEK[4]", b"* 1 FETCH (BINARY[4] {5}\r\nplain)"),
        ("BINARY.SIZE[]", b"* 1 FETCH (BINARY.SIZE[] %d)" % len(MESSAGE)),
    ],
)
async def test_binary_items(client: Client, items: str, answer: bytes) -> None:
    lines = await client.ok(f"FETCH 1 ({items})")

    assert lines[0] == answer


async def test_an_unknown_transfer_encoding_is_no_unknown_cte(client: Client) -> None:
    lines = await client.command("FETCH 1 (BINARY.PEEK[3])")

    assert lines[-1].split(b" ")[1:3] == [b"NO", b"[UNKNOWN-CTE]"]
    assert len(lines) == 1  # refused before any FETCH response


async def test_binary_sets_seen_and_peek_does_not(client: Client) -> None:
    peek = await client.ok("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[2])")
    seen = await client.ok("FETCH 1 (BINARY[1])")

    assert b"\\Seen" not in b"".join(peek)
    assert b"FLAGS (\\Recent \\Seen)" in seen[0]


async def test_imap4rev2_sessions_take_binary(server: Server) -> None:
    server.backend.deliver(USER, MESSAGE)
    client = await server.logged_in(select=None)
    await client.ok("ENABLE IMAP4rev2")
    await client.ok("SELECT INBOX")

    lines = await client.ok("UID FETCH 1 (BINARY.SIZE[1])")

    assert lines[0] == b"* 1 FETCH (UID 1 BINARY.SIZE[1] 10)"


async def test_nul_goes_as_literal8_in_binary_and_as_0x80_in_body(server: Server) -> None:
    """imaptest's append-binary: an APPENDed literal8 holding NUL comes back whole from
    BINARY (RFC 3516 §4.2), while BODY, a plain literal, cannot hold NUL (RFC 9051 §4.3)."""
    message = (
        b"From: user@domain.org\r\nMime-Version: 1.0\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
        b"\r\n\x00-\xe4\r\n\r\n"
    )
    client = await server.logged_in(select=None)
    await client.ok(b"APPEND INBOX ~{%d+}\r\n" % len(message) + message)
    await client.ok("SELECT INBOX")

    binary = await client.ok("FETCH 1 (BINARY.PEEK[1])")
    body = await client.ok("FETCH 1 (BODY.PEEK[1])")

    assert binary[0] == b"* 1 FETCH (BINARY[1] ~{7}\r\n\x00-\xe4\r\n\r\n)"
    assert body[0] == b"* 1 FETCH (BODY[1] {7}\r\n\x80-\xe4\r\n\r\n)"
