"""The AUTHORIZATION state: CAPA, STLS, USER/PASS, AUTH PLAIN (RFC 1939 §4, §7;
RFC 2449 §5; RFC 2595 §4; RFC 5034).

Plain-text credentials are refused before TLS unless the client is in a trusted
network (the IMAP sessions' rule, RFC 2595 §2.2/§4), and CAPA does not offer USER or
SASL then. A good password is followed by the maildrop lock (RFC 1939 §8) and the
maildrop's opening; if either fails the lock is released and the session stays in
AUTHORIZATION.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging

from imap_gateway import backend as bk
from imap_gateway.pop3 import replies
from imap_gateway.pop3.commands import Command
from imap_gateway.pop3.errors import reply_for
from imap_gateway.pop3.maildrop import Maildrop
from imap_gateway.pop3.session import Session, State

log = logging.getLogger(__name__)

CHANNEL = "pop3"  # the mail store's login throttle channel
MECHANISMS = ("PLAIN",)
PLAINTEXT_REFUSED = "Plain-text authentication is not allowed before STLS"
CANCELLED = "*"  # RFC 5034 §4: the client cancels the exchange


def capabilities(s: Session) -> list[str]:
    """RFC 2449 §6; USER and SASL only where they may be used, STLS only before TLS."""
    found = [replies.TOP, replies.UIDL, replies.RESP_CODES, replies.AUTH_RESP_CODE]
    found.append(replies.PIPELINING)
    if s.state is State.AUTHORIZATION:
        if s.settings.tls_context is not None and not s.tls:
            found.append(replies.STLS)
        if s.plaintext_allowed:
            found += [replies.USER, f"{replies.SASL} {' '.join(MECHANISMS)}"]
    found.append(f"{replies.IMPLEMENTATION} Localpost")
    return found


async def capa(s: Session, c: Command) -> None:
    lines = "".join(f"{name}\r\n" for name in capabilities(s))
    s.write(replies.ok("Capability list follows") + lines.encode() + replies.TERMINATOR)


async def stls(s: Session, c: Command) -> None:
    context = s.settings.tls_context
    if context is None or s.tls:
        s.write(replies.err("STLS is not available"))
        return
    # Bytes sent after STLS in the clear must not be taken as commands once TLS is up
    # (the STARTTLS injection of CVE-2011-0411).
    if s.reader.pending:
        s.write(replies.err("Nothing may follow STLS before the TLS handshake"))
        return
    s.write(replies.ok("Begin TLS negotiation"))
    await s.drain()
    await s.writer.start_tls(context)
    s.tls = True
    s.plaintext_allowed = True
    s.username = None


async def user(s: Session, c: Command) -> None:
    if not s.plaintext_allowed:
        s.write(replies.err(PLAINTEXT_REFUSED, replies.AUTH))
        return
    s.username = c.args[0]
    s.write(replies.ok("Send PASS"))


async def password(s: Session, c: Command) -> None:
    username, s.username = s.username, None
    if not s.plaintext_allowed:
        s.write(replies.err(PLAINTEXT_REFUSED, replies.AUTH))
        return
    if username is None:
        s.write(replies.err("USER first"))
        return
    await _sign_in(s, username, c.args[0], "USER")


async def auth(s: Session, c: Command) -> None:
    if not c.args:
        # Before CAPA existed clients listed the mechanisms with a bare AUTH.
        listed = "".join(f"{name}\r\n" for name in MECHANISMS)
        s.write(replies.ok("Mechanisms follow") + listed.encode() + replies.TERMINATOR)
        return
    mechanism = c.args[0].upper()
    if mechanism not in MECHANISMS:
        s.write(replies.err(f"Unsupported mechanism {mechanism}"))
        return
    if not s.plaintext_allowed:
        s.write(replies.err(PLAINTEXT_REFUSED, replies.AUTH))
        return
    if len(c.args) > 1:
        # RFC 5034 §4: "=" is an empty initial response.
        response = "" if c.args[1] == "=" else c.args[1]
    else:
        s.write(b"+ \r\n")
        await s.drain()
        answered = await _continuation(s)
        s.answered_ok = None  # the "+ " was not the answer
        if answered is None:
            s.write(replies.err("Authentication cancelled"))
            return
        response = answered
    try:
        decoded = base64.b64decode(response, validate=True)
    except binascii.Error:
        s.write(replies.err("Invalid base64 in the SASL response"))
        return
    parts = decoded.split(b"\0")
    if len(parts) != 3:
        s.write(replies.err("Malformed PLAIN response (RFC 4616)"))
        return
    authzid, username, secret = parts
    if authzid and authzid != username:
        s.write(replies.err("Acting as another user is not allowed", replies.AUTH))
        return
    try:
        name, text = username.decode("utf-8"), secret.decode("utf-8")
    except UnicodeDecodeError:
        s.write(replies.err("Authentication failed", replies.AUTH))
        return
    await _sign_in(s, name, text, "PLAIN")


async def _continuation(s: Session) -> str | None:
    """The client's line after "+ "; None when it cancels with "*"."""
    async with asyncio.timeout(s.settings.idle_timeout):
        line = await s.reader.readline()
    text = line.rstrip(b"\r\n").decode("ascii", "replace")
    return None if text == CANCELLED else text


async def quit_authorization(s: Session, c: Command) -> None:
    s.write(replies.ok("Bye"))
    s.ended = True


async def _sign_in(s: Session, username: str, secret: str, mechanism: str) -> None:
    credentials = bk.Credentials(username, secret, s.peer, mechanism, CHANNEL)
    try:
        signed_in = await s.backend.authenticate(credentials)
    except bk.BackendError as error:
        log.info("%s: POP3 %s for %r failed: %s", s.peer, mechanism, username,
                 type(error).__name__)  # fmt: skip
        s.write(reply_for(error))
        return
    try:
        await _open_maildrop(s, signed_in)
    except bk.BackendError as error:
        log.info("%s: POP3 maildrop of %r not opened: %s", s.peer, username, type(error).__name__)
        s.write(reply_for(error))
        return
    s.account = username.lower()
    log.info("%s: %r logged in to POP3 (%s)", s.peer, username, mechanism)
    count, octets = s.maildrop.stat() if s.maildrop else (0, 0)
    s.write(replies.ok(f"Logged in; {count} messages ({octets} octets)"))


async def _open_maildrop(s: Session, signed_in: bk.UserSession) -> None:
    """Lock, then open; on any failure nothing stays held (RFC 1939 §8)."""
    if not isinstance(signed_in, bk.MaildropLocking):
        await signed_in.logout()
        raise bk.BackendUnavailable("this backend cannot lock a maildrop")
    locked = False
    try:
        await signed_in.lock_maildrop(s.holder, seconds=s.settings.lock_seconds)
        locked = True
        s.maildrop = await Maildrop.open(signed_in)
    except BaseException:
        if locked:
            await quietly_unlock(signed_in, s.holder)
        await signed_in.logout()
        raise
    s.user, s.locked = signed_in, True
    s.state = State.TRANSACTION


async def quietly_unlock(user: bk.MaildropLocking, holder: str) -> None:
    try:
        await user.unlock_maildrop(holder)
    except bk.BackendError as error:
        # The lease expires on its own (views/pop3.py in the mail store).
        log.warning("POP3 lock not released (it will expire): %s", error)
