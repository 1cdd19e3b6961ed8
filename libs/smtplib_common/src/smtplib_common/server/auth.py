"""AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN: the verb and its exchanges.

:class:`AuthVerbs` is mixed into :class:`~smtplib_common.server.protocol.SMTPConnection`
and uses its state and I/O (the names declared at the top of the class), so
``AUTH`` is one more entry in the connection's dispatch table like every
other verb. Kept apart because the challenge-response exchange, the
per-session failure limit and the throttle across connections
(:mod:`~smtplib_common.server.throttle`) are a subject of their own.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server.session import AuthResult, Credentials, Session

if TYPE_CHECKING:
    from smtplib_common.server.config import ServerConfig
    from smtplib_common.server.handler import Hooks
    from smtplib_common.server.listener import SMTPServer
    from smtplib_common.server.throttle import AuthFailures

log = logging.getLogger(__name__)

_AUTH_USERNAME = "VXNlcm5hbWU6"  # base64("Username:"), the de facto LOGIN challenge
_AUTH_PASSWORD = "UGFzc3dvcmQ6"  # noqa: S105 - base64("Password:"), a prompt, not a secret


class AuthVerbs:
    """The AUTH verb for SMTPConnection."""

    # Provided by SMTPConnection.
    session: Session
    _config: ServerConfig
    _hooks: Hooks
    _server: SMTPServer
    _busy: bool
    _quit: bool
    _plaintext_auth_ok: bool
    _auth_throttle_exempt: bool

    if TYPE_CHECKING:

        def _reply(self, reply: Reply) -> None: ...
        def _error(self, reply: Reply) -> None: ...
        def _send(self, data: bytes) -> None: ...
        async def _read_line(self) -> bytearray | None: ...

    def _auth_offered(self) -> bool:
        session = self.session
        return (
            self._hooks.authenticate is not None
            and session.authenticated_as is None
            and (session.tls or not self._config.auth_require_tls or self._plaintext_auth_ok)
        )

    async def smtp_auth(self, arg: str) -> None:
        session, hook = self.session, self._hooks.authenticate
        if hook is None:
            return self._error(replies.COMMAND_NOT_IMPLEMENTED)
        if not session.esmtp:
            return self._error(replies.NEED_EHLO)
        if session.authenticated_as is not None:
            return self._error(replies.ALREADY_AUTHENTICATED)
        if session.envelope is not None:  # RFC 4954 §4: not during a transaction
            return self._error(replies.BAD_SEQUENCE)
        if not self._auth_offered():
            return self._error(replies.AUTH_NEEDS_TLS)
        throttle = self._throttle()
        if throttle is not None and throttle.throttled(session.peer_ip, time.monotonic()):
            # Refused before any credentials are read: right or wrong, a
            # throttled peer learns nothing, and the directory is not asked.
            log.info("AUTH from %s refused: too many recent failures", session.peer_ip)
            return self._auth_failed(replies.AUTH_THROTTLED)
        mechanism, _, initial = arg.strip().partition(" ")
        mechanism = mechanism.upper()
        if mechanism == "PLAIN":
            credentials = await self._auth_plain(initial.strip())
        elif mechanism == "LOGIN":
            credentials = await self._auth_login(initial.strip())
        else:
            return self._error(replies.UNKNOWN_AUTH_MECHANISM)
        if credentials is None:
            return None  # cancelled or malformed: already answered
        await self._check_credentials(hook, credentials)
        return None

    async def _check_credentials(
        self,
        hook: Callable[[Session, Credentials], Awaitable[AuthResult | bool]],
        creds: Credentials,
    ) -> None:
        session = self.session
        self._busy = True
        try:
            verdict = await hook(session, creds)
        except Exception:
            log.exception("authenticate hook failed for %s", session.peer_ip)
            self._reply(replies.TEMP_AUTH_FAILURE)
            return
        finally:
            self._busy = False
        result = verdict if isinstance(verdict, AuthResult) else AuthResult(bool(verdict))
        if result.success:
            session.authenticated_as = result.identity or creds.username
            session.auth_mechanism = creds.mechanism
            self._reply(replies.AUTH_SUCCEEDED)
            return
        if result.reply is not None:
            # The handler could not judge the credentials (its own limit, say): not a
            # wrong password, so neither slowed down nor counted against the address.
            return self._auth_failed(result.reply)
        log.info("authentication failure %d from %s", session.auth_failures + 1, session.peer_ip)
        throttle = self._throttle()
        if throttle is not None:
            throttle.record(session.peer_ip, time.monotonic())
        # Slow each failure down, then close: a guessing client gets a few
        # tries per connection and pays for each one.
        await asyncio.sleep(self._config.auth_failure_delay)
        self._auth_failed(replies.AUTH_FAILED)

    def _throttle(self) -> AuthFailures | None:
        """The listener's throttle across connections, unless this peer is exempt."""
        return None if self._auth_throttle_exempt else self._server.auth_failures

    def _auth_failed(self, reply: Reply) -> None:
        """Answer a failed AUTH; the session ends after max_auth_failures."""
        session = self.session
        session.auth_failures += 1
        self._reply(reply)
        if session.auth_failures >= self._config.max_auth_failures:
            self._reply(replies.TOO_MANY_AUTH_FAILURES)
            self._quit = True

    async def _auth_plain(self, initial: str) -> Credentials | None:
        if initial == "=":  # RFC 4954 §4: "=" is an empty initial response
            decoded: bytes | None = b""
        elif initial:
            decoded = self._b64(initial)
        else:
            decoded = await self._auth_challenge("")
        if decoded is None:
            return None
        parts = decoded.split(b"\x00")
        if len(parts) != 3:  # RFC 4616 §2: [authzid] NUL authcid NUL passwd
            self._error(replies.AUTH_MALFORMED)
            return None
        try:
            authzid, username, password = (p.decode("utf-8") for p in parts)
        except UnicodeDecodeError:
            self._error(replies.AUTH_MALFORMED)
            return None
        return Credentials("PLAIN", username, password, authzid)

    async def _auth_login(self, initial: str) -> Credentials | None:
        user = self._b64(initial) if initial else await self._auth_challenge(_AUTH_USERNAME)
        if user is None:
            return None
        password = await self._auth_challenge(_AUTH_PASSWORD)
        if password is None:
            return None
        try:
            return Credentials("LOGIN", user.decode("utf-8"), password.decode("utf-8"))
        except UnicodeDecodeError:
            self._error(replies.AUTH_MALFORMED)
            return None

    async def _auth_challenge(self, challenge: str) -> bytes | None:
        self._send(f"334 {challenge}\r\n".encode())
        raw = await self._read_line()
        if raw is None or len(raw) > self._config.auth_line_limit + 2:
            self._error(replies.AUTH_LINE_TOO_LONG)
            return None
        response = raw.rstrip(b"\r\n").decode("ascii", "replace")
        if response == "*":
            self._reply(replies.AUTH_CANCELLED)
            return None
        return self._b64(response)

    def _b64(self, text: str) -> bytes | None:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            self._error(replies.AUTH_MALFORMED)
            return None
