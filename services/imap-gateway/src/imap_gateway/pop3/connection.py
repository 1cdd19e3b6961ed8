"""The POP3 connection loop: greeting, one reply per command, the lock's renewal, the end.

A session ends at QUIT, when the client goes, on a line too long to read, after
RFC 1939 §3's inactivity timer, or at a graceful stop; only QUIT in TRANSACTION
changes the maildrop (:mod:`.transaction`). Whatever the end, the maildrop lock is
released and the user logged out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from imap_gateway import backend as bk
from imap_gateway.pop3 import replies
from imap_gateway.pop3.authorization import quietly_unlock
from imap_gateway.pop3.commands import Command, CommandError, parse_command
from imap_gateway.pop3.dispatch import HANDLERS, QUIT, Run
from imap_gateway.pop3.errors import reply_for
from imap_gateway.pop3.events import Pop3Events
from imap_gateway.pop3.lines import LineReader, LineTooLong
from imap_gateway.pop3.maildrop import NoSuchMessage
from imap_gateway.pop3.session import Pop3Settings, ResponseBroken, Session, State
from imap_gateway.session.connection import peer_host
from imap_gateway.session.pacing import CommandPace

log = logging.getLogger(__name__)

ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

NO_SUCH_MESSAGE = "No such message"
SHUTTING_DOWN = "Server shutting down"


async def serve_pop3(
    stream: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    backend: bk.Backend,
    settings: Pop3Settings,
    plaintext_allowed: bool,
    tls: bool = False,
    events: Pop3Events | None = None,
) -> None:
    """Run one POP3 session on an accepted connection until it ends."""
    events = Pop3Events() if events is None else events  # a registry may be empty
    s = Session(
        backend, settings, LineReader(stream, settings.max_line), writer, peer_host(writer),
        plaintext_allowed=plaintext_allowed or tls, tls=tls,
    )  # fmt: skip
    events.opened(s)
    renewal: list[asyncio.Task[None]] = []
    try:
        s.write(replies.ok(settings.greeting))
        await s.drain()
        await _loop(s, events, renewal)
    except (ConnectionError, TimeoutError):
        pass  # the client went away, or stopped reading
    except ResponseBroken as broken:
        log.warning("%s: %s; closing", s.peer, broken)
    except asyncio.CancelledError:
        # A stop: RFC 1939 has no unsolicited reply; the connection just closes, and
        # nothing marked deleted is deleted.
        raise
    finally:
        for task in renewal:
            task.cancel()
        try:
            await _end(s)
        finally:
            events.closed(s)


async def _loop(s: Session, events: Pop3Events, renewal: list[asyncio.Task[None]]) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    pace = None
    if s.settings.commands_per_second is not None:
        pace = CommandPace(
            rate=s.settings.commands_per_second, burst=s.settings.command_burst, now=started
        )
    while not s.ended:
        if s.stop_requested:
            s.write(replies.err(s.stop_text or SHUTTING_DOWN, replies.SYS_TEMP))
            await s.drain()
            return
        timeout = s.settings.idle_timeout
        login_first = s.state is State.AUTHORIZATION and (
            started + s.settings.login_timeout - loop.time() < timeout
        )
        if login_first:
            timeout = started + s.settings.login_timeout - loop.time()
        try:
            async with asyncio.timeout(max(timeout, 0)):
                line = await s.reader.readline()
        except TimeoutError:
            # RFC 1939 §3: the autologout timer closes without entering UPDATE.
            text = "Not authenticated in time" if login_first else "Autologout; idle for too long"
            s.write(replies.err(text))
            await s.drain()
            return
        except LineTooLong:
            s.write(replies.err(f"Line longer than {s.settings.max_line} octets; closing"))
            await s.drain()
            return
        if pace is not None and (delay := pace.delay(loop.time())) > 0:
            events.paced(s)
            await asyncio.sleep(delay)
        await _execute(s, line, events)
        await s.drain()
        if s.locked and not renewal:
            renewal.append(asyncio.create_task(_renew(s), name="pop3-lock-renewal"))


async def _execute(s: Session, line: bytes, events: Pop3Events) -> None:
    s.busy, s.answered_ok = True, None
    verb = "?"
    try:
        command = parse_command(line)
        verb = command.verb
        await _run(s, command)
    except CommandError as error:
        s.write(replies.err(error.text))
    finally:
        s.busy = False
    events.answered(s, verb, bool(s.answered_ok))


async def _run(s: Session, command: Command) -> None:
    run: Run
    if command.verb == "QUIT":
        run = QUIT[s.state]
    else:
        handler = HANDLERS.get(command.verb)
        if handler is None or s.state not in handler.states:
            s.write(replies.err(f"{command.verb} is not allowed in the {s.state.value} state"))
            return
        run = handler.run
    try:
        await run(s, command)
    except NoSuchMessage:
        s.write(replies.err(NO_SUCH_MESSAGE))
    except bk.BackendError as error:
        s.write(reply_for(error))
    except (CommandError, ResponseBroken, TimeoutError, ConnectionError, asyncio.CancelledError):
        raise
    except Exception:
        # The edge of the session: a bug is logged with its traceback and answered, so
        # one bad command never drops the client.
        log.exception("%s: POP3 %s failed", s.peer, command.verb)
        s.write(replies.err("Internal server error", replies.SYS_TEMP))


async def _renew(s: Session) -> None:
    """Renew the maildrop lock's lease every third of it while the session lives."""
    user = s.user
    assert isinstance(user, bk.MaildropLocking)
    while True:
        await asyncio.sleep(s.settings.lock_seconds / 3)
        try:
            await user.lock_maildrop(s.holder, seconds=s.settings.lock_seconds)
        except bk.MaildropInUse:
            # Lost while the store was unreachable; QUIT will refuse to delete.
            log.warning("%s: the POP3 maildrop lock went to another session", s.peer)
            s.lock_lost = True
            return
        except bk.BackendError as error:
            log.warning("%s: POP3 lock not renewed, retrying: %s", s.peer, error)


async def _end(s: Session) -> None:
    if s.maildrop is not None:
        with contextlib.suppress(bk.BackendError):
            await s.maildrop.close()
    if s.user is not None:
        if s.locked and isinstance(s.user, bk.MaildropLocking):
            await quietly_unlock(s.user, s.holder)
        with contextlib.suppress(bk.BackendError):
            await s.user.logout()
    s.writer.close()
    with contextlib.suppress(ConnectionError, TimeoutError):
        await s.writer.wait_closed()


def pop3_handler(
    backend: bk.Backend,
    settings: Pop3Settings | None = None,
    *,
    trusted: Callable[[str], bool] = lambda host: False,
    tls: bool = False,
    events: Pop3Events | None = None,
) -> ConnectionHandler:
    """A callback for :func:`asyncio.start_server`; ``trusted(host)`` allows USER/PASS
    and AUTH PLAIN before TLS; ``tls``: the listener is implicit TLS (RFC 8314 §3.3)."""
    chosen = settings or Pop3Settings()

    async def handle(stream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_pop3(
            stream,
            writer,
            backend=backend,
            settings=chosen,
            plaintext_allowed=trusted(peer_host(writer)),
            tls=tls,
            events=events,
        )

    return handle
