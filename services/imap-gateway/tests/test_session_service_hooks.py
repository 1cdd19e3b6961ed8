"""What the session gives a service: pacing, the login timeout, events, graceful stop."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from imap_gateway.backend import FolderStatus
from imap_gateway.memory import MemoryUser
from imap_gateway.session import LiveSessions, SessionSettings
from imap_gateway.session.errors import Answer
from imap_gateway.session.pacing import CommandPace
from imap_gateway.session.state import Session, State

if TYPE_CHECKING:
    from conftest import HeldStatus, ServerFactory

TIMEOUT = 5.0  # a bound on waiting, never a timing assertion


def test_pace_lets_a_burst_through_then_spaces_commands_by_the_rate() -> None:
    pace = CommandPace(rate=10.0, burst=3, now=0.0)

    delays = [pace.delay(0.0) for _ in range(5)]

    assert delays == [0.0, 0.0, 0.0, pytest.approx(0.1), pytest.approx(0.2)]


def test_pace_refills_with_time_up_to_the_burst() -> None:
    pace = CommandPace(rate=10.0, burst=2, now=0.0)
    pace.delay(0.0)
    pace.delay(0.0)

    assert pace.delay(0.1) == 0.0
    assert pace.delay(100.0) == 0.0
    assert pace.delay(100.0) == 0.0
    assert pace.delay(100.0) > 0.0


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_pace_refuses_a_useless_limit(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        CommandPace(rate=rate, burst=burst, now=0.0)


class Recorder(LiveSessions):
    def __init__(self) -> None:
        super().__init__()
        self.answers: list[tuple[str, str]] = []
        self.paced_count = 0
        self.octets = 0

    def answered(self, s: Session, command: str, answer: Answer) -> None:
        self.answers.append((command, answer.status))

    def paced(self, s: Session) -> None:
        self.paced_count += 1

    def wrote(self, octets: int) -> None:
        self.octets += octets


async def test_events_see_each_answer_and_the_octets_written(
    make_server: ServerFactory,
) -> None:
    events = Recorder()
    server = await make_server(events=events)
    client = await server.connect()
    await client.ok("NOOP")
    await client.command("SELECT INBOX")
    await client.command("LOGOUT")
    assert await client.closed()

    assert events.answers == [("NOOP", "OK"), ("SELECT", "BAD"), ("LOGOUT", "OK")]
    # greeting, the NOOP's answer: everything went through the writer's count
    assert events.octets > len(b"* OK [CAPABILITY IMAP4rev1] Localpost IMAP ready\r\n")
    assert len(events) == 0


async def test_commands_past_the_burst_are_delayed_not_refused(
    make_server: ServerFactory,
) -> None:
    events = Recorder()
    # Slow enough that the time between commands refills far less than a token.
    settings = SessionSettings(commands_per_second=5.0, command_burst=2)
    server = await make_server(settings=settings, events=events)
    client = await server.connect()

    await client.send("a1 NOOP\r\na2 NOOP\r\na3 NOOP\r\na4 NOOP\r\n")
    lines = await client.until_tagged("a4")

    assert [line.split(b" ")[1] for line in lines] == [b"OK"] * 4
    assert events.paced_count == 2


async def test_a_client_that_does_not_log_in_is_closed_with_bye(
    make_server: ServerFactory,
) -> None:
    # A second to answer the NOOP in, even on a loaded machine.
    settings = SessionSettings(login_timeout=1.0, command_timeout=0.1)
    server = await make_server(settings=settings)
    client = await server.connect()
    await client.ok("NOOP")  # busy, but not authenticated

    assert await client.response() == b"* BYE Not authenticated in time"
    assert await client.closed()


async def test_logged_in_clients_are_not_held_to_the_login_timeout(
    make_server: ServerFactory,
) -> None:
    # The login must finish inside login_timeout: half a second even on a loaded
    # machine; the idle timeout then has to outlast it for the test to mean anything.
    settings = SessionSettings(login_timeout=0.5, idle_timeout=1.2, command_timeout=0.1)
    server = await make_server(settings=settings)
    client = await server.connect()
    await client.login()

    assert await client.response() == b"* BYE Autologout; idle for too long"


async def test_stop_says_bye_to_a_waiting_session_and_an_idling_one(
    make_server: ServerFactory,
) -> None:
    events = Recorder()
    server = await make_server(events=events)
    waiting = await server.logged_in(select=None)
    idling = await server.logged_in()
    await idling.send("i1 IDLE\r\n")
    assert await idling.response() == b"+ idling"
    assert events.idling() == 1
    assert events.by_state()[State.SELECTED] == 1

    await events.stop(grace=5.0)

    assert await waiting.response() == b"* BYE Server shutting down"
    assert await idling.response() == b"* BYE Server shutting down"
    assert await waiting.closed()
    assert await idling.closed()
    assert len(events) == 0


async def test_stop_lets_a_command_in_flight_finish_then_says_bye(
    make_server: ServerFactory, held_status: HeldStatus
) -> None:
    events = Recorder()
    server = await make_server(events=events)
    client = await server.logged_in(select=None)
    await client.send("s1 STATUS INBOX (MESSAGES)\r\n")
    await asyncio.wait_for(held_status.entered.wait(), TIMEOUT)

    stopping = asyncio.ensure_future(events.stop(grace=5.0))
    await asyncio.sleep(0)  # stop has looked at the session: it is busy, not cancelled
    held_status.gate.set()
    lines = await client.until_tagged("s1")
    await stopping

    assert client.status_of(lines) == b"OK"
    assert await client.response() == b"* BYE Server shutting down"
    assert await client.closed()


async def test_stop_cuts_a_command_still_running_after_the_grace(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered = asyncio.Event()

    async def stuck(self: MemoryUser, name: str) -> FolderStatus:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("never reached")

    monkeypatch.setattr(MemoryUser, "status", stuck)
    events = Recorder()
    server = await make_server(events=events)
    client = await server.logged_in(select=None)
    await client.send("s1 STATUS INBOX (MESSAGES)\r\n")
    await asyncio.wait_for(entered.wait(), TIMEOUT)

    await events.stop(grace=0.05)

    assert await client.response() == b"* BYE Server shutting down"
    assert await client.closed()
    assert len(events) == 0


async def test_stop_lets_an_append_whose_literal_is_half_sent_finish(
    make_server: ServerFactory,
) -> None:
    # The client holds the continuation and has sent half the message: the command is
    # in flight though no handler runs yet, so a stop must wait for the rest.
    events = Recorder()
    server = await make_server(events=events)
    client = await server.logged_in(select=None)
    message = b"Subject: half\r\n\r\n" + b"x" * 100 + b"\r\n"
    await client.send(b"a1 APPEND INBOX {%d}\r\n" % len(message))
    assert (await client.response()).startswith(b"+ ")
    await client.send(message[:50])  # the continuation came: the command has begun

    stopping = asyncio.ensure_future(events.stop(grace=5.0))
    await asyncio.sleep(0)
    await client.send(message[50:] + b"\r\n")
    lines = await client.until_tagged("a1")
    await stopping

    assert client.status_of(lines) == b"OK"
    assert await client.response() == b"* BYE Server shutting down"
    assert await client.closed()
