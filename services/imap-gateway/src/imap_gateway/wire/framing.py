"""Command framing (RFC 9051 §2.2, §4.3, §7.5; RFC 7888; RFC 3516): pure byte logic.

A command is a line up to CRLF; a line that ends in a literal announcement
(``{n}``, ``{n+}``, ``~{n}``, ``~{n+}``) is followed by exactly n octets and then
by the rest of the command, again a line. :class:`CommandFramer` is fed bytes as
they arrive and hands out whole :class:`RawCommand` values; it does no I/O, so
it can be fuzzed on its own and driven by :mod:`imap_gateway.wire.reader`.

A synchronizing literal (``{n}``) is only sent by the client after a
continuation request (RFC 9051 §7.5): the framer says :attr:`Wait.CONTINUATION`
and reads the literal once the caller reports :meth:`CommandFramer.continuation_sent`.
A literal over a limit is refused instead of continued, so the client never sends
it. A non-synchronizing literal (``{n+}``, RFC 7888) comes anyway: a refused one
is read and dropped, together with the rest of its command.

Memory: a line is held whole (max_line_length), a command's literals are held
until the command is complete (max_command_size); refused data is only counted.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from imap_gateway.wire import codes
from imap_gateway.wire.errors import (
    CommandTooLong,
    DiscardTooLong,
    FramingError,
    LineTooLong,
    LiteralTooBig,
    NonSyncLiteralTooBig,
    Recovery,
)
from imap_gateway.wire.limits import NUMBER64_MAX, WireLimits

CRLF = b"\r\n"
# The end of a line that announces a literal: RFC 9051 §9 literal / literal8 with the
# RFC 7888 "+". Matched from the line's last "{" (one step back for "~").
_ANNOUNCEMENT = re.compile(rb"(~?)\{([0-9]+)(\+?)\}")
# The tag (RFC 9051 §9: 1*<ASTRING-CHAR except "+">) and command name at the start
# of a command, to address an error to its command and to spot APPEND (RFC 7889).
_HEAD = re.compile(rb"([!#$&',\-./0-9:;<=>?@A-Z\[\]^_`a-z|}~]+)(?: ([A-Za-z]+))?")
# Enough of a line's end to hold any announcement that can still be honoured.
_TAIL = 48


class Wait(enum.Enum):
    """What the framer needs before it can go on."""

    DATA = "data"  # more bytes from the client
    CONTINUATION = "continuation"  # the caller to send "+ ..." (RFC 9051 §7.5)


@dataclass(frozen=True, slots=True)
class RawCommand:
    """One whole command as sent: ``lines`` without CRLF, one literal between two lines.

    ``len(lines) == len(literals) + 1``; every line but the last ends in the
    announcement of the literal that follows it.
    """

    lines: tuple[bytes, ...]
    literals: tuple[bytes, ...] = ()

    @classmethod
    def frame(cls, data: bytes, limits: WireLimits | None = None) -> RawCommand:
        """Frame one complete command held in ``data`` (tests, fuzzing)."""
        framer = CommandFramer(limits or WireLimits())
        framer.feed(data)
        while True:
            event = framer.next()
            if isinstance(event, RawCommand):
                return event
            if event is Wait.DATA:
                raise ValueError("data ends before the command does")
            framer.continuation_sent()


@dataclass(frozen=True, slots=True)
class Announcement:
    """A literal announced at the end of a line."""

    size: int
    sync: bool
    binary: bool


def announcement(line: bytes) -> Announcement | None:
    """The literal announced at the end of ``line``, if any; size -1 past number64."""
    if not line.endswith(b"}"):
        return None
    start = line.rfind(b"{")
    if start < 0:
        return None
    if start and line[start - 1] == 0x7E:  # "~": literal8 (RFC 3516 §4.2)
        start -= 1
    match = _ANNOUNCEMENT.fullmatch(line, start)
    if match is None:
        return None
    digits = match.group(2)
    # More than 19 digits cannot be a number64 (RFC 9051 §9); do not convert them.
    size = int(digits) if len(digits) <= 19 else -1
    if size > NUMBER64_MAX:
        size = -1
    return Announcement(size=size, sync=not match.group(3), binary=bool(match.group(1)))


def command_tag(line: bytes) -> str | None:
    """The tag a (possibly partial) first line starts with, if it is a valid tag."""
    match = _HEAD.match(line)
    if match is None or (match.end() < len(line) and line[match.end()] != 0x20):
        return None
    return match.group(1).decode("ascii")


class CommandFramer:
    """Splits the client's bytes into commands; see the module docstring."""

    def __init__(self, limits: WireLimits) -> None:
        self.limits = limits
        self._buf = bytearray()
        self._scanned = 0  # where the search for CRLF resumes
        self._discard = 0  # octets of a refused non-synchronizing literal still to drop
        self._discard_line = False  # drop up to the next CRLF (rest of a refused command)
        self._discarded = 0
        self._tail = b""
        self._reset()

    def _reset(self) -> None:
        self._lines: list[bytes] = []
        self._literals: list[bytes] = []
        self._size = 0
        self._literal: Announcement | None = None
        self._chunks: list[bytes] = []
        self._got = 0
        self._continued = False
        self._tag: str | None = None
        self._is_append = False

    # --- feeding ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Add bytes as they arrived; call :meth:`next` after each feed."""
        self._buf += data

    def wanted(self) -> int:
        """How many bytes to read next: never past a literal, never more than a chunk."""
        chunk = self.limits.read_chunk
        if self._discard:
            return max(1, min(chunk, self._discard - len(self._buf)))
        if self._literal is not None:
            return max(1, min(chunk, self._literal.size - self._got - len(self._buf)))
        return chunk

    def continuation_sent(self) -> None:
        """The caller sent the continuation request the framer asked for."""
        self._continued = True

    @property
    def idle(self) -> bool:
        """Nothing of a command has arrived yet (no partial line, literal or discard)."""
        return not (self._buf or self._lines or self._discard or self._discard_line)

    # --- framing ---------------------------------------------------------------------

    def next(self) -> RawCommand | Wait:
        """The next whole command, or what the framer waits for. Raises FramingError."""
        while True:
            if self._discard:
                if not self._drop_literal():
                    return Wait.DATA
            elif self._discard_line:
                if not self._drop_line():
                    return Wait.DATA
            elif self._literal is not None:
                if self._literal.sync and not self._continued:
                    return Wait.CONTINUATION
                if not self._read_literal(self._literal.size):
                    return Wait.DATA
            else:
                line = self._take_line()
                if line is None:
                    return Wait.DATA
                command = self._on_line(line)
                if command is not None:
                    return command

    def next_line(self) -> bytes | Wait:
        """One bare line (an AUTHENTICATE response, IDLE's DONE): RFC 9051 §6.2.2, §6.3.13."""
        while self._discard or self._discard_line:
            done = self._drop_literal() if self._discard else self._drop_line()
            if not done:
                return Wait.DATA
        line = self._take_line()
        return Wait.DATA if line is None else line

    def _take_line(self) -> bytes | None:
        buf = self._buf
        end = buf.find(CRLF, max(0, self._scanned - 1))
        limit = self.limits.max_line_length
        if end < 0:
            self._scanned = len(buf)
            if len(buf) <= limit + 1:  # the last byte may be the CR of a CRLF in range
                return None
            # Too long already: answer now, while the client may still be sending.
            end = len(buf) - 1 if buf.endswith(b"\r") else len(buf)
        elif end <= limit:
            line = bytes(buf[:end])
            del buf[: end + 2]
            self._scanned = 0
            return line
        tag = self._tag if self._lines else command_tag(bytes(buf[:_TAIL]))
        # Keep what may be the line's CRLF: _drop_line ends the line exactly as when
        # it arrives in other parts, so the outcome never depends on the split.
        self._tail = bytes(buf[max(0, end - _TAIL) : end])
        del buf[:end]
        self._scanned = 0
        self._discard_line = True
        self._reset()
        raise LineTooLong("command line too long", tag=tag)

    def _on_line(self, line: bytes) -> RawCommand | None:
        if not self._lines:
            match = _HEAD.match(line)
            self._tag = command_tag(line)
            self._is_append = bool(match and match.group(2) and match.group(2).upper() == b"APPEND")
        self._lines.append(line)
        self._size += len(line) + 2
        found = announcement(line)
        if self._size > self.limits.max_command_size:
            self._refuse(CommandTooLong, "command too long", found)
        if found is None:
            command = RawCommand(tuple(self._lines), tuple(self._literals))
            self._reset()
            return command
        if found.size < 0 or found.size > self.limits.max_literal_size:
            self._refuse(LiteralTooBig, "literal too big", found)
        nonsync_max = self.limits.max_nonsync_literal
        if not found.sync and nonsync_max is not None and found.size > nonsync_max:
            # RFC 7888 §4: LITERAL- takes non-synchronizing literals up to 4096 octets.
            self._refuse(NonSyncLiteralTooBig, "non-synchronizing literal too big", found)
        if self._size + found.size > self.limits.max_command_size:
            self._refuse(CommandTooLong, "command too long", found)
        self._literal = found
        self._continued = False
        return None

    def _refuse(
        self, error_class: type[LiteralTooBig], text: str, found: Announcement | None
    ) -> None:
        # RFC 7889 §4: an APPEND over the limit is NO [TOOBIG]; elsewhere a
        # syntax-level refusal is BAD (RFC 7888 §4 asks BAD [TOOBIG] for LITERAL-).
        status = codes.NO if self._is_append and error_class is not NonSyncLiteralTooBig else None
        error = error_class(text, tag=self._tag, status=status)
        self._reset()
        if found is not None:
            self._after_dropped_line(b"", error, found)
        raise error

    def _after_dropped_line(
        self, tail: bytes, error: FramingError, found: Announcement | None = None
    ) -> None:
        """Drop what the client still sends of a refused command, or decide to close."""
        if found is None:
            found = announcement(tail)
        # A synchronizing literal is never sent: the tagged answer replaces the
        # continuation request (RFC 9051 §7.5). Nothing else follows it.
        if found is None or found.sync:
            self._discarded = 0
            return
        self._discarded += max(found.size, 0)
        if found.size < 0 or self._discarded > self.limits.max_discard:
            error.recovery = Recovery.CLOSE
            self._discarded = 0
            return
        self._discard = found.size
        self._discard_line = True

    def _drop_literal(self) -> bool:
        take = min(self._discard, len(self._buf))
        del self._buf[:take]
        self._discard -= take
        return not self._discard

    def _drop_line(self) -> bool:
        buf = self._buf
        end = buf.find(CRLF, max(0, self._scanned - 1))
        if end < 0:
            self._tail = (self._tail + bytes(buf[-_TAIL:]))[-_TAIL:]
            # Keep a final CR: it may be the first half of the CRLF we look for.
            keep = 1 if buf.endswith(b"\r") else 0
            del buf[: len(buf) - keep]
            self._scanned = keep
            return False
        tail = (self._tail + bytes(buf[max(0, end - _TAIL) : end]))[-_TAIL:]
        del buf[: end + 2]
        self._scanned = 0
        self._tail = b""
        self._discard_line = False
        error = DiscardTooLong("too much data to discard")
        self._after_dropped_line(tail, error)
        if error.recovery is Recovery.CLOSE:
            raise error
        return True

    def _read_literal(self, size: int) -> bool:
        buf = self._buf
        take = min(size - self._got, len(buf))
        if take:
            self._chunks.append(bytes(buf[:take]))
            del buf[:take]
            self._got += take
        if self._got < size:
            return False
        self._literals.append(b"".join(self._chunks) if len(self._chunks) != 1 else self._chunks[0])
        self._size += size
        self._chunks = []
        self._got = 0
        self._literal = None
        return True
