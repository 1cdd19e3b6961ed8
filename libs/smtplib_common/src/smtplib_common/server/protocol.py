"""One SMTP connection: the reader, the state machine and one coroutine per verb.

The connection is an :class:`asyncio.Protocol` with its own input buffer rather
than a StreamReader: DATA is framed by searching the buffer for the end marker
instead of reading line by line, which is most of the server's speed.

Sections: transport callbacks · reading and writing · the session loop ·
verbs (dispatch table at the end) · helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from smtplib_common import replies
from smtplib_common.address import AddressError, ParameterError, parse_path, xtext_decode
from smtplib_common.replies import Reply
from smtplib_common.server import peers
from smtplib_common.server.auth import AuthVerbs
from smtplib_common.server.framing import (
    Content,
    DataFramer,
    LineEndings,
    count_received_headers,
)
from smtplib_common.server.session import BodyType, Envelope, Session, State

if TYPE_CHECKING:
    from smtplib_common.server.listener import SMTPServer

log = logging.getLogger(__name__)

# Input is buffered up to this much before reading pauses (back-pressure on a
# client that pipelines faster than we answer); DATA drains it continuously.
_READ_HIGH_WATER = 256 * 1024
# Replies to a pipelined batch are held back and sent together, up to this much.
_WRITE_HIGH_WATER = 64 * 1024
# How long a closing session waits for the client to close its side.
_LINGER_SECONDS = 2.0
# Commands a browser or proxy would send: an SMTP server has no business with
# them (cross-protocol attacks), so the connection ends at once.
_FORBIDDEN_VERBS = frozenset({b"GET", b"POST", b"PUT", b"HEAD", b"CONNECT", b"OPTIONS"})
# RFC 5321 §4.2.4: recognised but not implemented is 502, not 500.
_NOT_IMPLEMENTED_VERBS = frozenset({b"EXPN", b"TURN", b"ETRN", b"ATRN", b"SEND", b"SOML", b"SAML"})
# Commands that move no mail forward; a client that sends them for ever only
# holds a connection (Postfix's "junk commands"; ETRN is refused as 502 here).
_JUNK_VERBS = frozenset({b"NOOP", b"RSET", b"VRFY", b"HELP"})
# RFC 5321 §4.1.1.1: EHLO takes a domain or address literal. We accept any
# printable ASCII token (clients send odd names) but no controls or spaces,
# because the name is copied into the Received: header.
_PRINTABLE_TOKEN = re.compile(r"[\x21-\x7e]+")


class _Closed(Exception):
    """The peer went away or the session must end; unwinds the session loop."""


class SMTPConnection(AuthVerbs, asyncio.Protocol):
    """The server side of one SMTP connection (AUTH's verbs are in auth.py)."""

    session: Session

    def __init__(self, server: SMTPServer) -> None:
        self._server = server
        self._config = server.config
        self._hooks = server.hooks
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._out: list[bytes] = []
        self._out_size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._eof = False
        self._lost = False
        self._quit = False
        self._reading_paused = False
        self._writing_paused = False
        self._discarding = False  # inside an overlong line: drop to its end
        self._busy = False  # a handler, drain or handshake is running: not idle
        self._awaiting_command = False
        self._last_activity = 0.0
        self._bytes_in = 0  # octets received on this connection, for the data rate
        self._transfer_start: float | None = None  # when DATA or the first BDAT began
        self._transfer_base = 0  # _bytes_in before the transfer's first octet
        self._plaintext_auth_ok = False
        self._auth_throttle_exempt = False
        self._bdat: Content | None = None
        self._bdat_endings = LineEndings()

    # --- transport callbacks ----------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so no isinstance.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        peer = transport.get_extra_info("peername") or ("", 0)
        self.session = Session(
            peer=(str(peer[0]), int(peer[1])), server_hostname=self._config.hostname
        )
        if transport.get_extra_info("sslcontext") is not None:  # implicit TLS listener
            self.session.tls = True
        refusal = self._server._admit(self)
        if refusal is not None:
            self._lost = True
            transport.write(refusal.encode(enhanced=False))
            transport.close()
            return
        self._plaintext_auth_ok = self.session.peer_in(self._config.plaintext_auth_networks)
        self._auth_throttle_exempt = self.session.peer_in(
            self._config.auth_throttle_exempt_networks
        )
        self._last_activity = self._loop.time()
        self._task = self._loop.create_task(self._run())
        self._arm_watchdog(min(self._config.idle_timeout, self._config.max_session_time))

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self._bytes_in += len(data)
        self._last_activity = self._loop.time()
        if len(self._buf) > _READ_HIGH_WATER and not self._reading_paused and self._transport:
            self._reading_paused = True
            self._transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        # A half-closed client still gets the replies to every complete line it
        # sent, so keep the transport open for writing. Under TLS the
        # close_notify shuts the transport down anyway, and asyncio logs a
        # warning for every session that answers True, so say False there.
        self._eof = True
        self._wake()
        return not self.session.tls

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._wake()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._server._release(self)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._last_activity = self._loop.time()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    # --- reading and writing ----------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        """Wait for more input; raise _Closed if none can come."""
        await self._flush()
        if self._eof or self._lost:
            raise _Closed
        if self._reading_paused and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def _read_line(self) -> bytearray | None:
        """The next line up to and including LF; None if it was too long.

        An overlong line is dropped to its very end, so its tail can never be
        taken for a command (RFC 5321 §4.5.3.1.4 allows refusing it; executing
        the remainder would let data smuggle commands).
        """
        scan_from = 0
        limit = self._config.read_line_limit
        while True:
            idx = self._buf.find(b"\n", scan_from)
            if idx >= 0:
                line = self._buf[: idx + 1]
                del self._buf[: idx + 1]
                if self._discarding:
                    self._discarding = False
                    return None
                return line
            if self._discarding:
                self._buf.clear()
                scan_from = 0
            elif len(self._buf) > limit:
                self._discarding = True
                self._buf.clear()
                scan_from = 0
            else:
                scan_from = len(self._buf)
            await self._wait()

    async def _read_exact(self, size: int, content: Content | None) -> None:
        """Read ``size`` octets (a BDAT chunk) into ``content``, or discard them.

        The minimum data rate runs from the transaction's first chunk to its
        end (_reset_transaction), pauses between chunks included: restarting
        it per chunk would give a client sending ``BDAT 1`` over and over a
        fresh grace each time.
        """
        remaining = size
        if self._transfer_start is None:
            self._start_transfer()
        while remaining:
            if not self._buf:
                await self._wait()
                continue
            take = min(remaining, len(self._buf))
            if content is not None:
                piece = bytes(self._buf[:take])
                content.add(piece)
                self._bdat_endings.feed(piece)
            del self._buf[:take]
            remaining -= take

    def _reply(self, reply: Reply) -> None:
        self._send(reply.encode(enhanced=self.session.esmtp))

    def _send(self, data: bytes) -> None:
        self._out.append(data)
        self._out_size += len(data)

    async def _flush(self) -> None:
        # Replies to a pipelined batch leave in one write (RFC 2920 §3.2).
        if self._out and not self._lost and self._transport is not None:
            self._transport.write(b"".join(self._out))
        self._out.clear()
        self._out_size = 0
        if self._writing_paused and not self._lost:
            self._drain_waiter = self._loop.create_future()
            await self._drain_waiter

    def _send_now_and_close(self, reply: Reply) -> None:
        """Out-of-band 421 from a timer: write what is pending, then close."""
        if self._lost or self._transport is None:
            return
        self._reply(reply)
        self._transport.write(b"".join(self._out))
        self._out.clear()
        self._out_size = 0
        if self._transport.get_write_buffer_size():
            # The client is not reading: close() would wait for a flush that
            # never comes and keep the connection (and its buffers) alive.
            self._transport.abort()
        else:
            self._transport.close()

    def _error(self, reply: Reply) -> None:
        """Reply to a client error and close after too many (RFC 5321 §4.2.5)."""
        self.session.errors += 1
        self._reply(reply)
        if self.session.errors >= self._config.max_errors:
            self._reply(replies.TOO_MANY_ERRORS)
            self._quit = True

    # --- timers -----------------------------------------------------------

    def _arm_watchdog(self, delay: float) -> None:
        self._watchdog = self._loop.call_later(max(delay, 0.05), self._check_timers)

    def _start_transfer(self) -> None:
        """DATA or a BDAT chunk begins: the minimum data rate applies from now on."""
        now = self._loop.time()
        self._transfer_start = now
        # What is already buffered arrived during the transfer as far as the
        # rate is concerned: count it.
        self._transfer_base = self._bytes_in - len(self._buf)
        # The watchdog may sleep until a later idle deadline: wake it in time.
        deadline = now + self._config.data_rate_grace
        if self._config.min_data_rate is not None and (
            self._watchdog is None or self._watchdog.when() > deadline
        ):
            if self._watchdog is not None:
                self._watchdog.cancel()
            self._arm_watchdog(deadline - now)

    def _transfer_time_left(self, now: float) -> float:
        rate = self._config.min_data_rate
        if self._transfer_start is None or rate is None:
            return math.inf
        received = self._bytes_in - self._transfer_base
        return self._transfer_start + self._config.data_rate_grace + received / rate - now

    def _check_timers(self) -> None:
        """Idle timeout, session lifetime and data rate, checked by one timer.

        Re-arming a timer on every read would cost a heap operation per chunk;
        instead the timer wakes at the earliest possible deadline and re-checks.
        """
        if self._lost:
            return
        cfg, now = self._config, self._loop.time()
        life_left = cfg.max_session_time - (time.monotonic() - self.session.started_at)
        idle_left = cfg.idle_timeout - (now - self._last_activity)
        transfer_left = self._transfer_time_left(now)
        if not self._busy:
            if life_left <= 0:
                self._send_now_and_close(replies.SESSION_TOO_LONG)
                return
            if idle_left <= 0:
                # RFC 5321 §4.5.3.2.7: the server may close an idle session.
                self._send_now_and_close(replies.IDLE_TIMEOUT)
                return
            if transfer_left <= 0:
                # Below min_data_rate: the transfer ends here, no handler runs.
                self._server.peer_limits.refused(peers.MIN_DATA_RATE, self.session.peer_ip)
                self._send_now_and_close(replies.DATA_TOO_SLOW)
                return
        # While a handler works the deadlines are paused: look again in a second.
        self._arm_watchdog(1.0 if self._busy else min(idle_left, life_left, transfer_left))

    # --- the session loop -------------------------------------------------

    async def _run(self) -> None:
        try:
            if await self._greet():
                while not self._quit:
                    if self._server.closing:
                        self._reply(replies.SERVICE_UNAVAILABLE)
                        break
                    self._awaiting_command = True
                    try:
                        line = await self._read_line()
                    finally:
                        self._awaiting_command = False
                    await self._dispatch(line)
                    if self._out_size > _WRITE_HIGH_WATER:
                        # Many short commands can ask for long replies (HELP):
                        # send them now, and wait if the client is not reading.
                        await self._flush()
            await self._flush()
        except _Closed:
            pass
        except Exception:
            log.exception("SMTP session with %s failed", self.session.peer_ip)
            if not self._lost:
                self._reply(replies.LOCAL_ERROR)
                await self._flush()
        finally:
            self.session.state = State.CLOSED
            with contextlib.suppress(asyncio.CancelledError):
                await self._close()
            if self._hooks.disconnect is not None:
                try:
                    await self._hooks.disconnect(self.session)
                except Exception:
                    log.exception("disconnect hook failed for %s", self.session.peer_ip)

    async def _close(self) -> None:
        """Close without losing the last reply (221, 421).

        Closing a socket that still has unread input makes the kernel answer
        with RST, which can destroy the reply in flight. So half-close our side,
        discard what the client still sends for a moment, then close: the
        "lingering close" that HTTP servers use for the same reason.
        """
        transport = self._transport
        if transport is None or self._lost:
            return
        # The session is over: its slot counts no more while the socket lingers.
        self._server._release(self)
        if self._eof or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        deadline = self._loop.time() + _LINGER_SECONDS
        while not (self._lost or self._eof) and (left := deadline - self._loop.time()) > 0:
            self._buf.clear()
            if self._reading_paused:
                self._reading_paused = False
                transport.resume_reading()
            self._waiter = self._loop.create_future()
            try:
                await asyncio.wait_for(self._waiter, left)
            except TimeoutError:
                break
            finally:
                self._waiter = None
        transport.close()

    async def _greet(self) -> bool:
        if self._hooks.connect is not None:
            verdict = await self._call(self._hooks.connect, self.session)
            if verdict is not None and not verdict.is_positive:
                self._reply(verdict)
                return False
        # RFC 5321 §4.3.1: the greeting names this host; no enhanced code (RFC 2034).
        self._send(f"220 {self._config.hostname} ESMTP Localpost\r\n".encode())
        return True

    async def _dispatch(self, raw: bytearray | None) -> None:
        if raw is None:
            return self._error(replies.LINE_TOO_LONG)
        # CRLF ends a command line; a bare LF is tolerated (as Postfix's
        # "normalize") because it cannot smuggle anything outside DATA.
        line = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        verb_bytes, _, arg_bytes = line.partition(b" ")
        verb = bytes(verb_bytes).upper()
        method = _VERBS.get(verb)
        # Length first: an overlong line is refused as such whatever it starts with.
        if len(raw) > self._line_limit(verb):
            return self._error(replies.LINE_TOO_LONG)
        if method is None:
            if verb in _FORBIDDEN_VERBS:
                self._reply(replies.FORBIDDEN_COMMAND)
                self._quit = True
                return None
            if verb in _NOT_IMPLEMENTED_VERBS:
                return self._error(replies.COMMAND_NOT_IMPLEMENTED)
            return self._error(replies.COMMAND_UNRECOGNIZED)
        if b"\r" in line:
            return self._error(replies.BARE_CR_IN_COMMAND)
        if b"\x00" in line:
            return self._error(replies.NUL_IN_COMMAND)
        try:
            arg = arg_bytes.decode("utf-8")
        except UnicodeDecodeError:
            return self._error(replies.SYNTAX_ERROR)
        # Malformed lines are left to max_errors; these count well-formed ones.
        if verb != b"QUIT" and self._too_many_commands_before_mail():
            self._server.peer_limits.refused(peers.COMMANDS_BEFORE_MAIL, self.session.peer_ip)
            self._reply(replies.TOO_MANY_COMMANDS_BEFORE_MAIL)
            self._quit = True
            return None
        if verb in _JUNK_VERBS and self._too_much_junk():
            self._reply(replies.TOO_MANY_JUNK_COMMANDS)
            self._quit = True
            return None
        return await method(self, arg)

    def _too_many_commands_before_mail(self) -> bool:
        """Count a command outside a transaction of an unauthenticated session."""
        session, limit = self.session, self._config.max_commands_before_mail
        if limit is None or session.envelope is not None or session.authenticated_as is not None:
            return False
        session.commands_before_mail += 1
        return session.commands_before_mail > limit

    def _too_much_junk(self) -> bool:
        self.session.junk_commands += 1
        limit = self._config.max_junk_commands
        return limit is not None and self.session.junk_commands > limit

    def _line_limit(self, verb: bytes) -> int:
        if verb in (b"MAIL", b"RCPT"):
            return self._config.mail_line_limit
        if verb == b"AUTH":
            return self._config.auth_line_limit + len("AUTH PLAIN \r\n")
        return self._config.command_line_limit

    # --- verbs: session ---------------------------------------------------

    async def smtp_ehlo(self, arg: str) -> None:
        name = arg.strip()
        if not _PRINTABLE_TOKEN.fullmatch(name):
            return self._error(replies.SYNTAX_EHLO)
        if await self._refused_by(self._hooks.ehlo, self.session, name):
            return None
        self._start_session(name, esmtp=True)
        lines = [f"{self._config.hostname} Hello {name}", *self._extensions()]
        # The EHLO reply carries keywords, never enhanced codes (RFC 2034 §3).
        self._send(Reply(250, None, "\n".join(lines)).encode())
        return None

    async def smtp_helo(self, arg: str) -> None:
        name = arg.strip()
        if not _PRINTABLE_TOKEN.fullmatch(name):
            return self._error(replies.SYNTAX_HELO)
        if await self._refused_by(self._hooks.ehlo, self.session, name):
            return None
        self._start_session(name, esmtp=False)
        self._send(f"250 {self._config.hostname}\r\n".encode())
        return None

    def _start_session(self, name: str, *, esmtp: bool) -> None:
        # RFC 5321 §4.1.4: EHLO/HELO in a transaction resets it like RSET.
        self._reset_transaction()
        self.session.helo_name = name
        self.session.esmtp = esmtp
        self.session.state = State.READY

    def _extensions(self) -> list[str]:
        cfg, session = self._config, self.session
        keywords = [
            f"SIZE {cfg.max_message_size}",  # RFC 1870
            "8BITMIME",  # RFC 6152
            "PIPELINING",  # RFC 2920
            "ENHANCEDSTATUSCODES",  # RFC 2034
            "SMTPUTF8",  # RFC 6531
            "CHUNKING",  # RFC 3030
        ]
        if self._server.tls_context is not None and not session.tls:
            keywords.append("STARTTLS")  # RFC 3207 §4: never after TLS is up
        if self._auth_offered():
            keywords.append("AUTH PLAIN LOGIN")  # RFC 4954 §3
        return keywords

    async def smtp_noop(self, arg: str) -> None:
        # RFC 5321 §4.1.1.9: NOOP may carry a string, which is ignored.
        self._reply(replies.OK)

    async def smtp_rset(self, arg: str) -> None:
        if arg.strip():
            return self._error(replies.SYNTAX_NO_ARGUMENTS)
        self._reset_transaction()
        self._reply(replies.RESET_OK)
        return None

    async def smtp_quit(self, arg: str) -> None:
        self._reply(replies.CLOSING)
        self._quit = True

    async def smtp_help(self, arg: str) -> None:
        self._reply(replies.HELP)

    async def smtp_vrfy(self, arg: str) -> None:
        # RFC 5321 §3.5.3: 252 unless the handler can and will verify.
        if not arg.strip():
            return self._error(replies.SYNTAX_VRFY)
        verdict = None
        if self._hooks.vrfy is not None:
            verdict = await self._call(self._hooks.vrfy, self.session, arg.strip())
        self._reply(verdict or replies.CANNOT_VRFY)
        return None

    async def smtp_starttls(self, arg: str) -> None:
        session, context = self.session, self._server.tls_context
        if context is None:
            return self._error(replies.COMMAND_NOT_IMPLEMENTED)
        if arg.strip():
            return self._error(replies.SYNTAX_NO_ARGUMENTS)
        if session.tls:
            return self._error(replies.TLS_ALREADY_ACTIVE)
        if not session.esmtp:
            return self._error(replies.NEED_EHLO)
        if session.envelope is not None:
            return self._error(replies.BAD_SEQUENCE)
        self._reply(replies.READY_FOR_TLS)
        await self._flush()
        # RFC 3207 §4.2 and CVE-2021-33515: whatever the client sent after
        # STARTTLS in plaintext must not be read as if it came over TLS.
        self._buf.clear()
        await self._start_tls(context)
        session.reset_all()
        session.tls = True
        return None

    async def _start_tls(self, context: ssl.SSLContext) -> None:
        assert self._transport is not None
        self._busy = True
        try:
            transport = await self._loop.start_tls(
                self._transport,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=self._config.tls_handshake_timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            log.info("TLS handshake with %s failed: %s", self.session.peer_ip, exc)
            self._lost = True
            self._server._release(self)
            raise _Closed from exc
        finally:
            self._busy = False
        if transport is None:
            raise _Closed
        self._transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.session.tls_version = ssl_object.version()
            cipher = ssl_object.cipher()
            self.session.tls_cipher = cipher[0] if cipher else None

    # --- verbs: the mail transaction --------------------------------------

    async def smtp_mail(self, arg: str) -> None:
        session = self.session
        if session.state is State.CONNECTED:
            return self._error(replies.NEED_EHLO)
        if session.envelope is not None:
            return self._error(replies.NESTED_MAIL)
        if self._config.auth_required and session.authenticated_as is None:
            return self._error(replies.AUTH_REQUIRED)
        if arg[:5].upper() != "FROM:":
            return self._error(replies.SYNTAX_MAIL)
        try:
            path = parse_path(arg[5:], smtputf8=False, allow_null=True)
        except AddressError as exc:
            return self._error(_address_reply(exc, replies.BAD_SENDER_SYNTAX))
        except ParameterError:
            return self._error(replies.SYNTAX_MAIL)
        envelope = Envelope(id=self._config.id_factory(), mail_from=path.address)
        problem = self._apply_mail_params(envelope, path.params)
        if problem is not None:
            return self._error(problem)
        verdict = None
        if self._hooks.mail is not None:
            verdict = await self._call(
                self._hooks.mail, session, envelope, path.address, path.params
            )
            if verdict is not None and not verdict.is_positive:
                self._reply(verdict)
                return None
        session.envelope = envelope
        session.state = State.MAIL
        self._reply(verdict or replies.SENDER_OK)
        return None

    def _apply_mail_params(self, envelope: Envelope, params: dict[str, str | None]) -> Reply | None:
        if params and not self.session.esmtp:
            return replies.UNKNOWN_PARAMETER  # RFC 1869 §4.5: no parameters after HELO
        envelope.mail_params = params
        for key, value in params.items():
            if key == "SIZE":  # RFC 1870 §3
                if value is None or not value.isdigit() or len(value) > 20:
                    return replies.INVALID_PARAMETER_VALUE
                if int(value) > self._config.max_message_size:
                    return replies.MESSAGE_TOO_BIG
                envelope.declared_size = int(value)
            elif key == "BODY":  # RFC 6152 §2
                body = (value or "").upper()
                if body == "BINARYMIME":  # RFC 3030 §3: we do not offer it
                    return replies.PARAMETER_NOT_IMPLEMENTED
                if body not in ("7BIT", "8BITMIME"):
                    return replies.INVALID_PARAMETER_VALUE
                envelope.body_type = BodyType(body)
            elif key == "SMTPUTF8":  # RFC 6531 §3.4: takes no value
                if value is not None:
                    return replies.INVALID_PARAMETER_VALUE
                envelope.smtputf8 = True
            elif key == "AUTH":  # RFC 4954 §5
                if value is None:
                    return replies.INVALID_PARAMETER_VALUE
                try:
                    mailbox = None if value == "<>" else xtext_decode(value)
                except ParameterError:
                    return replies.INVALID_PARAMETER_VALUE
                # "If the client is not authenticated ... the server MUST
                # behave as if the AUTH=<> parameter was supplied."
                if self.session.authenticated_as is not None:
                    envelope.auth_mailbox = mailbox
            else:
                return replies.UNKNOWN_PARAMETER
        return None

    async def smtp_rcpt(self, arg: str) -> None:
        session, envelope = self.session, self.session.envelope
        if envelope is None:
            return self._error(replies.NEED_MAIL)
        if session.state is State.BDAT:
            return self._error(replies.BAD_SEQUENCE)
        if arg[:3].upper() != "TO:":
            return self._error(replies.SYNTAX_RCPT)
        try:
            path = parse_path(
                arg[3:], smtputf8=envelope.smtputf8, allow_null=False, allow_postmaster=True
            )
        except AddressError as exc:
            return self._error(_address_reply(exc, replies.BAD_RECIPIENT_SYNTAX))
        except ParameterError:
            return self._error(replies.SYNTAX_RCPT)
        if path.params:  # we offer no RCPT parameters (no DSN)
            return self._error(replies.UNKNOWN_PARAMETER)
        if len(envelope.rcpt_tos) >= self._config.max_recipients:
            self._reply(replies.TOO_MANY_RECIPIENTS)  # RFC 5321 §4.5.3.1.10
            return None
        verdict = None
        # RFC 5321 §4.5.1: <postmaster> without a domain is always accepted.
        if self._hooks.rcpt is not None and "@" in path.address:
            verdict = await self._call(
                self._hooks.rcpt, session, envelope, path.address, path.params
            )
            if verdict is not None and not verdict.is_positive:
                self._reply(verdict)
                return None
        envelope.rcpt_tos.append(path.address)
        envelope.rcpt_params.append(path.params)
        session.state = State.RCPT
        self._reply(verdict or replies.RECIPIENT_OK)
        return None

    async def smtp_data(self, arg: str) -> None:
        envelope = self.session.envelope
        if arg.strip():
            return self._error(replies.SYNTAX_NO_ARGUMENTS)
        if envelope is None:
            return self._error(replies.NEED_MAIL)
        if self.session.state is State.BDAT:
            return self._error(replies.BDAT_AFTER_DATA)
        if not envelope.rcpt_tos:
            return self._error(replies.NO_VALID_RECIPIENTS)
        self._reply(replies.START_MAIL_INPUT)
        framer = DataFramer(Content(self._config.max_message_size), self._config.data_line_limit)
        self._start_transfer()
        while True:
            framer.feed(self._buf)
            if framer.done:
                break
            await self._wait()
        self._transfer_start = None
        if framer.content.too_big:
            self._reply(replies.MESSAGE_TOO_BIG)
        elif framer.bare_line_ending:
            self._reply(replies.BARE_LINE_ENDING_IN_DATA)
        elif framer.line_too_long:
            self._reply(replies.DATA_LINE_TOO_LONG)
        else:
            await self._deliver(envelope, framer.content)
        self._reset_transaction()
        return None

    async def smtp_bdat(self, arg: str) -> None:
        parts = arg.split()
        if (
            not 1 <= len(parts) <= 2
            # RFC 3030 §4 chunk-size is 1*DIGIT, ASCII only: str.isdigit() alone
            # also passes "²" (int() then raises) and other scripts' digits.
            or not (parts[0].isascii() and parts[0].isdigit())
            or len(parts[0]) > 20
            or (len(parts) == 2 and parts[1].upper() != "LAST")
        ):
            # Without a valid size the chunk's end is unknown: reading on could
            # execute message bytes as commands, so the session ends here.
            self._reply(replies.SYNTAX_BDAT)
            self._quit = True
            return
        size, last = int(parts[0]), len(parts) == 2
        session, envelope = self.session, self.session.envelope
        # RFC 3030 §2: the chunk is read in full even when it is refused.
        problem = None
        if envelope is None:
            problem = replies.NEED_MAIL
        elif not envelope.rcpt_tos:
            problem = replies.NO_VALID_RECIPIENTS
        if problem is not None:
            await self._read_exact(size, None)
            self._error(problem)
            self._reset_transaction()
            return
        assert envelope is not None
        if self._bdat is None:
            self._bdat = Content(self._config.max_message_size)
            self._bdat_endings = LineEndings()
            envelope.used_bdat = True
            session.state = State.BDAT
        content, endings = self._bdat, self._bdat_endings
        await self._read_exact(size, content)
        if last:
            endings.finish()  # a CR that ends the message has no LF to come
        # RFC 3030 §2: after a failed chunk the transaction is over and the
        # client sends no more chunks; any it pipelined already are read and
        # refused 503 as chunks without MAIL.
        if content.too_big:
            self._reply(replies.MESSAGE_TOO_BIG)
            self._reset_transaction()
        elif endings.bare:
            # As for DATA (RFC 5321 §2.3.8): chunks are framed by size, but the
            # message goes on to MTAs that split lines at a bare CR or LF.
            self._reply(replies.BARE_LINE_ENDING_IN_DATA)
            self._reset_transaction()
        elif not last:
            self._reply(replies.CHUNK_OK)
        else:
            await self._deliver(envelope, content)
            self._reset_transaction()

    # --- helpers ----------------------------------------------------------

    async def _deliver(self, envelope: Envelope, content: Content) -> None:
        cfg = self._config
        trace = self._received_header(envelope) if cfg.add_received_header else b""
        message = content.join(trace)
        if count_received_headers(message, cfg.max_received_headers) > cfg.max_received_headers:
            self._reply(replies.LOOP_DETECTED)  # RFC 5321 §6.3
            return
        verdict = None
        if self._hooks.message is not None:
            verdict = await self._call(self._hooks.message, self.session, envelope, message)
        if verdict is None:
            verdict = replies.MESSAGE_ACCEPTED.with_text(f"OK: queued as {envelope.id}")
        if verdict.is_positive:
            self.session.transactions += 1
            # The client does move mail.
            self.session.junk_commands = 0
            self.session.commands_before_mail = 0
        self._reply(verdict)

    def _received_header(self, envelope: Envelope) -> bytes:
        """The trace header of RFC 5321 §4.4, protocol names from RFC 3848/6531."""
        session = self.session
        protocol = "UTF8SMTP" if envelope.smtputf8 else ("ESMTP" if session.esmtp else "SMTP")
        protocol += ("S" if session.tls else "") + ("A" if session.authenticated_as else "")
        ip = session.peer_ip
        literal = f"[IPv6:{ip}]" if ":" in ip else f"[{ip}]"
        # Only name the recipient when there is one: listing all of them would
        # disclose Bcc recipients to each other (RFC 5321 §7.2).
        rcpt = f"\r\n\tfor <{envelope.rcpt_tos[0]}>" if len(envelope.rcpt_tos) == 1 else ""
        return (
            f"Received: from {session.helo_name or 'unknown'} ({literal})\r\n"
            f"\tby {self._config.hostname} (Localpost) with {protocol} id {envelope.id}"
            f"{rcpt};\r\n\t{_rfc5322_now()}\r\n"
        ).encode()

    def _reset_transaction(self) -> None:
        self._bdat = None
        self._transfer_start = None  # a BDAT transfer's rate ends with its transaction
        self.session.reset_transaction()

    async def _call(self, hook: Callable[..., Awaitable[Reply | None]], *args: Any) -> Reply | None:
        """Run a handler hook; a failing hook is a temporary local error (451)."""
        self._busy = True
        try:
            return await hook(*args)
        except Exception:
            envelope = self.session.envelope
            log.exception(
                "handler hook %s failed (peer %s, id %s)",
                getattr(hook, "__name__", hook),
                self.session.peer_ip,
                envelope.id if envelope else "-",
            )
            return replies.LOCAL_ERROR
        finally:
            self._busy = False

    async def _refused_by(
        self, hook: Callable[..., Awaitable[Reply | None]] | None, *args: Any
    ) -> bool:
        if hook is None:
            return False
        verdict = await self._call(hook, *args)
        if verdict is not None and not verdict.is_positive:
            self._reply(verdict)
            return True
        return False

    # --- control from the listener ----------------------------------------

    def shutdown(self) -> None:
        """Ask the session to end: at once if idle, after its transaction if not."""
        if self._awaiting_command and not self._buf and not self._lost:
            self._send_now_and_close(replies.SERVICE_UNAVAILABLE)

    def abort(self) -> None:
        if self._transport is not None and not self._lost:
            self._transport.abort()
        if self._task is not None:
            self._task.cancel()

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task


def _address_reply(exc: AddressError, syntax: Reply) -> Reply:
    if exc.reason == AddressError.NON_ASCII:
        return replies.NON_ASCII_NOT_PERMITTED
    if exc.reason == AddressError.TOO_LONG:
        return replies.PATH_TOO_LONG
    return syntax


_date_cache: tuple[int, str] = (0, "")


def _rfc5322_now() -> str:
    """The current date in RFC 5322 §3.3 form, formatted at most once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, localtime=True))
    return _date_cache[1]


Verb = Callable[[SMTPConnection, str], Awaitable[None]]

# The dispatch table, collected once: verb → coroutine.
_VERBS: dict[bytes, Verb] = {
    b"EHLO": SMTPConnection.smtp_ehlo,
    b"HELO": SMTPConnection.smtp_helo,
    b"MAIL": SMTPConnection.smtp_mail,
    b"RCPT": SMTPConnection.smtp_rcpt,
    b"DATA": SMTPConnection.smtp_data,
    b"BDAT": SMTPConnection.smtp_bdat,
    b"RSET": SMTPConnection.smtp_rset,
    b"NOOP": SMTPConnection.smtp_noop,
    b"QUIT": SMTPConnection.smtp_quit,
    b"VRFY": SMTPConnection.smtp_vrfy,
    b"HELP": SMTPConnection.smtp_help,
    b"STARTTLS": SMTPConnection.smtp_starttls,
    b"AUTH": SMTPConnection.smtp_auth,
}
