"""SMTP replies: one named constant per reply the server sends.

The server, the gateway and the tests all use these names, so a test compares
``reply == replies.MAILBOX_UNAVAILABLE`` instead of retyping ``"550 5.1.1 ..."``.

Each reply carries its RFC 3463 enhanced status code where one applies. The
server prints it only once the client has seen ENHANCEDSTATUSCODES in the EHLO
reply (RFC 2034 §3): never on the 220 greeting, the EHLO reply itself, or in a
session that began with HELO.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete SMTP reply: code, optional enhanced status and text.

    ``text`` may hold several lines separated by ``\\n``; :meth:`encode` turns
    them into a multi-line reply (RFC 5321 §4.2.1: ``250-first``, ``250 last``).
    """

    code: int
    status: str | None
    text: str
    # Encoded on first use and kept: the constants are sent millions of times
    # in a benchmark run, while one-off replies are encoded only once.
    _wire: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _wire_plain: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 200 <= self.code <= 599:
            raise ValueError(f"reply code out of range: {self.code}")

    def _render(self, *, enhanced: bool) -> bytes:
        lines = self.text.split("\n") or [""]
        prefix = f"{self.status} " if enhanced and self.status else ""
        out = []
        for i, line in enumerate(lines):
            sep = " " if i == len(lines) - 1 else "-"
            out.append(f"{self.code}{sep}{prefix}{line}\r\n")
        return "".join(out).encode("utf-8")

    def encode(self, *, enhanced: bool = True) -> bytes:
        """The reply as sent on the wire, with or without the enhanced code."""
        if enhanced:
            if self._wire is None:
                object.__setattr__(self, "_wire", self._render(enhanced=True))
            return self._wire  # type: ignore[return-value]
        if self._wire_plain is None:
            object.__setattr__(self, "_wire_plain", self._render(enhanced=False))
        return self._wire_plain  # type: ignore[return-value]

    def with_text(self, text: str) -> Reply:
        """The same code and status with other text (e.g. ``queued as <id>``)."""
        return Reply(self.code, self.status, text)

    @property
    def is_positive(self) -> bool:
        return self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return self.code >= 500

    def __str__(self) -> str:
        return self.encode().decode("utf-8").rstrip("\r\n")


# --- 2xx: success -------------------------------------------------------
HELP = Reply(
    214,
    "2.0.0",
    "Supported commands:\n"
    "EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH\n"
    "See RFC 5321 and https://www.rfc-editor.org/rfc/rfc5321",
)
CLOSING = Reply(221, "2.0.0", "Bye")
AUTH_SUCCEEDED = Reply(235, "2.7.0", "Authentication successful")  # RFC 4954 §6
OK = Reply(250, "2.0.0", "OK")
SENDER_OK = Reply(250, "2.1.0", "Sender OK")
RECIPIENT_OK = Reply(250, "2.1.5", "Recipient OK")
RESET_OK = Reply(250, "2.0.0", "Reset OK")
MESSAGE_ACCEPTED = Reply(250, "2.0.0", "OK: message accepted")
CHUNK_OK = Reply(250, "2.0.0", "Chunk accepted")
# RFC 5321 §3.5.3: 252 when a server will not (or cannot) verify a user.
CANNOT_VRFY = Reply(252, "2.1.5", "Cannot VRFY user, but will accept message and attempt delivery")

# --- 3xx: intermediate --------------------------------------------------
START_MAIL_INPUT = Reply(354, None, "End data with <CR><LF>.<CR><LF>")
READY_FOR_TLS = Reply(220, "2.0.0", "Ready to start TLS")  # RFC 3207 §4
AUTH_CONTINUE_EMPTY = Reply(334, None, "")  # RFC 4954 §4: empty challenge for PLAIN

