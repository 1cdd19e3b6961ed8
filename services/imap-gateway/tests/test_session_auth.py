"""Greeting, capabilities, LOGIN and AUTHENTICATE, STARTTLS policy, state guards, LOGOUT."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from imap_gateway.wire import codes

if TYPE_CHECKING:
    from conftest import Server

    ServerFactory = Callable[..., Awaitable[Server]]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_greeting_carries_capabilities_with_both_revisions(server: Server) -> None:
    client = await server.connect(greeting=False)

    greeting = await client.response()

    assert greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")
    assert b"AUTH=PLAIN" in greeting
    assert b"LOGINDISABLED" not in greeting


async def test_untrusted_client_without_tls_sees_logindisabled_and_login_is_refused(
    make_server: ServerFactory,
) -> None:
    server = await make_server(trusted=False)
    client = await server.connect()

    caps = await client.ok("CAPABILITY")
    refused = await client.command(f'LOGIN {client.USER} "{client.PASSWORD}"')
    plain = b64(f"\0{client.USER}\0{client.PASSWORD}".encode())
    refused_sasl = await client.command(f"AUTHENTICATE PLAIN {plain}")

    assert codes.CAP_LOGINDISABLED.encode() in caps[0]
    assert b"AUTH=PLAIN" not in caps[0]
    assert refused[-1].endswith(b"NO [PRIVACYREQUIRED] LOGIN is disabled before STARTTLS")
    assert b"NO [PRIVACYREQUIRED]" in refused_sasl[-1]


async def test_login_then_capability_lists_the_extensions(server: Server) -> None:
    client = await server.connect()

    login = await client.ok(f'LOGIN {client.USER} "{client.PASSWORD}"')
    caps = (await client.ok("CAPABILITY"))[0].split(b" ")

    assert login[-1].split(b" ")[2] == b"[CAPABILITY"
    for name in (codes.CAP_IDLE, codes.CAP_UIDPLUS, codes.CAP_MOVE, codes.CAP_QRESYNC):
        assert name.encode() in caps
    assert b"APPENDLIMIT=26214400" in caps


async def test_wrong_password_is_no_authenticationfailed(server: Server) -> None:
    client = await server.connect()

    lines = await client.command(f'LOGIN {client.USER} "wrong"')

    assert b"NO [AUTHENTICATIONFAILED]" in lines[-1]


async def test_too_many_failures_are_throttled_with_unavailable(server: Server) -> None:
    client = await server.connect()
    for _ in range(server.backend.max_failures):
        await client.command(f'LOGIN {client.USER} "wrong"')

    lines = await client.command(f'LOGIN {client.USER} "{client.PASSWORD}"')

    assert b"NO [UNAVAILABLE]" in lines[-1]


async def test_disabled_account_is_no_contactadmin(server: Server) -> None:
    client = await server.connect()
    server.backend.accounts[client.USER].disabled = True

    lines = await client.command(f'LOGIN {client.USER} "{client.PASSWORD}"')

    assert b"NO [CONTACTADMIN]" in lines[-1]


async def test_authenticate_plain_with_initial_response(server: Server) -> None:
    client = await server.connect()
    plain = b64(f"\0{client.USER}\0{client.PASSWORD}".encode())

    lines = await client.command(f"AUTHENTICATE PLAIN {plain}")

    assert client.status_of(lines) == b"OK"


async def test_authenticate_plain_with_continuation(server: Server) -> None:
    client = await server.connect()
    await client.send("a1 AUTHENTICATE PLAIN\r\n")

    challenge = await client.response()
    await client.send(b64(f"\0{client.USER}\0{client.PASSWORD}".encode()) + "\r\n")
    lines = await client.until_tagged("a1")

    assert challenge == b"+ "
    assert client.status_of(lines) == b"OK"


async def test_authenticate_login_asks_user_then_password(server: Server) -> None:
    client = await server.connect()
    await client.send("a1 AUTHENTICATE LOGIN\r\n")

    first = await client.response()
    await client.send(b64(client.USER.encode()) + "\r\n")
    second = await client.response()
    await client.send(b64(client.PASSWORD.encode()) + "\r\n")
    lines = await client.until_tagged("a1")

    assert first == b"+ " + base64.b64encode(b"Username:")
    assert second == b"+ " + base64.b64encode(b"Password:")
    assert client.status_of(lines) == b"OK"


async def test_authenticate_cancelled_with_star_is_bad_and_session_goes_on(server: Server) -> None:
    client = await server.connect()
    await client.send("a1 AUTHENTICATE PLAIN\r\n")
    await client.response()

    await client.send("*\r\n")
    lines = await client.until_tagged("a1")
    after = await client.command("NOOP")

    assert client.status_of(lines) == b"BAD"
    assert client.status_of(after) == b"OK"


async def test_plain_acting_as_someone_else_is_authorizationfailed(server: Server) -> None:
    client = await server.connect()
    plain = b64(f"root\0{client.USER}\0{client.PASSWORD}".encode())

    lines = await client.command(f"AUTHENTICATE PLAIN {plain}")

    assert b"NO [AUTHORIZATIONFAILED]" in lines[-1]


async def test_unknown_mechanism_is_no(server: Server) -> None:
    client = await server.connect()

    lines = await client.command("AUTHENTICATE CRAM-MD5")

    assert client.status_of(lines) == b"NO"


async def test_commands_of_other_states_are_bad(server: Server) -> None:
    client = await server.connect()

    before_login = await client.command("SELECT INBOX")
    await client.login()
    fetch_unselected = await client.command("FETCH 1 FLAGS")
    login_again = await client.command(f'LOGIN {client.USER} "{client.PASSWORD}"')

    assert client.status_of(before_login) == b"BAD"
    assert client.status_of(fetch_unselected) == b"BAD"
    assert client.status_of(login_again) == b"BAD"


async def test_garbage_is_bad_and_never_drops_the_connection(server: Server) -> None:
    client = await server.connect()

    unknown = await client.command("FROB 1 2 3")
    await client.send(b"\r\n")
    empty = await client.response()
    broken = await client.command("LOGIN onlyone")
    noop = await client.command("NOOP")

    assert client.status_of(unknown) == b"BAD"
    assert empty.startswith(b"* BAD")
    assert client.status_of(broken) == b"BAD"
    assert client.status_of(noop) == b"OK"


async def test_logout_sends_bye_then_ok_and_closes(server: Server) -> None:
    client = await server.logged_in()

    lines = await client.command("LOGOUT")

    assert lines[0].startswith(b"* BYE")
    assert client.status_of(lines) == b"OK"
    assert await client.closed()


async def test_id_answers_the_server_name(server: Server) -> None:
    client = await server.connect()

    lines = await client.ok('ID ("name" "test")')

    assert lines[0] == b'* ID ("name" "Localpost")'


async def test_enable_imap4rev2_and_qresync_reports_what_it_turned_on(server: Server) -> None:
    client = await server.logged_in(select=None)

    first = await client.ok("ENABLE IMAP4rev2 QRESYNC X-UNKNOWN")
    again = await client.ok("ENABLE IMAP4rev2")

    assert first[0] == b"* ENABLED IMAP4rev2 QRESYNC"
    assert again[0] == b"* ENABLED"
