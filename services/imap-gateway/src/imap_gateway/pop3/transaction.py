"""The TRANSACTION state: STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT
(RFC 1939 §5, §6, §7).

Message numbers are the maildrop's, fixed at login; a message marked deleted is
left out of STAT, LIST and UIDL and refused by RETR, TOP and DELE. QUIT enters the
UPDATE state: the marked messages go to Trash, then the lock is released; a session
that ends any other way changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from imap_gateway import backend as bk
from imap_gateway.pop3 import replies
from imap_gateway.pop3.commands import Command, line_count, message_number
from imap_gateway.pop3.errors import reply_for
from imap_gateway.pop3.framing import DotStuffer
from imap_gateway.pop3.maildrop import Entry, Maildrop, NoSuchMessage
from imap_gateway.pop3.session import ResponseBroken, Session, State

log = logging.getLogger(__name__)

NO_SUCH_MESSAGE = "No such message"


def _maildrop(s: Session) -> Maildrop:
    assert s.maildrop is not None, "TRANSACTION has a maildrop"
    return s.maildrop


async def stat(s: Session, c: Command) -> None:
    count, octets = _maildrop(s).stat()
    s.write(replies.ok(f"{count} {octets}"))


async def _listing(s: Session, c: Command, value: Callable[[Entry], str | int]) -> None:
    """LIST and UIDL: one message's line, or every visible message's (RFC 1939 §7)."""
    maildrop = _maildrop(s)
    if c.args:
        entry = maildrop.get(message_number(c.args[0]))
        s.write(replies.ok(f"{entry.number} {value(entry)}"))
        return
    count, octets = maildrop.stat()
    lines = "".join(f"{entry.number} {value(entry)}\r\n" for entry in maildrop.visible())
    s.write(replies.ok(f"{count} messages ({octets} octets)"))
    s.write(lines.encode() + replies.TERMINATOR)


async def list_(s: Session, c: Command) -> None:
    await _listing(s, c, lambda entry: entry.size)


async def uidl(s: Session, c: Command) -> None:
    await _listing(s, c, _maildrop(s).unique_id)


async def retr(s: Session, c: Command) -> None:
    entry = _maildrop(s).get(message_number(c.args[0]))
    await _send(s, entry, DotStuffer(), f"{entry.size} octets")


async def top(s: Session, c: Command) -> None:
    entry = _maildrop(s).get(message_number(c.args[0]))
    lines = line_count(c.args[1])
    await _send(s, entry, DotStuffer(body_lines=lines), "Top of message follows")


async def _send(s: Session, entry: Entry, stuffer: DotStuffer, text: str) -> None:
    """The +OK line, then the message as a multi-line response, chunk by chunk.

    The +OK goes out with the first chunk, so a message that is gone from the store
    gets -ERR instead; one that breaks off later cannot be answered any more (the
    +OK is out), and the connection is closed by the caller.
    """
    chunks = _maildrop(s).content(entry)
    head: bytes | None = replies.ok(text)
    try:
        async for chunk in chunks:
            out = stuffer.feed(chunk)
            if head is not None:
                out, head = head + out, None
            s.write(out)
            await s.drain()
            if stuffer.done:
                break
    except Exception as error:
        if head is None:
            raise ResponseBroken(f"message {entry.number} broke off: {error!r}") from error
        raise
    finally:
        await chunks.aclose()
    s.write((head or b"") + stuffer.end())


async def dele(s: Session, c: Command) -> None:
    number = message_number(c.args[0])
    _maildrop(s).delete(number)
    s.write(replies.ok(f"Message {number} deleted"))


async def rset(s: Session, c: Command) -> None:
    maildrop = _maildrop(s)
    maildrop.reset()
    count, octets = maildrop.stat()
    s.write(replies.ok(f"Maildrop has {count} messages ({octets} octets)"))


async def noop(s: Session, c: Command) -> None:
    s.write(replies.ok(""))


async def quit_transaction(s: Session, c: Command) -> None:
    """RFC 1939 §6: the UPDATE state; -ERR when the deletions cannot be made."""
    s.state, s.ended = State.UPDATE, True
    maildrop, user = _maildrop(s), s.user
    assert isinstance(user, bk.MaildropLocking), "a TRANSACTION user can lock"
    if not any(entry.deleted for entry in maildrop.entries):
        s.write(replies.ok("Bye"))
        return
    try:
        # Still this session's? A lease lost while the store was unreachable may
        # have gone to another session, whose view the moves would break.
        await user.lock_maildrop(s.holder, seconds=s.settings.lock_seconds)
        moved = await maildrop.commit(user)
    except bk.BackendError as error:
        log.warning("%s: POP3 QUIT left the maildrop as it was: %s", s.peer, error)
        s.write(reply_for(error, " (no message deleted)"))
        return
    log.info("%s: POP3 QUIT moved %d messages to Trash", s.peer, moved)
    s.write(replies.ok(f"Bye; {moved} messages moved to Trash"))


def no_such_message() -> bytes:
    return replies.err(NO_SUCH_MESSAGE)


__all__ = [
    "NoSuchMessage",
    "dele",
    "list_",
    "no_such_message",
    "noop",
    "quit_transaction",
    "retr",
    "rset",
    "stat",
    "top",
    "uidl",
]