# --- 4xx: transient failures --------------------------------------------
SERVICE_UNAVAILABLE = Reply(421, "4.3.2", "Service not available, closing transmission channel")
FORBIDDEN_COMMAND = Reply(421, "4.7.0", "This is an SMTP server, not an HTTP proxy; closing")
TOO_MANY_CONNECTIONS = Reply(421, "4.7.0", "Too many connections, try again later")
# The per-source limits (server.peers): RFC 5321 §3.8 lets a server answer 421
# and close; RFC 3463 X.7.0 says the refusal is policy, not a fault.
TOO_MANY_CONNECTIONS_FROM_PEER = Reply(421, "4.7.0", "Too many connections from your address")
CONNECTION_RATE_EXCEEDED = Reply(
    421, "4.7.0", "Too many new connections from your address, try again later"
)
TOO_MANY_COMMANDS_BEFORE_MAIL = Reply(
    421, "4.7.0", "Too many commands without sending mail, closing connection"
)
TOO_MANY_ERRORS = Reply(421, "4.7.0", "Too many errors, closing connection")
IDLE_TIMEOUT = Reply(421, "4.4.2", "Idle timeout, closing connection")
SESSION_TOO_LONG = Reply(421, "4.4.2", "Session lasted too long, closing connection")
TOO_MANY_AUTH_FAILURES = Reply(421, "4.7.0", "Too many authentication failures")
# Below ServerConfig.min_data_rate: a policy limit like those above (X.7.0),
# not a broken connection (X.4.2).
DATA_TOO_SLOW = Reply(421, "4.7.0", "Data arriving too slowly, closing connection")
TOO_MANY_JUNK_COMMANDS = Reply(421, "4.7.0", "Too many commands without mail, closing connection")
LOCAL_ERROR = Reply(451, "4.3.0", "Local error in processing, try again later")
# RFC 3463 §3.5 X.4.3: the directory (here: the mailbox lookup) could not be asked.
DIRECTORY_UNAVAILABLE = Reply(451, "4.4.3", "Directory server failure, try again later")
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients")  # RFC 5321 §4.5.3.1.10
# RFC 3463 §3.3 X.2.2 "mailbox full": a persistent transient failure, so RCPT gets a 4xx
# and the sender retries until the owner makes room (RFC 5321 §4.2.5's 452).
MAILBOX_FULL = Reply(452, "4.2.2", "Mailbox full, try again later")
TEMP_AUTH_FAILURE = Reply(454, "4.7.0", "Temporary authentication failure")
# RFC 4954 §6: 454 4.7.0 is the temporary failure; the peer may retry later.
AUTH_THROTTLED = Reply(
    454, "4.7.0", "Too many authentication failures from your address, try again later"
)
# The same, when the directory behind the server refuses to check (too many failed
# logins for the account or from the address, across all servers and protocols).
LOGIN_THROTTLED = Reply(454, "4.7.0", "Too many failed logins, try again later")

