"""The POP3 command parser (RFC 1939 §3, RFC 2449 §4, RFC 5034 §4): a line to a Command.

Pure: it knows nothing of sessions or mailboxes, and raises only
:class:`CommandError` (answered ``-ERR`` with its text), whatever the bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 1939 §3: keywords are three or four characters; each argument up to 40. Longer
# arguments are taken all the same (an address as USER often is), within the line limit.
MAX_ARGUMENT = 40
# RFC 2449 §4: a command line is at most 255 octets, CRLF included. A SASL initial
# response may be longer (RFC 5034 §4 lets a client send it in a continuation instead,
# but some do not); it is bounded by the line limit of the connection.
MAX_COMMAND = 255
# The argument counts of each command, (least, most). APOP (RFC 1939 §7) is not
# served: it needs the password in clear on the server, and the mail store keeps hashes.
ARITY: dict[str, tuple[int, int]] = {
    "USER": (1, 1),
    "PASS": (1, 1),
    "AUTH": (0, 2),
    "STLS": (0, 0),
    "CAPA": (0, 0),
    "QUIT": (0, 0),
    "STAT": (0, 0),
    "LIST": (0, 1),
    "RETR": (1, 1),
    "DELE": (1, 1),
    "NOOP": (0, 0),
    "RSET": (0, 0),
    "TOP": (2, 2),
    "UIDL": (0, 1),
}
_KEYWORD = re.compile(rb"[A-Za-z]{3,4}")
_NUMBER = re.compile(r"[0-9]{1,10}")
_PRINTABLE = re.compile(rb"[\x21-\x7e]+")


class CommandError(ValueError):
    """A line that is not a command this server takes; the text is the -ERR reply's."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True, slots=True)
class Command:
    verb: str  # upper-case
    args: tuple[str, ...] = ()

    def __repr__(self) -> str:  # a password never reaches a log
        args = ("***",) if self.verb == "PASS" else self.args
        return f"Command({self.verb!r}, {args!r})"


def parse_command(line: bytes) -> Command:
    """The command on ``line`` (its CRLF, or a bare LF, already removed or not)."""
    line = line.removesuffix(b"\n").removesuffix(b"\r")
    keyword, _, rest = line.partition(b" ")
    if not _KEYWORD.fullmatch(keyword):
        raise CommandError("Unknown command")
    verb = keyword.decode("ascii").upper()
    if verb not in ARITY:
        raise CommandError(f"Unknown command {verb}")
    if verb == "PASS":
        # RFC 1939 §7: PASS has exactly one argument, so spaces belong to the password.
        return Command(verb, (_password(rest),))
    if len(line) + 2 > MAX_COMMAND and verb != "AUTH":
        raise CommandError("Command line too long (RFC 2449 §4)")
    args = tuple(arg.decode("ascii") for arg in _arguments(rest))
    least, most = ARITY[verb]
    if not least <= len(args) <= most:
        raise CommandError(f"Wrong number of arguments to {verb}")
    return Command(verb, args)


def _arguments(rest: bytes) -> list[bytes]:
    if not rest:
        return []
    args = rest.split(b" ")
    if any(not _PRINTABLE.fullmatch(arg) for arg in args):
        raise CommandError("Arguments are printable ASCII separated by single spaces")
    return args


def _password(rest: bytes) -> str:
    if not rest or b"\0" in rest or b"\r" in rest or b"\n" in rest:
        raise CommandError("PASS needs a password")
    try:
        return rest.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError("The password is not UTF-8") from None


def message_number(text: str) -> int:
    """A message-number argument (RFC 1939 §5: 1 and up)."""
    if not _NUMBER.fullmatch(text) or int(text) < 1:
        raise CommandError("Invalid message number")
    return int(text)


def line_count(text: str) -> int:
    """TOP's number of body lines (RFC 1939 §7: non-negative)."""
    if not _NUMBER.fullmatch(text):
        raise CommandError("Invalid number of lines")
    return int(text)
