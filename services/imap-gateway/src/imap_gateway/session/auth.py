"""STARTTLS, LOGIN, AUTHENTICATE PLAIN and LOGIN (RFC 9051 §6.2, RFC 4616, RFC 4959).

Plain-text credentials are refused (LOGINDISABLED, NO [PRIVACYREQUIRED]) unless
the connection is TLS or the listener trusts the client's network: the session's
``plaintext_allowed`` flag.
"""

from __future__ import annotations

import base64
import binascii
import logging

from imap_gateway import backend as bk
from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer, bad, no
from imap_gateway.session.misc import capability_code
from imap_gateway.session.state import Session, State
from imap_gateway.wire import codes
from imap_gateway.wire import commands as cmd
from imap_gateway.wire.reader import CommandReader, continuation_sender

log = logging.getLogger(__name__)

MECHANISMS = frozenset({"PLAIN", "LOGIN"})


async def starttls(s: Session, c: cmd.StartTLS) -> Answer:
    context = s.settings.tls_context
    if context is None or s.tls:
        raise bad("STARTTLS is not available")
    # Bytes the client sent after STARTTLS arrived in the clear: they must not be
    # taken as commands once TLS is up (the STARTTLS injection of CVE-2011-0411).
    if not s.reader.framer.idle:
        raise bad("Nothing may follow STARTTLS before the TLS handshake")

    async def handshake() -> None:
        await s.stream_writer.start_tls(context)
        s.reader = CommandReader(
            s.reader.stream, continuation_sender(s.stream_writer), s.settings.wire
        )
        s.tls = True
        s.plaintext_allowed = True

    s.after_answer = handshake
    return ok("Begin TLS negotiation now")


async def login(s: Session, c: cmd.Login) -> Answer:
    if not s.plaintext_allowed:
        raise no("LOGIN is disabled before STARTTLS", codes.PRIVACYREQUIRED)
    return await _sign_in(s, c.username, c.password, "LOGIN")


async def authenticate(s: Session, c: cmd.Authenticate) -> Answer:
    if c.mechanism not in MECHANISMS:
        raise no(f"Unsupported mechanism {c.mechanism}", codes.CANNOT)
    if not s.plaintext_allowed:
        raise no("Plain-text authentication is disabled before STARTTLS", codes.PRIVACYREQUIRED)
    if c.mechanism == "PLAIN":
        response = c.initial_response
        if response is None:
            response = await _challenge(s, b"")
        parts = response.split(b"\0")
        if len(parts) != 3:
            raise bad("Malformed PLAIN response (RFC 4616)")
        authzid, username, password = parts
        if authzid and authzid != username:
            raise no("Acting as another user is not allowed", codes.AUTHORIZATIONFAILED)
    else:
        given = c.initial_response
        username = given if given is not None else await _challenge(s, b"Username:")
        password = await _challenge(s, b"Password:")
    return await _sign_in(s, username, password, c.mechanism)


async def _challenge(s: Session, text: bytes) -> bytes:
    """Send a SASL challenge, read the client's line (RFC 9051 §6.2.2); ``*`` cancels."""
    s.out.write(b"+ " + base64.b64encode(text) + b"\r\n")
    await s.out.drain()
    deadline = s.loop_time() + s.settings.command_timeout
    line = await s.reader.read_line(deadline=deadline)
    if line == b"*":
        raise bad("Authentication cancelled")
    try:
        return base64.b64decode(line, validate=True)
    except binascii.Error:
        raise bad("Invalid base64 in the SASL response") from None


async def _sign_in(s: Session, username: bytes, password: bytes, mechanism: str) -> Answer:
    try:
        credentials = bk.Credentials(
            username.decode("utf-8"), password.decode("utf-8"), s.peer, mechanism
        )
    except UnicodeDecodeError:
        raise bk.AuthenticationFailed("credentials are not UTF-8") from None
    try:
        s.user = await s.backend.authenticate(credentials)
    except bk.BackendError as error:
        failure = type(error).__name__
        log.info("%s: %s for %r failed: %s", s.peer, mechanism, credentials.username, failure)
        raise
    s.state = State.AUTHENTICATED
    s.account = credentials.username.lower()
    log.info("%s: %r logged in (%s)", s.peer, credentials.username, mechanism)
    return ok("Logged in", codes.CAPABILITY, capability_code(s))
