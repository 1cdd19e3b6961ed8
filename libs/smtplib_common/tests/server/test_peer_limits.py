"""The per-source limits over real sockets: connections (shared by listeners),
new connections per minute, and commands before MAIL (server.peers)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import AuthResult, Credentials, ServerConfig, Session
from smtplib_common.server.peers import PeerLimits

if TYPE_CHECKING:
    from conftest import Connect, LineClient, MakeServer

Config = Callable[..., ServerConfig]
Plain = Callable[[Reply], Reply]

WITHIN = 10.0  # every wait is bounded: a count that is never released fails the test


async def eventually(predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WITHIN
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def refused_at_connect(connect: Connect, port: int, plain: Plain, reply: Reply) -> None:
    """The connection is answered ``reply`` (no enhanced code: it is the greeting,
    RFC 2034 §3) and closed."""
    client = await connect(port)
    assert client.greeting == plain(reply)
    assert await client.read_rest() == b""


# --- connections per source, across listeners ------------------------------


async def test_limits_hold_across_two_listeners_sharing_a_tracker(
    make_server: MakeServer, connect: Connect, plain: Plain
) -> None:
    shared = PeerLimits(max_connections=2, max_rate=None)
    delivery = await make_server(peer_limits=shared)
    submission = await make_server(peer_limits=shared)
    first = await connect(delivery)
    await connect(submission)
    assert first.greeting is not None
    assert first.greeting.code == 220

    await refused_at_connect(
        connect, submission.port, plain, replies.TOO_MANY_CONNECTIONS_FROM_PEER
    )
    await refused_at_connect(connect, delivery.port, plain, replies.TOO_MANY_CONNECTIONS_FROM_PEER)
    assert (await first.command("QUIT")).code == 221
    assert await eventually(lambda: shared.open_connections("127.0.0.1") == 1)
    again = await connect(submission)
    assert again.greeting is not None
    assert again.greeting.code == 220


async def test_new_connections_past_the_rate_are_421_at_connect(
    make_server: MakeServer, connect: Connect, config: Config, plain: Plain
) -> None:
    running = await make_server(config(max_connection_rate_per_peer=2))
    for _ in range(2):
        client = await connect(running)
        assert (await client.command("QUIT")).code == 221
        await client.close()

    await refused_at_connect(connect, running.port, plain, replies.CONNECTION_RATE_EXCEEDED)


async def _quit(client: LineClient, running: object) -> None:
    assert (await client.command("QUIT")).code == 221


async def _drop(client: LineClient, running: object) -> None:
    await client.send("EHLO client.test", "MAIL FROM:<a@example.test>")
    await client.close()


async def _reset(client: LineClient, running: object) -> None:
    await client.write(b"EHLO client.test\r\nMAIL FROM:<a@exa")
    client.writer.transport.abort()


async def _idle(client: LineClient, running: object) -> None:
    # Before EHLO: no enhanced code (RFC 2034 §3).
    assert await client.read_reply() == dataclasses.replace(replies.IDLE_TIMEOUT, status=None)


async def _stop(client: LineClient, running: object) -> None:
    await running.server.stop(grace=0.5)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "end",
    [_quit, _drop, _reset, _idle, _stop],
    ids=["quit", "client-closes", "client-resets", "idle-timeout", "server-stops"],
)
async def test_the_count_is_released_on_every_close_path(
    make_server: MakeServer, connect: Connect, config: Config, end: Callable[..., object]
) -> None:
    shared = PeerLimits(max_connections=3, max_rate=None)
    # Long enough that three connects on a loaded machine finish before it fires.
    running = await make_server(config(idle_timeout=0.8), peer_limits=shared)
    clients = [await connect(running) for _ in range(3)]
    assert shared.open_connections("127.0.0.1") == 3

    for client in clients:
        await end(client, running)  # type: ignore[misc]

    assert await eventually(lambda: shared.sources == 0), shared.open_connections("127.0.0.1")


async def test_a_refused_connection_is_not_counted(
    make_server: MakeServer, connect: Connect, plain: Plain
) -> None:
    shared = PeerLimits(max_connections=1, max_rate=None)
    running = await make_server(peer_limits=shared)
    held = await connect(running)
    for _ in range(3):
        await refused_at_connect(
            connect, running.port, plain, replies.TOO_MANY_CONNECTIONS_FROM_PEER
        )
    assert shared.open_connections("127.0.0.1") == 1
    await held.command("QUIT")
    assert await eventually(lambda: shared.sources == 0)


# --- commands before MAIL ------------------------------------------------------


async def test_rset_noop_help_loop_without_mail_is_421_and_closed(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    client = await connect(await make_server(config(max_commands_before_mail=5)))
    got = await client.send("EHLO client.test", "NOOP", "RSET", "HELP", "VRFY bob")

    assert [r.code for r in got] == [250, 250, 250, 214, 252]
    assert await client.command("NOOP") == replies.TOO_MANY_COMMANDS_BEFORE_MAIL
    assert await client.read_rest() == b""


async def test_a_mail_rset_loop_counts_each_mail(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    client = await connect(await make_server(config(max_commands_before_mail=3)))
    mail = "MAIL FROM:<a@example.test>"
    got = await client.send("EHLO client.test", mail, "RSET", mail, "RSET", mail)

    assert got[0].code == 250
    assert got[1:] == [
        replies.SENDER_OK,
        replies.RESET_OK,
        replies.SENDER_OK,
        replies.RESET_OK,
        replies.TOO_MANY_COMMANDS_BEFORE_MAIL,
    ]


async def test_an_accepted_message_starts_the_count_again(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    running = await make_server(config(max_commands_before_mail=3))
    client = await connect(running)
    await client.send("EHLO client.test", "NOOP")
    for _ in range(3):  # MAIL is the third command each time, then the count restarts
        got = await client.send(
            "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", n=3
        )
        assert [r.code for r in got] == [250, 250, 354]
        assert (await client.command(b"Subject: x\r\n\r\nhi\r\n.\r\n")).code == 250
        assert await client.command("NOOP") == replies.OK
        assert await client.command("NOOP") == replies.OK
    assert len(running.deliveries) == 3


async def test_quit_is_answered_221_at_the_limit(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    client = await connect(await make_server(config(max_commands_before_mail=2)))
    got = await client.send("EHLO client.test", "NOOP", "QUIT")

    assert got[1:] == [replies.OK, replies.CLOSING]


async def test_malformed_lines_are_left_to_the_error_limit(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    client = await connect(await make_server(config(max_commands_before_mail=2, max_errors=5)))
    got = await client.send("EHLO client.test", *["BOGUS"] * 3, "NOOP")

    assert got[1:] == [replies.COMMAND_UNRECOGNIZED] * 3 + [replies.OK]


async def test_an_authenticated_session_is_not_counted(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    """A submission client (the web service's pool) sends RSET or NOOP between
    messages; once logged in, only max_junk_commands applies to it."""

    async def authenticate(session: Session, credentials: Credentials) -> AuthResult:
        return AuthResult(success=True)

    running = await make_server(
        config(max_commands_before_mail=2, auth_require_tls=False), authenticate=authenticate
    )
    client = await connect(running)
    token = base64.b64encode(b"\0alice\0secret").decode()
    got = await client.send("EHLO client.test", f"AUTH PLAIN {token}", *["NOOP", "RSET"] * 5)

    assert got[1] == replies.AUTH_SUCCEEDED
    assert got[2:] == [replies.OK, replies.RESET_OK] * 5
