"""Scripted IMAP sessions against two servers, with the replies parsed for comparing.

A :class:`Client` sends one command at a time with tags ``s1``, ``s2``, ... (the
same on both servers, so that ESEARCH's ``(TAG "s3")`` is equal) and returns a
:class:`Reply`: every untagged response parsed into values
(:func:`tests.integration.dovecot.parse_values`), and the tagged status word
with its response code parsed the same way. The human text after a status (and
after a code) is kept only for messages: RFC 9051 §7.1 leaves it to the server.

Two transports: :class:`SocketClient` (our IMAP gateway over TCP) and
:class:`DovecotClient` (a preauthenticated ``/usr/lib/dovecot/imap`` on pipes,
one process per session over one :class:`tests.integration.dovecot.DovecotMaildir`).
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
from dataclasses import dataclass, field
from typing import IO

from tests.integration.dovecot import DovecotMaildir, Value, parse_values

# Seconds for one answer; the largest SEARCH over the corpus takes well under one.
TIMEOUT = 60
_LITERAL_END = re.compile(rb"\{([0-9]+)\}\r\n\Z")
# A literal inside a command we send: wait for "+" before its bytes (RFC 9051 §4.3).
_SYNC_LITERAL = re.compile(rb"\{([0-9]+)\}\r\n")
_STATUS = re.compile(rb"(OK|NO|BAD|BYE|PREAUTH)(?: \[([^\]]*)\])?(?: (.*))?\Z", re.DOTALL)


@dataclass
class Status:
    """A status response (RFC 9051 §7.1): its word, its code parsed, its text."""

    word: str
    code: list[Value] | None
    text: bytes = field(compare=False)


@dataclass
class Reply:
    """One command's answer: the untagged responses in order, then the tagged status."""

    untagged: list[Status | list[Value]]
    status: Status


def parse_status(line: bytes) -> Status | None:
    """``OK [CODE args] text`` (the part after the tag or ``*``), or None for data."""
    found = _STATUS.match(line)
    if found is None:
        return None
    code = None if found.group(2) is None else parse_values(found.group(2) + b"\r\n")
    return Status(found.group(1).decode(), code, found.group(3) or b"")


class Client:
    """One session; subclasses provide the byte stream."""

    reader: IO[bytes]

    def __init__(self) -> None:
        self._tag = 0

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def _line(self) -> bytes:
        line = self.reader.readline()
        if not line.endswith(b"\n"):
            raise ConnectionError(f"the server closed the session: {line!r}")
        return line

    def response(self) -> bytes:
        """One response line with every literal it announces, CRLFs kept."""
        parts = [self._line()]
        while (announced := _LITERAL_END.search(parts[-1])) is not None:
            parts.append(self.reader.read(int(announced.group(1))))
            parts.append(self._line())
        return b"".join(parts)

    def command(self, text: str | bytes) -> Reply:
        """Send ``tag text`` (synchronising literals waited for); the parsed reply."""
        self._tag += 1
        tag = b"s%d" % self._tag
        data = text.encode("utf-8") if isinstance(text, str) else text
        pieces = _SYNC_LITERAL.split(data)
        # split() gives text, size, text, size, ...: each size ends what we send
        # before the server's "+"; the text after it starts with the literal's bytes.
        head = tag + b" " + pieces[0]
        for size, rest in zip(pieces[1::2], pieces[2::2], strict=True):
            self._write(head + b"{" + size + b"}\r\n")
            line = self.response()
            if not line.startswith(b"+"):
                return Reply([], _tagged(line, tag))
            head = rest
        self._write(head + b"\r\n")
        untagged: list[Status | list[Value]] = []
        while True:
            line = self.response()
            if line.startswith(tag + b" "):
                return Reply(untagged, _tagged(line, tag))
            if not line.startswith(b"* "):
                raise ValueError(f"not a response to {tag!r}: {line!r}")
            body = line[2:].removesuffix(b"\r\n")
            status = parse_status(body)
            untagged.append(status if status is not None else parse_values(body + b"\r\n"))

    def capabilities(self) -> list[Value]:
        """What CAPABILITY lists; the tags start again at s1 after it (as on the
        other server, for ESEARCH's TAG)."""
        reply = self.command("CAPABILITY")
        self._tag = 0
        return [
            v for r in reply.untagged if isinstance(r, list) and r[:1] == ["CAPABILITY"] for v in r
        ]

    def close(self) -> None:
        raise NotImplementedError


def _tagged(line: bytes, tag: bytes) -> Status:
    status = parse_status(line[len(tag) + 1 :].removesuffix(b"\r\n"))
    if status is None:
        raise ValueError(f"not a tagged status: {line!r}")
    return status


class SocketClient(Client):
    """Our IMAP gateway over TCP, logged in with LOGIN."""

    def __init__(self, address: tuple[str, int], user: str, password: str) -> None:
        super().__init__()
        self.sock = socket.create_connection(address, timeout=TIMEOUT)
        self.reader = self.sock.makefile("rb")
        greeting = self.response()
        if not greeting.startswith(b"* OK"):
            raise ConnectionError(f"greeting {greeting!r}")
        reply = self.command(f'LOGIN "{user}" "{password}"')
        if reply.status.word != "OK":
            raise ConnectionError(f"LOGIN answered {reply.status!r}")
        self._tag = 0

    def _write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.command("LOGOUT")
        self.reader.close()
        self.sock.close()


class DovecotClient(Client):
    """One preauthenticated Dovecot session: its own ``imap`` process."""

    def __init__(self, maildir: DovecotMaildir) -> None:
        super().__init__()
        self.maildir = maildir
        self.process = maildir.popen()
        assert self.process.stdout is not None
        self.reader = self.process.stdout
        greeting = self.response()
        if not greeting.startswith(b"* PREAUTH"):
            raise ConnectionError(f"Dovecot greeted {greeting!r} {maildir.log()}")

    def _write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.command("LOGOUT")
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
