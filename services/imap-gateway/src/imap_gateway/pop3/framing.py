"""A message as a POP3 multi-line response (RFC 1939 §3), streamed chunk by chunk.

Lines that begin with "." get one more "." (byte-stuffing); a message whose last
line has no line end gets a CRLF before the terminating ".CRLF"; every other octet
goes out as stored (8-bit bodies untouched, no line-end conversion: the stored
bytes are the message as it arrived). A line starts after any LF, so a stored bare
LF followed by "." is stuffed too: a client that splits on LF never sees a false
end of the message.

:class:`DotStuffer` keeps only a few flags between chunks, so a 20 MiB message
passes through in the backend's chunks, never held whole. With ``body_lines``
it stops after the header, the blank line and that many body lines (TOP, RFC 1939
§7); :attr:`DotStuffer.done` then tells the caller to stop reading.
"""

from __future__ import annotations

from imap_gateway.pop3.replies import CRLF, TERMINATOR


class DotStuffer:
    def __init__(self, *, body_lines: int | None = None) -> None:
        self._limit = body_lines
        self._at_start = True  # the next octet begins a line
        self._in_header = True
        self._blank = True  # the current line holds nothing but CRs so far
        self._body_sent = 0
        self.done = False

    def feed(self, chunk: bytes) -> bytes:
        """The octets to send for the next ``chunk`` of the message."""
        if self.done or not chunk:
            return b""
        if self._limit is None:
            out = chunk.replace(b"\n.", b"\n..")
            if self._at_start and chunk.startswith(b"."):
                out = b"." + out
            self._at_start = chunk.endswith(b"\n")
            return out
        return self._feed_lines(chunk)

    def _feed_lines(self, chunk: bytes) -> bytes:
        assert self._limit is not None
        out = bytearray()
        pos = 0
        while pos < len(chunk):
            if self._at_start:
                if not self._in_header and self._body_sent >= self._limit:
                    self.done = True
                    break
                if not self._in_header:
                    self._body_sent += 1
                if chunk[pos] == 0x2E:  # "."
                    out += b"."
                self._blank = True
            end = chunk.find(b"\n", pos)
            piece = chunk[pos:] if end < 0 else chunk[pos : end + 1]
            content = piece[:-1] if end >= 0 else piece
            self._blank = self._blank and not content.strip(b"\r")
            out += piece
            pos += len(piece)
            self._at_start = end >= 0
            if self._at_start and self._in_header and self._blank:
                self._in_header = False  # the blank line ends the header (RFC 5322 §2.1)
        if self._at_start and not self._in_header and self._body_sent >= self._limit:
            self.done = True
        return bytes(out)

    def end(self) -> bytes:
        """What ends the response: a CRLF if the last line had no line end, then ".CRLF"."""
        return TERMINATOR if self._at_start else CRLF + TERMINATOR


def stuffed(message: bytes, *, body_lines: int | None = None) -> bytes:
    """The whole multi-line response body of ``message`` at once (tests, small data)."""
    stuffer = DotStuffer(body_lines=body_lines)
    return stuffer.feed(message) + stuffer.end()