# --- 5xx: permanent failures --------------------------------------------
COMMAND_UNRECOGNIZED = Reply(500, "5.5.2", "Command not recognized")
LINE_TOO_LONG = Reply(500, "5.5.2", "Line too long")  # RFC 5321 §4.5.3.1.10
NUL_IN_COMMAND = Reply(500, "5.5.2", "NUL byte in command")
BARE_CR_IN_COMMAND = Reply(500, "5.5.2", "Bare CR in command")
AUTH_LINE_TOO_LONG = Reply(500, "5.5.6", "Authentication exchange line too long")  # RFC 4954 §4
SYNTAX_ERROR = Reply(501, "5.5.4", "Syntax error in parameters or arguments")
SYNTAX_EHLO = Reply(501, "5.5.4", "Syntax: EHLO hostname")
SYNTAX_HELO = Reply(501, "5.5.4", "Syntax: HELO hostname")
SYNTAX_MAIL = Reply(501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]")
SYNTAX_RCPT = Reply(501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]")
SYNTAX_BDAT = Reply(501, "5.5.4", "Syntax: BDAT size [LAST]")
SYNTAX_VRFY = Reply(501, "5.5.4", "Syntax: VRFY address")
SYNTAX_NO_ARGUMENTS = Reply(501, "5.5.4", "Syntax: no arguments allowed")
BAD_SENDER_SYNTAX = Reply(501, "5.1.7", "Bad sender address syntax")
BAD_RECIPIENT_SYNTAX = Reply(501, "5.1.3", "Bad recipient address syntax")
PATH_TOO_LONG = Reply(501, "5.1.3", "Path too long")  # RFC 5321 §4.5.3.1.3
INVALID_PARAMETER_VALUE = Reply(501, "5.5.4", "Invalid parameter value")
AUTH_CANCELLED = Reply(501, "5.7.0", "Authentication cancelled")  # RFC 4954 §4
AUTH_MALFORMED = Reply(501, "5.5.2", "Cannot decode authentication response")
COMMAND_NOT_IMPLEMENTED = Reply(502, "5.5.1", "Command not implemented")
BAD_SEQUENCE = Reply(503, "5.5.1", "Bad sequence of commands")
NEED_EHLO = Reply(503, "5.5.1", "Send EHLO or HELO first")
NEED_MAIL = Reply(503, "5.5.1", "Need MAIL command first")
NESTED_MAIL = Reply(503, "5.5.1", "Sender already specified")
ALREADY_AUTHENTICATED = Reply(503, "5.5.1", "Already authenticated")  # RFC 4954 §4
BDAT_AFTER_DATA = Reply(503, "5.5.1", "Cannot mix DATA and BDAT in one transaction")
TLS_ALREADY_ACTIVE = Reply(503, "5.5.1", "TLS already active")
UNKNOWN_AUTH_MECHANISM = Reply(504, "5.5.4", "Unrecognized authentication mechanism")
PARAMETER_NOT_IMPLEMENTED = Reply(504, "5.5.4", "Command parameter not implemented")
AUTH_REQUIRED = Reply(530, "5.7.0", "Authentication required")  # RFC 4954 §6
AUTH_FAILED = Reply(535, "5.7.8", "Authentication credentials invalid")  # RFC 4954 §6
AUTH_NEEDS_TLS = Reply(538, "5.7.11", "Encryption required for requested authentication mechanism")
MAILBOX_UNAVAILABLE = Reply(550, "5.1.1", "Mailbox unavailable")
# RFC 3463 §3.3 X.2.1: the mailbox exists but accepts no messages (an administrator
# disabled the account).
MAILBOX_DISABLED = Reply(550, "5.2.1", "Mailbox disabled")
# RFC 5321 §4.2.3's 552 "exceeded storage allocation" with RFC 3463 X.2.2: the message
# is larger than the room its recipients' mailboxes have left (end of DATA).
MESSAGE_OVER_QUOTA = Reply(552, "5.2.2", "Mailbox full: the message is larger than the room left")
RELAY_DENIED = Reply(550, "5.7.1", "Relaying denied")
# RFC 3463 §3.8 X.7.1: delivery not authorized. Our own domains' mail comes through
# submission (RFC 6409), where the sender logs in, not from strangers on port 25.
LOCAL_SENDER_NOT_AUTHENTICATED = Reply(
    550, "5.7.1", "Mail from this domain must be submitted with authentication"
)
# RFC 3463 §3.8 X.7.1 again: a list whose posting policy (members, or local senders
# only) refuses this sender. Worded for any address: it does not say "list".
SENDER_NOT_AUTHORIZED = Reply(550, "5.7.1", "Delivery not authorized for this sender")
MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
SENDER_NOT_OWNED = Reply(553, "5.7.1", "Sender address not owned by authenticated user")
# After DATA/BDAT: the message's own headers name someone else (RFC 6409 §8.1 lets a
# submission server refuse them), or cannot be read well enough to tell.
FROM_HEADER_NOT_OWNED = Reply(
    553, "5.7.1", "From: and Sender: headers must name only the authenticated user's address"
)
FROM_HEADER_UNREADABLE = Reply(
    553, "5.7.1", "From: or Sender: header cannot be read as a list of addresses"
)
NON_ASCII_NOT_PERMITTED = Reply(
    553, "5.6.7", "Non-ASCII address requires SMTPUTF8"
)  # RFC 6531 §3.5
NO_VALID_RECIPIENTS = Reply(554, "5.5.1", "No valid recipients")  # RFC 5321 §3.3
TRANSACTION_FAILED = Reply(554, "5.0.0", "Transaction failed")
# Why reject rather than normalise: see docs/smtp.md, "SMTP smuggling".
# Reply text is ASCII only (RFC 5321 §4.2 textstring): no "§" on the wire.
BARE_LINE_ENDING_IN_DATA = Reply(
    554,
    "5.5.2",
    "Message data contains a bare CR or LF; lines must end with CRLF (RFC 5321 section 2.3.8)",
)
DATA_LINE_TOO_LONG = Reply(554, "5.5.2", "Message has a line longer than this server accepts")
LOOP_DETECTED = Reply(554, "5.4.6", "Too many Received headers: mail loop detected")
SERVICE_REFUSED = Reply(554, "5.7.1", "Service refused")
UNKNOWN_PARAMETER = Reply(555, "5.5.4", "MAIL FROM/RCPT TO parameter not recognized")
