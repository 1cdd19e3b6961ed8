"""Errors of the wire layer: each carries the response to send and how to go on.

The tree::

    WireError                   base class; never raised itself. Carries ``tag``
    │                           (None when the command's tag is unknown: the
    │                           answer is untagged), ``status`` (BAD, NO or BYE),
    │                           ``code`` (an RFC 5530 response code or None),
    │                           ``text`` and ``recovery``
    ├── FramingError            raised by the framer while reading a command
    │   ├── LineTooLong         a line over WireLimits.max_line_length (RFC 7162
    │   │                       §4); BAD, the framer drops the rest of the command
    │   ├── LiteralTooBig       a literal over max_literal_size: BAD [TOOBIG], or
    │   │   │                   NO [TOOBIG] in APPEND (RFC 7889 §4). A
    │   │   │                   synchronizing one is answered instead of the
    │   │   │                   continuation, so the client never sends it (RFC
    │   │   │                   9051 §7.5); a non-synchronizing one is read and
    │   │   │                   dropped, or the session closes when it is over
    │   │   │                   WireLimits.max_discard
    │   │   ├── NonSyncLiteralTooBig  LITERAL- refuses a {n+} over 4096 octets
    │   │   │                   (RFC 7888 §4): BAD [TOOBIG]
    │   │   └── CommandTooLong  lines and literals of one command together over
    │   │                       max_command_size; answered as LiteralTooBig
    │   └── DiscardTooLong      the dropped rest of a refused command announced a
    │                           non-synchronizing literal over max_discard; BYE
    └── ParseError              the command arrived whole but does not follow the
        │                       grammar (RFC 9051 §9); BAD naming what was
        │                       expected where
        ├── UnknownCommand      the command name is not one we know; BAD
        ├── NestingTooDeep      lists or search keys nested deeper than
        │                       max_nesting_depth; BAD
        └── InvalidMailboxName  an astring that is no mailbox name (not modified
                                UTF-7, a control character): the grammar allows
                                any astring (RFC 9051 §9 ``mailbox``), so NO
                                [CANNOT], not BAD

``ConnectionClosed`` (an ``EOFError``, not a ``WireError``) is raised when the
client goes away mid-command: there is nobody to answer.

``recovery`` is the rule the session follows after answering:
:attr:`Recovery.NEXT_COMMAND` means the command is consumed (or the framer will
drop its rest by itself) and the next command can be read; :attr:`Recovery.CLOSE`
means the byte stream cannot be brought back in step: send ``* BYE`` and close.
"""

from __future__ import annotations

import enum

from imap_gateway.wire import codes

__all__ = [
    "CommandTooLong",
    "ConnectionClosed",
    "DiscardTooLong",
    "FramingError",
    "InvalidMailboxName",
    "LineTooLong",
    "LiteralTooBig",
    "NestingTooDeep",
    "NonSyncLiteralTooBig",
    "ParseError",
    "Recovery",
    "UnknownCommand",
    "WireError",
]


class Recovery(enum.Enum):
    """What the session does after sending the error's response."""

    NEXT_COMMAND = "next-command"
    CLOSE = "close"


class WireError(Exception):
    """Base class of every error the wire layer raises on purpose."""

    status: str = codes.BAD
    code: str | None = None

    def __init__(
        self,
        text: str,
        *,
        tag: str | None = None,
        status: str | None = None,
        code: str | None = None,
        recovery: Recovery = Recovery.NEXT_COMMAND,
    ) -> None:
        super().__init__(text)
        self.text = text
        self.tag = tag
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.recovery = recovery

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.text!r}, tag={self.tag!r}, status={self.status!r}, "
            f"code={self.code!r}, recovery={self.recovery.value!r})"
        )


class FramingError(WireError):
    """The command could not be read whole."""


class LineTooLong(FramingError):
    """A command line was longer than WireLimits.max_line_length."""


class LiteralTooBig(FramingError):
    """A literal over a limit; NO [TOOBIG] in APPEND (RFC 7889 §4), else BAD [TOOBIG]."""

    code = codes.TOOBIG


class NonSyncLiteralTooBig(LiteralTooBig):
    """LITERAL- (RFC 7888 §4): a non-synchronizing literal over 4096 octets."""


class CommandTooLong(LiteralTooBig):
    """Lines and literals of one command together over WireLimits.max_command_size."""


class DiscardTooLong(FramingError):
    """The rest of a refused command is too long to drop; the session closes."""

    status = codes.BYE


class ParseError(WireError):
    """A whole command that does not follow the grammar; ``position`` is where."""

    def __init__(self, text: str, *, tag: str | None = None, position: int = 0) -> None:
        super().__init__(text, tag=tag)
        self.position = position


class UnknownCommand(ParseError):
    """The command name is not one the parser knows (RFC 9051 §7.1.3: BAD)."""


class NestingTooDeep(ParseError):
    """Lists or search keys nested deeper than WireLimits.max_nesting_depth."""


class InvalidMailboxName(ParseError):
    """A mailbox name that the grammar allows but no mailbox can have (RFC 3501 §5.1.3)."""

    status = codes.NO
    code = codes.CANNOT


class ConnectionClosed(EOFError):
    """The client closed the connection before a command was complete."""
