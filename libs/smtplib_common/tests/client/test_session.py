"""Session behaviour against a scripted peer: greeting, EHLO/HELO, TLS, failures."""

from __future__ import annotations

import asyncio
import socket
import ssl

import pytest

from smtplib_common.client import (
    SMTPClient,
    SMTPConnectError,
    SMTPMalformedReply,
    SMTPNotSupported,
    SMTPResponseError,
    SMTPServerDisconnected,
    SMTPTimeoutError,
    SMTPUnexpectedReply,
)


async def test_session_says_ehlo_with_an_address_literal_and_quits_on_exit(
    fake_smtp, client_for, scripted
) -> None:
    script = scripted()
    server = await fake_smtp(script)
    async with client_for(server) as client:
        assert client.greeting is not None
        assert client.greeting.code == 220
        assert client.is_esmtp
        assert client.supports("pipelining")
        assert client.max_message_size == 10240000
    assert not client.is_connected
    await server.finished()
    # RFC 5321 §4.1.4: without a configured name, our address as a literal.
    assert script.commands == ["EHLO [127.0.0.1]", "QUIT"]


async def test_configured_local_hostname_is_used_in_ehlo(fake_smtp, client_for, scripted) -> None:
    script = scripted()
    server = await fake_smtp(script)
    async with client_for(server, local_hostname="client.example.org"):
        pass
    assert script.commands[0] == "EHLO client.example.org"


async def test_ehlo_refused_with_5xx_falls_back_to_helo(fake_smtp, client_for) -> None:
    async def script(peer):
        await peer.reply("220 old.test SMTP")
        await peer.expect("EHLO ")
        await peer.reply("502 5.5.1 EHLO not implemented")
        await peer.expect("HELO ")
        await peer.reply("250 old.test")
        await peer.expect("NOOP")
        await peer.reply("250 OK")
        await peer.expect_quit()

    server = await fake_smtp(script)
    async with client_for(server) as client:
        assert not client.is_esmtp
        assert dict(client.extensions) == {}
        assert (await client.noop()).code == 250
    await server.finished()


async def test_ehlo_refused_with_4xx_is_an_error_not_a_fallback(fake_smtp, client_for) -> None:
    async def script(peer):
        await peer.reply("220 busy.test ESMTP")
        await peer.expect("EHLO ")
        await peer.reply("451 4.3.0 try later")
        await peer.expect_quit()

    server = await fake_smtp(script)
    client = client_for(server)
    with pytest.raises(SMTPResponseError) as caught:
        await client.connect()
    assert caught.value.code == 451
    assert not client.is_connected
    await server.finished()


async def test_554_greeting_raises_connect_error_after_quit(fake_smtp, client_for) -> None:
    async def script(peer):
        await peer.reply("554 5.7.1 no service for you")
        await peer.expect_quit()

    server = await fake_smtp(script)
    client = client_for(server)
    with pytest.raises(SMTPConnectError) as caught:
        await client.connect()
    assert caught.value.response is not None
    assert caught.value.response.code == 554
    assert not client.is_connected
    await server.finished()


async def test_refused_tcp_connection_raises_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SMTPClient("127.0.0.1", port, connect_timeout=3)
    with pytest.raises(SMTPConnectError, match="cannot connect"):
        await client.connect()


async def test_silent_server_raises_timeout_on_greeting(fake_smtp, client_for) -> None:
    async def script(peer):
        assert await peer.at_eof()  # says nothing; waits for the client to give up

    server = await fake_smtp(script)
    client = client_for(server, connect_timeout=0.3)
    with pytest.raises(SMTPTimeoutError) as caught:
        await client.connect()
    assert isinstance(caught.value, TimeoutError)
    assert not client.is_connected
    await server.finished()


async def test_reply_timeout_raises_and_drops_the_connection(fake_smtp, client_for) -> None:
    async def script(peer):
        await peer.handshake()
        await peer.expect("NOOP")
        assert await peer.at_eof()  # never answers; the client must hang up

    server = await fake_smtp(script)
    client = client_for(server, timeout=0.3)
    await client.connect()
    with pytest.raises(SMTPTimeoutError, match="no reply"):
        await client.noop()
    assert not client.is_connected
    with pytest.raises(SMTPServerDisconnected):
        await client.noop()
    await server.finished()


