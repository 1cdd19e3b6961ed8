"""The connection loop: greeting, commands, answers, BYE (RFC 9051 §2.2, §3, §7.1.5).

Every command gets exactly one tagged answer, whatever happens inside its
handler: a domain error or a refusal is mapped in :mod:`.errors`, a bug is
logged and answered NO [SERVERBUG]. The connection closes only on LOGOUT, when
the client goes, when a wire error's recovery rule says so, when the output
cannot be kept in step, or on a timeout (always after a ``* BYE``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from imap_gateway import backend as bk
from imap_gateway.session.dispatch import (
    HANDLERS,
    Run,
    catches_up_after,
    command_name,
    expunges_allowed,
    expunges_allowed_before,
    polls,
)
from imap_gateway.session.errors import Answer, Refusal, response_for
from imap_gateway.session.events import SessionEvents
from imap_gateway.session.misc import capability_code
from imap_gateway.session.pacing import CommandPace
from imap_gateway.session.settings import SessionSettings
from imap_gateway.session.state import Session, State
from imap_gateway.session.tracker import SequenceOutOfRange
from imap_gateway.wire import codes, encoder
from imap_gateway.wire import commands as cmd
from imap_gateway.wire.encoder import EncodingError, ResponseWriter
from imap_gateway.wire.errors import ConnectionClosed, Recovery, WireError
from imap_gateway.wire.framing import RawCommand
from imap_gateway.wire.parser import parse_command
from imap_gateway.wire.reader import CommandReader, continuation_sender

log = logging.getLogger(__name__)

ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

SHUTTING_DOWN = "Server shutting down"
SERVER_BROKE = "Internal server error in the middle of a response"


class _Close(Exception):
    """End the session now; ``bye`` is the text of the BYE to send, if any."""

    def __init__(self, bye: str | None, code: str | None = None) -> None:
        super().__init__(bye)
        self.bye = bye
        self.code = code


def peer_host(writer: asyncio.StreamWriter) -> str:
    """The client's address as the socket gives it (POP3's sessions use it too)."""
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer or "")


async def serve_connection(
    stream: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    backend: bk.Backend,
    settings: SessionSettings,
    plaintext_allowed: bool,
    tls: bool = False,
    events: SessionEvents | None = None,
) -> None:
    """Run one IMAP session on an accepted connection until it ends."""
    reader = CommandReader(stream, continuation_sender(writer), settings.wire)
    events = SessionEvents() if events is None else events  # LiveSessions may be empty
    out = ResponseWriter(writer, on_write=events.wrote)
    s = Session(
        backend, settings, reader, out, writer, peer_host(writer),
        plaintext_allowed=plaintext_allowed or tls, tls=tls, events=events,
        started=asyncio.get_running_loop().time(),
    )  # fmt: skip
    events.opened(s)
    try:
        s.out.status(None, codes.OK, settings.greeting, codes.CAPABILITY, capability_code(s))
        await _drain(s)
        await _loop(s)
    except _Close as close:
        if close.bye is not None and s.out.abandon():
            s.out.status(None, codes.BYE, close.bye, close.code)
            with contextlib.suppress(ConnectionError, TimeoutError):
                await _drain(s)
    except (ConnectionError, ConnectionClosed, TimeoutError):
        pass  # the client went away, or stopped reading: nobody to answer
    except asyncio.CancelledError:
        if s.out.abandon():
            s.out.status(None, codes.BYE, s.stop_text or SHUTTING_DOWN)
        raise
    finally:
        try:
            await _end(s)
        finally:
            s.events.closed(s)


async def _end(s: Session) -> None:
    # Apart: a folder that fails to close must not keep the user's session open
    # (the service counts sessions per account until logout).
    with contextlib.suppress(bk.BackendError):
        await s.deselect()
    with contextlib.suppress(bk.BackendError):
        if s.user is not None:
            await s.user.logout()
    s.out.flush()  # a BYE written on the way out
    s.stream_writer.close()
    with contextlib.suppress(ConnectionError, TimeoutError):
        await s.stream_writer.wait_closed()


async def _drain(s: Session) -> None:
    async with asyncio.timeout(s.settings.write_timeout):
        await s.out.drain()


async def _loop(s: Session) -> None:
    pace = None
    if s.settings.commands_per_second is not None:
        pace = CommandPace(
            rate=s.settings.commands_per_second, burst=s.settings.command_burst, now=s.started
        )
    while s.state is not State.LOGOUT:
        if s.stop_requested:
            raise _Close(s.stop_text or SHUTTING_DOWN)
        try:
            raw = await _read_command(s)
        except WireError as error:
            s.out.write(encoder.response_for(error).encode())
            if error.recovery is Recovery.CLOSE:
                raise _Close("Too much data to skip") from None
            await _drain(s)
            continue
        try:
            command = parse_command(raw, utf8=s.utf8, limits=s.settings.wire)
        except WireError as error:
            s.out.write(encoder.response_for(error).encode())
            await _drain(s)
            continue
        if pace is not None:
            await _wait_turn(s, pace)
        await _execute(s, command)


async def _wait_turn(s: Session, pace: CommandPace) -> None:
    delay = pace.delay(s.loop_time())
    if delay > 0:
        s.events.paced(s)
        await asyncio.sleep(delay)


async def _read_command(s: Session) -> RawCommand:
    """The next command, within the idle timeout; one that has begun to arrive
    must be whole within one to two command timeouts (slowloris)."""
    loop = asyncio.get_running_loop()
    idle_deadline = loop.time() + s.settings.idle_timeout
    login_deadline = s.started + s.settings.login_timeout
    login_first = s.state is State.NOT_AUTHENTICATED and login_deadline < idle_deadline
    if login_first:
        idle_deadline = login_deadline
    begun = False
    while True:
        window = min(loop.time() + s.settings.command_timeout, idle_deadline)
        try:
            return await s.reader.read_command(deadline=window)
        except TimeoutError:
            if not s.reader.framer.idle:
                if begun:
                    raise _Close("Command not completed in time") from None
                begun = True
                continue
            begun = False
            if loop.time() >= idle_deadline:
                if login_first:
                    raise _Close("Not authenticated in time") from None
                raise _Close("Autologout; idle for too long") from None
        except ConnectionClosed:
            raise _Close(None) from None


async def _execute(s: Session, command: cmd.Command) -> None:
    name = command_name(command)
    handler = HANDLERS.get(type(command))
    if handler is None or s.state not in handler.states:
        answer = Answer(codes.BAD, f"{name} is not allowed in the {s.state.value} state")
    else:
        allowed = expunges_allowed(command)
        await s.refresh(catch_up=polls(command))
        await s.sync(expunges=expunges_allowed_before(command))
        s.current = name
        try:
            answer = await _run(s, handler.run, command, name)
        finally:
            s.current = None
        if catches_up_after(command):
            await s.refresh(catch_up=True)
        await s.sync(expunges=allowed)
    s.out.status(command.tag, answer.status, answer.text, answer.code, answer.args)
    s.events.answered(s, name, answer)
    await _drain(s)
    if s.after_answer is not None:
        hook, s.after_answer = s.after_answer, None
        await hook()


async def _run(s: Session, run: Run, command: cmd.Command, name: str) -> Answer:
    try:
        return await run(s, command)
    except (bk.BackendError, Refusal) as error:
        _answerable(s, name)
        return response_for(error, name)
    except SequenceOutOfRange:
        return Answer(codes.BAD, "Message sequence number past the last message")
    except WireError as error:  # a bare line (AUTHENTICATE, IDLE) over a limit
        if error.recovery is Recovery.CLOSE:
            raise _Close("Too much data to skip") from None
        return Answer(codes.BAD, error.text, error.code)
    except ConnectionClosed:
        raise _Close(None) from None
    except EncodingError:
        # A literal went out shorter or longer than announced: the client is out of step.
        log.exception("%s: %s broke the output; closing", s.peer, name)
        raise _Close(SERVER_BROKE, codes.SERVERBUG) from None
    except (TimeoutError, ConnectionError, asyncio.CancelledError):
        raise
    except Exception:
        # The edge of the session: a bug in a handler or a backend is logged with
        # its traceback and answered, so one bad command never drops the client.
        log.exception("%s: %s failed", s.peer, name)
        _answerable(s, name)
        return Answer(codes.NO, "Internal server error", codes.SERVERBUG)


def _answerable(s: Session, name: str) -> None:
    """Close the session when a command failed with one of its responses half sent.

    A tagged answer written then would land inside that response (or its literal),
    and the client would wait for the rest of it for ever. BYE [SERVERBUG] follows
    where a line can still be read as one (the cut response is CRLF-ended first).
    """
    if s.out.in_response:
        log.error("%s: %s failed with a response half sent; closing", s.peer, name)
        raise _Close(SERVER_BROKE, codes.SERVERBUG)


def connection_handler(
    backend: bk.Backend,
    settings: SessionSettings | None = None,
    *,
    trusted: Callable[[str], bool] = lambda host: False,
    tls: bool = False,
    events: SessionEvents | None = None,
) -> ConnectionHandler:
    """A callback for :func:`asyncio.start_server`; ``trusted(host)`` allows plain-text
    authentication without TLS for clients in trusted networks. ``tls``: the listener
    is implicit TLS (RFC 8314 §3.3), so STARTTLS is not offered and LOGIN is allowed."""
    chosen = settings or SessionSettings()

    async def handle(stream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(
            stream,
            writer,
            backend=backend,
            settings=chosen,
            plaintext_allowed=trusted(peer_host(writer)),
            tls=tls,
            events=events,
        )

    return handle
