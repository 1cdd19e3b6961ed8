"""Interop with ``swaks``, the Swiss Army Knife for SMTP (a Perl client)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from smtplib_common import replies
from smtplib_common.server import Credentials, ServerConfig, Session

if TYPE_CHECKING:
    from conftest import MakeServer, Running, Trace

SWAKS = shutil.which("swaks")

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(SWAKS is None, reason="swaks is not installed (apt-get install swaks)"),
]

Config = Callable[..., ServerConfig]
Received = Callable[[bytes], "tuple[Trace, bytes]"]


async def swaks(running: Running, *args: str) -> str:
    """Run swaks against ``running``; its transcript. Fails the test unless it exits 0."""
    assert SWAKS is not None
    process = await asyncio.create_subprocess_exec(
        SWAKS,
        "--server",
        f"127.0.0.1:{running.port}",
        "--helo",
        "client.test",
        "--from",
        "alice@example.test",
        "--timeout",
        "10",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(30):
        out, _ = await process.communicate()
    transcript = out.decode("utf-8", "replace")
    assert process.returncode == 0, transcript
    return transcript


async def accept_alice(session: Session, credentials: Credentials) -> bool:
    return (credentials.username, credentials.password) == ("alice", "secret")


async def test_plain_message_with_body(server: Running) -> None:
    await swaks(server, "--to", "bob@example.test", "--body", "Hello from swaks")

    (delivery,) = server.deliveries
    assert delivery.envelope.mail_from == "alice@example.test"
    assert delivery.envelope.rcpt_tos == ["bob@example.test"]
    content = server.contents[0]
    assert b"\r\n\r\nHello from swaks\r\n" in content
    assert b"\r\nTo: bob@example.test\r\n" in content


async def test_several_recipients_with_pipelining(server: Running) -> None:
    transcript = await swaks(
        server, "--pipeline", "--to", "bob@example.test,carol@example.test", "--body", "piped"
    )

    # swaks pipelined: all four commands went out before the first reply came.
    lines = transcript.splitlines()
    assert lines.index(" -> DATA") < lines.index(f"<-  {replies.SENDER_OK}")
    assert server.deliveries[0].envelope.rcpt_tos == ["bob@example.test", "carol@example.test"]
    assert b"\r\n\r\npiped\r\n" in server.contents[0]


async def test_data_file_with_dot_lines_is_unstuffed(server: Running, tmp_path: Path) -> None:
    content = (
        b"Subject: dots\r\n\r\n.one leading dot\r\n..two leading dots\r\n. dot space\r\nlast\r\n"
    )
    data = tmp_path / "message.eml"
    data.write_bytes(content)

    transcript = await swaks(server, "--to", "bob@example.test", "--data", f"@{data}")

    # swaks dot-stuffed the file on the wire ...
    assert " -> ...two leading dots" in transcript.splitlines()
    # ... and ends the data with an empty line of its own before the dot.
    assert server.contents == [content + b"\r\n"]


async def test_starttls(
    make_server: MakeServer, server_tls: ssl.SSLContext, received: Received
) -> None:
    running = await make_server(tls_context=server_tls)

    # swaks does not verify certificates unless asked (--tls-verify).
    await swaks(running, "--tls", "--to", "bob@example.test", "--body", "secret stuff")

    (delivery,) = running.deliveries
    assert delivery.session.tls
    assert received(delivery.message)[0].protocol == "ESMTPS"
    assert b"\r\n\r\nsecret stuff\r\n" in running.contents[0]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_auth_over_starttls(
    make_server: MakeServer, server_tls: ssl.SSLContext, received: Received, mechanism: str
) -> None:
    running = await make_server(tls_context=server_tls, authenticate=accept_alice)

    await swaks(
        running,
        "--tls",
        "--auth",
        mechanism,
        "--auth-user",
        "alice",
        "--auth-password",
        "secret",
        "--to",
        "bob@example.test",
    )

    (delivery,) = running.deliveries
    assert delivery.session.authenticated_as == "alice"
    assert delivery.session.auth_mechanism == mechanism
    assert received(delivery.message)[0].protocol == "ESMTPSA"


async def test_auth_in_plaintext_when_allowed(make_server: MakeServer, config: Config) -> None:
    running = await make_server(config(auth_require_tls=False), authenticate=accept_alice)

    await swaks(
        running,
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice",
        "--auth-password",
        "secret",
        "--to",
        "bob@example.test",
    )

    assert running.deliveries[0].session.authenticated_as == "alice"


async def test_wrong_password_makes_swaks_fail(make_server: MakeServer, config: Config) -> None:
    running = await make_server(config(auth_require_tls=False), authenticate=accept_alice)

    with pytest.raises(AssertionError, match="535"):
        await swaks(
            running,
            "--auth",
            "LOGIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "wrong",
            "--to",
            "bob@example.test",
        )
    assert running.deliveries == []
