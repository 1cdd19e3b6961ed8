"""Message framing for DATA (RFC 5321 §4.1.1.4, §4.5.2) and BDAT (RFC 3030).

Pure byte logic with no I/O, so it can be tested and fuzzed on its own.

BDAT chunks are framed by their size, but a message with a bare CR or LF is
refused there too (:class:`LineEndings`): the next MTA, speaking DATA, would
split its lines differently.

DATA ends only at ``<CRLF>.<CRLF>``. A bare LF or bare CR never ends a line,
never starts a dot-stuffed line and never ends the data; a message that
contains one is read to its real end and then refused. That closes the SMTP
smuggling class (CVE-2023-51764 and relatives): no byte sequence can make us
see two messages where a downstream MTA sees one, or the reverse.

Both framers stream: the caller hands over whatever arrived, they keep at most
the message size limit (plus one chunk), and past the limit they only count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_END = b"\r\n.\r\n"
_END_AT_START = b".\r\n"  # the DATA command's own CRLF precedes the first line
# The longest suffix that could be the start of the end marker or of a CRLF
# that belongs to the next chunk; kept back until more data arrives.
_KEEP = len(_END) - 1


@dataclass(slots=True)
class Content:
    """Message bytes collected so far, bounded by a size limit."""

    limit: int
    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    too_big: bool = False

    def add(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.too_big:
            return
        if self.size > self.limit:
            # RFC 5321 §4.5.3.1.10 / RFC 1870 §6.3: read to the end, then 552.
            # Drop what we hold now: memory never exceeds the limit.
            self.too_big = True
            self.parts.clear()
            return
        self.parts.append(piece)

    def join(self, prefix: bytes = b"") -> bytes:
        """The message, with ``prefix`` (a trace header) in front: one copy."""
        if prefix:
            return b"".join([prefix, *self.parts])
        return b"".join(self.parts)


@dataclass(slots=True)
class DataFramer:
    """Finds the end of DATA, undoes dot-stuffing and checks line endings."""

    content: Content
    line_limit: int
    bare_line_ending: bool = False
    line_too_long: bool = False
    done: bool = False
    _at_line_start: bool = True
    _line_length: int = 0

    def feed(self, buf: bytearray) -> None:
        """Consume what can be decided from ``buf`` (in place); set ``done`` at the end."""
        if self._at_line_start and buf.startswith(_END_AT_START):
            del buf[: len(_END_AT_START)]
            self.done = True
            return
        end = buf.find(_END)
        if end >= 0:
            # Keep the CRLF that ends the last line: it belongs to the message.
            self._process(bytes(buf[: end + 2]))
            del buf[: end + len(_END)]
            self.done = True
            return
        cut = len(buf) - _KEEP
        if cut <= 0:
            return
        if buf[cut - 1] == 0x0D:  # never split a CRLF between two chunks
            cut -= 1
        self._process(bytes(buf[:cut]))
        del buf[:cut]

    def _process(self, chunk: bytes) -> None:
        if not chunk:
            return
        crlf = chunk.count(b"\r\n")
        if chunk.count(b"\n") != crlf or chunk.count(b"\r") != crlf:
            self.bare_line_ending = True
        # Decided on the bytes as sent: unstuffing may make "\r\n." end in CRLF.
        ends_line = chunk.endswith(b"\r\n")
        # RFC 5321 §4.5.2: a line that starts with "." had one added by the
        # sender. The lone "." line was taken as the end marker above.
        if self._at_line_start and chunk[:1] == b".":
            chunk = chunk[1:]
        if crlf:
            chunk = chunk.replace(b"\r\n.", b"\r\n")
        # The limit is on the line as the author wrote it, not its stuffed form.
        self._check_lines(chunk, crlf)
        self._at_line_start = ends_line
        self.content.add(chunk)

    def _check_lines(self, chunk: bytes, crlf: int) -> None:
        if self.line_too_long:
            return
        limit = self.line_limit
        if not crlf:
            self._line_length += len(chunk)
        else:
            first = chunk.find(b"\r\n")
            last = chunk.rfind(b"\r\n")
            head = self._line_length + first
            self._line_length = len(chunk) - last - 2
            # Only split the middle when it is long enough to hide a long line.
            if head > limit or (
                last - first > limit
                and max(map(len, chunk[first + 2 : last].split(b"\r\n"))) > limit
            ):
                self.line_too_long = True
        if self._line_length > limit:
            self.line_too_long = True


@dataclass(slots=True)
class LineEndings:
    """Whether a stream of chunks holds a CR or LF outside a CRLF pair.

    For BDAT (RFC 3030), whose chunks are framed by size and may split a CRLF
    between two of them; DataFramer checks the same for DATA.
    """

    bare: bool = False
    _cr_pending: bool = False  # the last chunk ended in CR: its LF may come next

    def feed(self, piece: bytes) -> None:
        if self.bare or not piece:
            return
        if self._cr_pending:
            if piece[:1] != b"\n":
                self.bare = True
                return
            piece = piece[1:]
        self._cr_pending = piece.endswith(b"\r")
        if self._cr_pending:
            piece = piece[:-1]
        crlf = piece.count(b"\r\n")
        if piece.count(b"\r") != crlf or piece.count(b"\n") != crlf:
            self.bare = True

    def finish(self) -> None:
        """The stream ended: a CR still waiting for its LF is bare."""
        if self._cr_pending:
            self.bare = True


def count_received_headers(message: bytes, stop_after: int) -> int:
    """How many ``Received:`` fields the header section has (up to ``stop_after`` + 1).

    RFC 5321 §6.3: a count of trace headers is the simple, reliable loop check.
    """
    end = message.find(b"\r\n\r\n")
    header = (message if end < 0 else message[: end + 2]).lower()
    count = header.startswith(b"received:") + header.count(b"\nreceived:")
    return min(count, stop_after + 1)
