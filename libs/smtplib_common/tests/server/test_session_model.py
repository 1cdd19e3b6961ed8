"""A hypothesis state machine: the SMTP session against a model of RFC 5321.

The model knows where a session is (greeted → ready → mail → rcpt, §4.1.4),
whether it began with EHLO (enhanced codes, RFC 2034) and its error,
junk-command and recipient counts. Hypothesis drives EHLO, HELO, MAIL, RCPT,
DATA, RSET, NOOP, QUIT, overlong lines and garbage verbs in any order, and
every reply must be exactly the one the model predicts: RCPT before MAIL is
503, DATA without a recipient 554, the command past ``max_errors`` or
``max_junk_commands`` is followed by 421 and the end of the connection.

Why a real server over real sockets: the model checks what a client sees —
framing of replies, enhanced codes, the close after 421 or 221 — and a
connection per example costs about a millisecond. The server runs on its own
event loop in a thread, started once for the test, so the machine can be an
ordinary synchronous ``RuleBasedStateMachine`` with a blocking socket.
"""

from __future__ import annotations

import asyncio
import enum
import socket
import string
import threading
from collections.abc import Iterator

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)

from libs.smtplib_common.tests.fuzzing import fuzz_settings
from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import ServerConfig, SMTPServer

HOSTNAME = "model.test"
STEP = 10.0  # the longest any reply may take before the test calls it a hang
MAX_ERRORS = 8
MAX_JUNK = 3
MAX_RECIPIENTS = 3
CONFIG = ServerConfig(
    hostname=HOSTNAME,
    max_errors=MAX_ERRORS,
    max_junk_commands=MAX_JUNK,
    max_recipients=MAX_RECIPIENTS,
    # Not modelled: every example is a new connection from 127.0.0.1, and the
    # per-source limits have tests of their own (test_peers.py, test_hostile.py).
    max_commands_before_mail=None,
    max_connection_rate_per_peer=None,
)

# The model's own view of the verbs (RFC 5321 §4.1, §4.2.4), not the server's.
KNOWN = {"EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT"}
KNOWN |= {"VRFY", "HELP", "STARTTLS", "AUTH"}
NOT_IMPLEMENTED = {"EXPN", "TURN", "ETRN", "ATRN", "SEND", "SOML", "SAML"}
HTTP = {"GET", "POST", "PUT", "HEAD", "CONNECT", "OPTIONS"}

_VERB_CHARS = string.ascii_letters + string.digits + "-_.:<>@"
GARBAGE_VERBS = st.one_of(
    st.sampled_from(sorted(NOT_IMPLEMENTED | HTTP)),
    st.text(alphabet=_VERB_CHARS, min_size=1, max_size=12),
).filter(lambda verb: verb.upper() not in KNOWN)
ARGUMENTS = st.text(alphabet=string.ascii_letters + string.digits + " .<>@:=", max_size=40)
# Body lines: printable ASCII; a dot at the start of a line is common, a bare
# LF inside a line is the smuggling ingredient the server must refuse.
BODY_LINES = st.lists(
    st.text(alphabet=string.ascii_letters + " .:", max_size=20).map(str.encode), max_size=5
)


class Phase(enum.Enum):
    GREETED = "greeted"  # before EHLO/HELO
    READY = "ready"
    MAIL = "mail"
    RCPT = "rcpt"