async def test_server_hanging_up_mid_reply_raises_disconnected(fake_smtp, client_for) -> None:
    async def script(peer):
        await peer.handshake()
        await peer.expect("NOOP")
        await peer.send_raw(b"250-first line of two\r\n")

    server = await fake_smtp(script)
    client = client_for(server)
    await client.connect()
    with pytest.raises(SMTPServerDisconnected):
        await client.noop()
    assert not client.is_connected
    await server.finished()


@pytest.mark.parametrize(
    "garbage",
    [
        b"hello there\r\n",
        b"250 " + b"x" * 10_000 + b"\r\n",  # longer than MAX_REPLY_LINE
        b"250-a\r\n" * 600 + b"250 b\r\n",  # more than MAX_REPLY_LINES
        b"250-a\r\n251 b\r\n",  # code changes mid-reply
    ],
    ids=["not-smtp", "line-too-long", "too-many-lines", "code-changes"],
)
async def test_malformed_reply_raises_and_drops_the_connection(
    fake_smtp, client_for, garbage: bytes
) -> None:
    async def script(peer):
        await peer.handshake()
        await peer.expect("NOOP")
        await peer.send_raw(garbage)
        assert await peer.at_eof()

    server = await fake_smtp(script)
    client = client_for(server)
    await client.connect()
    with pytest.raises(SMTPMalformedReply):
        await client.noop()
    assert not client.is_connected
    await server.finished()


async def test_reply_code_the_command_never_gives_drops_the_connection(
    fake_smtp, client_for
) -> None:
    async def script(peer):
        await peer.handshake()
        await peer.expect("NOOP")
        await peer.reply("354 go ahead")  # out of step: 354 only ever answers DATA
        assert await peer.at_eof()

    server = await fake_smtp(script)
    client = client_for(server)
    await client.connect()
    with pytest.raises(SMTPUnexpectedReply) as caught:
        await client.noop()
    assert (caught.value.command, caught.value.code) == ("NOOP", 354)
    assert not client.is_connected
    await server.finished()


async def test_421_reply_closes_the_connection(fake_smtp, client_for, scripted) -> None:
    server = await fake_smtp(scripted(replies={"NOOP": "421 4.4.2 idle too long"}))
    client = client_for(server)
    await client.connect()
    with pytest.raises(SMTPResponseError) as caught:
        await client.noop()
    assert caught.value.code == 421
    assert caught.value.transient
    assert not client.is_connected


async def test_rset_noop_and_vrfy_return_their_responses(fake_smtp, client_for, scripted) -> None:
    script = scripted(replies={"VRFY": "252 2.1.5 cannot verify, will try"})
    server = await fake_smtp(script)
    async with client_for(server) as client:
        assert (await client.rset()).code == 250
        assert (await client.noop()).status == "2.0.0"
        vrfy = await client.vrfy("ann@example.org")
        assert (vrfy.code, vrfy.status, vrfy.text) == (252, "2.1.5", "cannot verify, will try")
    assert script.commands[1:] == ["RSET", "NOOP", "VRFY ann@example.org", "QUIT"]


async def test_vrfy_of_unknown_user_raises_with_the_code(fake_smtp, client_for, scripted) -> None:
    server = await fake_smtp(scripted(replies={"VRFY": "550 5.1.1 unknown"}))
    async with client_for(server) as client:
        with pytest.raises(SMTPResponseError) as caught:
            await client.vrfy("nobody")
        assert caught.value.code == 550
        assert client.is_connected  # a refusal leaves the session usable


async def test_cancelling_a_command_drops_the_connection(fake_smtp, client_for) -> None:
    async def script(peer):
        await peer.handshake()
        await peer.expect("NOOP")
        assert await peer.at_eof()

    server = await fake_smtp(script)
    client = client_for(server)
    await client.connect()
    task = asyncio.create_task(client.noop())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The NOOP reply may still arrive; it must not be read as the next reply.
    assert not client.is_connected
    await server.finished()


async def test_repr_never_shows_credentials(client_for, fake_smtp, scripted) -> None:
    server = await fake_smtp(scripted())
    client = client_for(server, username="ann", password="hunter2")
    assert "hunter2" not in repr(client)
    assert "ann" not in repr(client)


# --- TLS ----------------------------------------------------------------------


