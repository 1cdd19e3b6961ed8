"""AUTH PLAIN and LOGIN (RFC 4954): mechanism choice and the exchanges on the wire."""

from __future__ import annotations

import base64
import logging

import pytest

from smtplib_common.client import (
    SMTPAuthenticationError,
    SMTPNotSupported,
)
from smtplib_common.client.auth import choose_mechanism, plain_response


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_plain_is_preferred_when_both_are_offered() -> None:
    assert choose_mechanism(["LOGIN", "PLAIN", "CRAM-MD5"]) == "PLAIN"


def test_login_is_used_when_it_is_the_only_one_we_support() -> None:
    assert choose_mechanism(["cram-md5", "login"]) == "LOGIN"


def test_requested_mechanism_must_be_offered() -> None:
    assert choose_mechanism(["PLAIN", "LOGIN"], "login") == "LOGIN"
    with pytest.raises(SMTPNotSupported):
        choose_mechanism(["PLAIN"], "LOGIN")


def test_requesting_a_mechanism_we_do_not_implement_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        choose_mechanism(["CRAM-MD5"], "CRAM-MD5")


def test_no_common_mechanism_is_not_supported() -> None:
    with pytest.raises(SMTPNotSupported) as caught:
        choose_mechanism(["GSSAPI", "XOAUTH2"])
    assert caught.value.extension == "AUTH"


def test_plain_response_is_authzid_nul_user_nul_password() -> None:
    # RFC 4616 §2, with an empty authorization identity.
    assert base64.b64decode(plain_response("ann", "pässword")) == "\0ann\0pässword".encode()


async def test_auth_plain_sends_the_initial_response_in_one_line(
    fake_smtp, client_for, caplog
) -> None:
    async def script(peer):
        await peer.handshake("AUTH LOGIN PLAIN")
        line = await peer.expect("AUTH PLAIN ")
        assert base64.b64decode(line.split()[2]) == b"\0ann\0hunter2"
        await peer.reply("235 2.7.0 Authentication successful")
        await peer.expect_quit()

    caplog.set_level(logging.DEBUG, logger="smtplib_common")
    server = await fake_smtp(script)
    async with client_for(server, username="ann", password="hunter2") as client:
        assert client.is_authenticated
    await server.finished()
    # Credentials never reach the logs, neither clear nor base64-encoded.
    assert "hunter2" not in caplog.text
    assert plain_response("ann", "hunter2") not in caplog.text
    assert "AUTH PLAIN [credentials]" in caplog.text


async def test_auth_login_answers_the_user_and_password_prompts(fake_smtp, client_for) -> None:
    async def script(peer):
        await peer.handshake("AUTH LOGIN")
        await peer.expect("AUTH LOGIN\r\n")
        await peer.reply("334 VXNlcm5hbWU6")  # "Username:"
        assert (await peer.readline()).strip() == b64("ann").encode()
        await peer.reply("334 UGFzc3dvcmQ6")  # "Password:"
        assert (await peer.readline()).strip() == b64("hunter2").encode()
        await peer.reply("235 2.7.0 OK")
        await peer.expect_quit()

    server = await fake_smtp(script)
    async with client_for(server, username="ann", password="hunter2") as client:
        assert client.is_authenticated
    await server.finished()


async def test_long_plain_credentials_wait_for_an_empty_challenge(fake_smtp, client_for) -> None:
    password = "p" * 600  # RFC 4954 §4: the AUTH line would exceed 512 octets

    async def script(peer):
        await peer.handshake("AUTH PLAIN")
        await peer.expect("AUTH PLAIN\r\n")
        await peer.reply("334 ")
        line = await peer.readline()
        assert base64.b64decode(line.strip()) == f"\0ann\0{password}".encode()
        await peer.reply("235 2.7.0 OK")
        await peer.expect_quit()

    server = await fake_smtp(script)
    async with client_for(server, username="ann", password=password) as client:
        assert client.is_authenticated
    await server.finished()


async def test_wrong_credentials_raise_authentication_error_and_keep_the_session(
    fake_smtp, client_for
) -> None:
    async def script(peer):
        await peer.handshake("AUTH PLAIN")
        await peer.expect("AUTH PLAIN ")
        await peer.reply("535 5.7.8 Authentication credentials invalid")
        await peer.expect("NOOP")
        await peer.reply("250 2.0.0 OK")
        await peer.expect_quit()

    server = await fake_smtp(script)
    async with client_for(server) as client:
        with pytest.raises(SMTPAuthenticationError) as caught:
            await client.login("ann", "wrong")
        assert (caught.value.code, caught.value.response.status) == (535, "5.7.8")
        assert not client.is_authenticated
        assert (await client.noop()).code == 250
    await server.finished()


async def test_an_unexpected_extra_challenge_is_cancelled_with_a_star(
    fake_smtp, client_for
) -> None:
    async def script(peer):
        await peer.handshake("AUTH PLAIN")
        await peer.expect("AUTH PLAIN ")
        await peer.reply("334 bW9yZT8=")
        await peer.expect("*\r\n")  # RFC 4954 §4: the client cancels
        await peer.reply("501 5.7.0 Authentication cancelled")
        await peer.expect_quit()

    server = await fake_smtp(script)
    async with client_for(server) as client:
        with pytest.raises(SMTPAuthenticationError, match="extra challenge"):
            await client.login("ann", "pw")
    await server.finished()


async def test_auth_when_the_server_offers_none_is_not_supported(
    fake_smtp, client_for, scripted
) -> None:
    server = await fake_smtp(scripted())
    client = client_for(server, username="ann", password="pw")
    with pytest.raises(SMTPNotSupported) as caught:
        await client.connect()
    assert caught.value.extension == "AUTH"
    assert not client.is_connected


async def test_auth_happens_after_starttls_on_connect(
    fake_smtp, client_for, server_tls, client_tls
) -> None:
    async def script(peer):
        await peer.handshake("STARTTLS")  # no AUTH in clear text
        await peer.expect("STARTTLS")
        await peer.reply("220 2.0.0 ready")
        await peer.start_tls(server_tls)
        await peer.expect("EHLO ")
        await peer.reply("250-fake.test", "250 AUTH LOGIN")
        await peer.expect("AUTH LOGIN")
        await peer.reply("334 VXNlcm5hbWU6")
        await peer.readline()
        await peer.reply("334 UGFzc3dvcmQ6")
        await peer.readline()
        await peer.reply("235 2.7.0 OK")
        await peer.expect_quit()

    server = await fake_smtp(script)
    async with client_for(
        server,
        host="localhost",
        starttls=True,
        ssl_context=client_tls,
        username="ann",
        password="pw",
    ) as client:
        assert client.is_tls
        assert client.is_authenticated
    await server.finished()