class Wire:
    """A blocking client socket that reads whole replies."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=STEP)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> bytes:
        lines = []
        while True:
            line = self.file.readline()
            assert line.endswith(b"\r\n"), f"connection ended inside a reply: {lines, line}"
            lines.append(line)
            if line[3:4] != b"-":
                return b"".join(lines)

    def at_eof(self) -> bool:
        return self.file.read() == b""

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class SessionModel(RuleBasedStateMachine):
    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port
        self.wire = Wire(port)
        self._greeted()

    def _greeted(self) -> None:
        assert self.wire.reply() == f"220 {HOSTNAME} ESMTP Localpost\r\n".encode()
        self.phase = Phase.GREETED
        self.esmtp = False
        self.open = True
        self.errors = self.junk = self.recipients = 0

    def teardown(self) -> None:
        self.wire.close()

    # --- expectations ---------------------------------------------------

    def exchange(self, line: bytes, *expected: Reply) -> None:
        self.wire.send(line + b"\r\n")
        for reply in expected:
            assert self.wire.reply() == reply.encode(enhanced=self.esmtp), line

    def closes_with(self, line: bytes, *expected: Reply) -> None:
        self.exchange(line, *expected)
        self.open = False
        assert self.wire.at_eof(), f"still open after {expected[-1]}"

    def error(self, line: bytes, reply: Reply) -> None:
        """RFC 5321 §4.2.5: the max_errors-th error is followed by 421."""
        self.errors += 1
        if self.errors >= MAX_ERRORS:
            self.closes_with(line, reply, replies.TOO_MANY_ERRORS)
        else:
            self.exchange(line, reply)

    def junk_command(self, line: bytes, reply: Reply) -> bool:
        """A NOOP or RSET: answered, or 421 past the junk limit. True if answered."""
        self.junk += 1
        if self.junk > MAX_JUNK:
            self.closes_with(line, replies.TOO_MANY_JUNK_COMMANDS)
            return False
        self.exchange(line, reply)
        return True

    # --- rules ----------------------------------------------------------

    @precondition(lambda self: not self.open)
    @rule()
    def reconnect(self) -> None:
        self.wire.close()
        self.wire = Wire(self.port)
        self._greeted()

    @precondition(lambda self: self.open)
    @rule(esmtp=st.booleans(), name=st.sampled_from(["client.test", "[192.0.2.1]", "x"]))
    def greet(self, esmtp: bool, name: str) -> None:
        """EHLO or HELO: either ends a transaction (RFC 5321 §4.1.4)."""
        self.wire.send(f"{'EHLO' if esmtp else 'HELO'} {name}\r\n".encode())
        reply = self.wire.reply()
        if esmtp:
            assert reply.startswith(f"250-{HOSTNAME} Hello {name}\r\n".encode()), reply
        else:
            assert reply == f"250 {HOSTNAME}\r\n".encode()
        self.phase, self.esmtp, self.recipients = Phase.READY, esmtp, 0

    @precondition(lambda self: self.open)
    @rule()
    def ehlo_without_a_name(self) -> None:
        self.error(b"EHLO", replies.SYNTAX_EHLO)

    @precondition(lambda self: self.open)
    @rule(sender=st.sampled_from(["<alice@example.test>", "<>"]))
    def mail(self, sender: str) -> None:
        line = f"MAIL FROM:{sender}".encode()
        if self.phase is Phase.GREETED:
            return self.error(line, replies.NEED_EHLO)
        if self.phase in (Phase.MAIL, Phase.RCPT):
            return self.error(line, replies.NESTED_MAIL)
        self.exchange(line, replies.SENDER_OK)
        self.phase, self.recipients = Phase.MAIL, 0
        return None

    @precondition(lambda self: self.open)
    @rule(recipient=st.sampled_from(["<bob@example.test>", "<postmaster>"]))
    def rcpt(self, recipient: str) -> None:
        line = f"RCPT TO:{recipient}".encode()
        if self.phase in (Phase.GREETED, Phase.READY):
            return self.error(line, replies.NEED_MAIL)
        if self.recipients >= MAX_RECIPIENTS:  # RFC 5321 §4.5.3.1.10, not an error
            return self.exchange(line, replies.TOO_MANY_RECIPIENTS)
        self.exchange(line, replies.RECIPIENT_OK)
        self.phase, self.recipients = Phase.RCPT, self.recipients + 1
        return None

    @precondition(lambda self: self.open)
    @rule(lines=BODY_LINES, bare_lf=st.booleans())
    def data(self, lines: list[bytes], bare_lf: bool) -> None:
        if self.phase in (Phase.GREETED, Phase.READY):
            return self.error(b"DATA", replies.NEED_MAIL)
        if self.phase is Phase.MAIL:
            return self.error(b"DATA", replies.NO_VALID_RECIPIENTS)
        self.exchange(b"DATA", replies.START_MAIL_INPUT)
        if bare_lf:
            lines = [*lines, b"bare\nLF"]
        # RFC 5321 §4.5.2: the sender doubles a leading dot.
        body = b"".join(
            (b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines
        )
        self.wire.send(body + b".\r\n")
        reply = self.wire.reply()
        self.phase, self.recipients = Phase.READY, 0
        if bare_lf:
            assert reply == replies.BARE_LINE_ENDING_IN_DATA.encode(enhanced=self.esmtp)
            return None
        queued = b"250 2.0.0 OK: queued as " if self.esmtp else b"250 OK: queued as "
        assert reply.startswith(queued), reply
        self.junk = 0  # an accepted message starts the junk count again
        return None

    @precondition(lambda self: self.open and self.phase is Phase.READY)
    @rule(lines=BODY_LINES)
    def whole_transaction(self, lines: list[bytes]) -> None:
        """MAIL, RCPT and DATA in a row: single steps rarely get that far
        before an error or the junk limit ends the session."""
        self.mail("<alice@example.test>")
        self.rcpt("<bob@example.test>")
        self.data(lines, bare_lf=False)

    @precondition(lambda self: self.open)
    @rule()
    def rset(self) -> None:
        if self.junk_command(b"RSET", replies.RESET_OK) and self.phase is not Phase.GREETED:
            self.phase, self.recipients = Phase.READY, 0

    @precondition(lambda self: self.open)
    @rule(argument=ARGUMENTS)
    def noop(self, argument: str) -> None:
        self.junk_command(f"NOOP {argument}".rstrip().encode(), replies.OK)

    @precondition(lambda self: self.open)
    @rule()
    def quit(self) -> None:
        self.closes_with(b"QUIT", replies.CLOSING)

    @precondition(lambda self: self.open)
    @rule(verb=GARBAGE_VERBS, argument=ARGUMENTS)
    def garbage(self, verb: str, argument: str) -> None:
        line = f"{verb} {argument}".encode() if argument else verb.encode()
        if verb.upper() in HTTP:  # a cross-protocol request ends the session at once
            return self.closes_with(line, replies.FORBIDDEN_COMMAND)
        if verb.upper() in NOT_IMPLEMENTED:
            return self.error(line, replies.COMMAND_NOT_IMPLEMENTED)
        return self.error(line, replies.COMMAND_UNRECOGNIZED)

    @precondition(lambda self: self.open)
    @rule(verb=st.sampled_from(["NOOP", "MAIL FROM:<a@example.test>", "QUIT", "XYZZY"]))
    def overlong_line(self, verb: str) -> None:
        """RFC 5321 §4.5.3.1.4: refused as too long, whatever its verb."""
        self.error(verb.encode() + b" " + b"x" * 1100, replies.LINE_TOO_LONG)


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    """A server on its own event loop in a thread, for the blocking machine."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="smtp-model-server", daemon=True)
    thread.start()
    server = SMTPServer(object(), CONFIG)  # no hooks: the server's defaults
    try:
        asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), loop).result(STEP)
        yield server.port
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(grace=1.0), loop).result(STEP)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STEP)
        loop.close()


@pytest.mark.fuzz
def test_session_replies_follow_the_protocol_model(server_port: int) -> None:
    run_state_machine_as_test(
        lambda: SessionModel(server_port),
        settings=fuzz_settings(100, stateful_step_count=40),
    )