async def test_starttls_upgrades_and_forgets_clear_text_extensions(
    fake_smtp, client_for, server_tls, client_tls
) -> None:
    async def script(peer):
        await peer.handshake("STARTTLS", "SIZE 100")
        await peer.expect("STARTTLS")
        await peer.reply("220 2.0.0 ready")
        await peer.start_tls(server_tls)
        await peer.expect("EHLO ")  # RFC 3207 §4.2: EHLO again inside TLS
        await peer.reply("250-fake.test", "250 AUTH PLAIN")
        await peer.expect_quit()

    server = await fake_smtp(script)
    async with client_for(
        server, host="localhost", starttls=True, ssl_context=client_tls
    ) as client:
        assert client.is_tls
        assert dict(client.extensions) == {"AUTH": "PLAIN"}
    await server.finished()


async def test_starttls_required_but_not_offered_raises_not_supported(
    fake_smtp, client_for, scripted, client_tls
) -> None:
    script = scripted()
    server = await fake_smtp(script)
    client = client_for(server, starttls=True, ssl_context=client_tls)
    with pytest.raises(SMTPNotSupported) as caught:
        await client.connect()
    assert caught.value.extension == "STARTTLS"
    assert not client.is_connected
    await server.finished()
    assert script.commands[-1] == "QUIT"  # no mail goes out in clear text


async def test_starttls_refused_raises_with_the_code(fake_smtp, client_for, scripted) -> None:
    server = await fake_smtp(
        scripted(extensions=("STARTTLS",), replies={"STARTTLS": "454 4.7.0 TLS not available"})
    )
    client = client_for(server, starttls=True)
    with pytest.raises(SMTPResponseError) as caught:
        await client.connect()
    assert caught.value.code == 454


async def test_starttls_with_an_untrusted_certificate_fails_to_connect(
    fake_smtp, client_for, server_tls
) -> None:
    async def script(peer):
        await peer.handshake("STARTTLS")
        await peer.expect("STARTTLS")
        await peer.reply("220 2.0.0 ready")
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await peer.start_tls(server_tls)  # the client rejects our certificate

    server = await fake_smtp(script)
    client = client_for(server, host="localhost", starttls=True)  # system CAs only
    with pytest.raises(SMTPConnectError, match="TLS handshake failed"):
        await client.connect()
    assert not client.is_connected
    await server.finished()


async def test_clear_text_injected_after_the_starttls_220_is_refused(
    fake_smtp, client_for, client_tls
) -> None:
    async def script(peer):
        await peer.handshake("STARTTLS")
        await peer.expect("STARTTLS")
        # A man in the middle appends a reply that would be read inside TLS.
        await peer.send_raw(b"220 2.0.0 ready\r\n250-evil\r\n250 AUTH PLAIN\r\n")
        assert await peer.at_eof()

    server = await fake_smtp(script)
    client = client_for(server, host="localhost", starttls=True, ssl_context=client_tls)
    with pytest.raises(SMTPMalformedReply, match="injection"):
        await client.connect()
    assert not client.is_connected
    await server.finished()


async def test_implicit_tls_connects_before_the_greeting(
    fake_smtp, client_for, scripted, server_tls, client_tls
) -> None:
    script = scripted()
    server = await fake_smtp(script, ssl_context=server_tls)
    async with client_for(
        server, host="localhost", implicit_tls=True, ssl_context=client_tls
    ) as client:
        assert client.is_tls
        result = await client.send_message("a@x.test", "b@y.test", "tls", "secret\n")
        assert list(result.accepted) == ["b@y.test"]
    assert script.messages[0].data.endswith(b"secret\r\n")


async def test_implicit_tls_to_a_clear_text_server_fails_cleanly(
    fake_smtp, client_for, client_tls
) -> None:
    async def script(peer):
        await peer.reply("220 clear.test ESMTP")
        assert (await peer.read_until_eof()).startswith(b"\x16\x03")  # a TLS ClientHello

    server = await fake_smtp(script)
    client = client_for(server, host="localhost", implicit_tls=True, ssl_context=client_tls)
    with pytest.raises(SMTPConnectError):
        await client.connect()
    assert not client.is_connected
    await server.finished()


def test_implicit_tls_and_starttls_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="exclude"):
        SMTPClient("h", implicit_tls=True, starttls=True, ssl_context=ssl.create_default_context())
