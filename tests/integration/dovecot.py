"""A private Dovecot IMAP process over stdin/stdout, for differential tests.

Debian's ``dovecot-imapd`` installs ``/usr/lib/dovecot/imap``. Started by hand
rather than by the Dovecot master, it runs "preauthenticated" as the user in
``$USER``: it greets with ``* PREAUTH`` and serves one session on its stdin and
stdout (Dovecot documentation, "Pre-authenticated IMAP"). Nothing here touches
the system's Dovecot: the configuration file, the Maildir, the runtime
directory and the log all live in one temporary directory, removed afterwards
(:class:`DovecotMaildir`; any number of sessions over it, each its own process).
Dovecot refuses to give mail access to root, so as root the files belong to
``nobody`` and Dovecot drops to that user (``mail_uid``).

:func:`parse_values` reads the values of an IMAP response (atoms, numbers,
NIL, quoted strings, literals and nested lists) into Python values, so that a
``FETCH`` answer can be compared item by item.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Self

IMAP_BINARY = Path("/usr/lib/dovecot/imap")
# The shared corpus sits beside the repository: <root>/../shared/corpus.
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "emails"
RUN_AS = "nobody"
# Seconds for one command's answer; the corpus' largest FETCH takes well under one.
TIMEOUT = 60

# A value of a response: NIL is None, a number an int, a string bytes, an atom
# (FETCH item names such as BODY[1.MIME]) str, a parenthesised list a list.
Value = None | int | bytes | str | list["Value"]

_LITERAL_END = re.compile(rb"\{([0-9]+)\}\r\n\Z")
_NUMBER = re.compile(rb"[0-9]+")
# An atom as a response has it, with FETCH's section brackets and partial <n>.
_ATOM = re.compile(rb"[^\s()\"{]+(?:\[[^\]]*\](?:<[0-9]+>)?)?")


def available() -> str | None:
    """None when a private Dovecot can run here, else why not."""
    if not IMAP_BINARY.exists():
        return f"{IMAP_BINARY} not installed (Debian package dovecot-imapd)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root and there is no {RUN_AS} user to run Dovecot as"
    return None


def corpus_files() -> list[Path]:
    """The corpus messages in a fixed order (empty without the corpus)."""
    return sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []


def canonical(raw: bytes) -> bytes:
    """The message as the mail store holds it: every line ends in CRLF.

    SMTP carries lines ending in CRLF and our gateway refuses a bare LF (RFC
    5321 §2.3.8), so a stored message never has one; the corpus files keep the
    line endings of the repositories they came from.
    """
    return re.sub(rb"\r?\n", b"\r\n", raw)


class DovecotMaildir:
    """A Maildir and configuration for private Dovecot sessions, in one temporary directory.

    INBOX holds ``messages`` in order (UID n = messages[n-1]) with the given
    modification times as their internal dates; ``folders`` are created,
    subscribed and given their RFC 6154 special use, as our mail store creates
    an account's standard folders.
    """

    def __init__(
        self,
        messages: Sequence[bytes],
        dates: Sequence[float] | None = None,
        folders: dict[str, str | None] | None = None,
    ) -> None:
        self.messages = list(messages)
        self.dates = None if dates is None else list(dates)
        self.folders = folders or {}
        self.base = Path(tempfile.mkdtemp(prefix="localpost-dovecot-"))

    def __enter__(self) -> Self:
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def _prepare(self) -> None:
        maildir = self.base / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True)
        # Dovecot gives UIDs to new files in the order of their names (the
        # Maildir "unique" part sorts by its leading time stamp, then the rest);
        # the mtime of a Maildir file is its INTERNALDATE.
        for number, raw in enumerate(self.messages, start=1):
            path = maildir / "cur" / f"{1000000 + number}.M{number}P1.localpost:2,"
            path.write_bytes(raw)
            if self.dates is not None:
                os.utime(path, (self.dates[number - 1], self.dates[number - 1]))
        boxes = []
        for name, special_use in self.folders.items():
            use = f" special_use = {special_use}" if special_use else ""
            boxes.append(f'  mailbox "{name}" {{\n    auto = subscribe\n   {use}\n  }}')
        lines = [
            # LAYOUT=fs: "/" is the hierarchy as it is ours, and "." may be in a name.
            f"mail_location = maildir:{maildir}:LAYOUT=fs",
            f"base_dir = {self.base / 'run'}",
            f"log_path = {self.base / 'dovecot.log'}",
            "ssl = no",
            "first_valid_uid = 1",
            "first_valid_gid = 1",
            "namespace inbox {\n  inbox = yes\n  separator = /\n" + "\n".join(boxes) + "\n}",
        ]
        if os.geteuid() == 0:
            user = pwd.getpwnam(RUN_AS)
            lines += [f"mail_uid = {user.pw_uid}", f"mail_gid = {user.pw_gid}"]
        (self.base / "run").mkdir()
        (self.base / "dovecot.conf").write_text("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            user = pwd.getpwnam(RUN_AS)
            for path in [self.base, *self.base.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid)

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def popen(self) -> subprocess.Popen[bytes]:
        """A new preauthenticated session: ``imap`` on pipes."""
        # TZ: Dovecot writes INTERNALDATE in its local zone, we in UTC.
        environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TZ": "UTC"}
        environment |= {"USER": "localpost-test", "HOME": str(self.base)}
        return subprocess.Popen(
            [str(IMAP_BINARY), "-c", str(self.base / "dovecot.conf")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            cwd=self.base,
        )


class PreauthDovecot(DovecotMaildir):
    """One session over a Maildir of ``messages``, INBOX selected, UID n = messages[n-1]
    (``dates``: their internal dates, as for :class:`DovecotMaildir`)."""

    def __init__(self, messages: Sequence[bytes], dates: Sequence[float] | None = None) -> None:
        super().__init__(messages, dates)
        self.process: subprocess.Popen[bytes] | None = None
        self._tag = 0

    def __enter__(self) -> Self:
        super().__enter__()
        try:
            self.process = self.popen()
            greeting = self._read_line()
            if not greeting.startswith(b"* PREAUTH"):
                raise RuntimeError(f"Dovecot did not greet with PREAUTH: {greeting!r} {self.log()}")
            self.command("SELECT INBOX")
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                assert self.process.stdin is not None
                try:
                    self.process.stdin.write(b"z LOGOUT\r\n")
                    self.process.stdin.close()
                except BrokenPipeError:
                    pass
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self.process.stdin is not None:
                # Also when Dovecot ended by itself (it does on some BINARY requests).
                with contextlib.suppress(BrokenPipeError):
                    self.process.stdin.close()
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
            self.process = None
        super().close()

    # --- one command at a time -----------------------------------------------------------

    def command(self, text: str) -> list[bytes]:
        """Send ``tag text``; the untagged responses, each whole with its literals.

        Raises when the tagged answer is not OK.
        """
        assert self.process is not None
        assert self.process.stdin is not None
        self._tag += 1
        tag = b"t%d" % self._tag
        self.process.stdin.write(tag + b" " + text.encode("utf-8") + b"\r\n")
        self.process.stdin.flush()
        responses: list[bytes] = []
        while True:
            response = self._read_response()
            if response.startswith(tag + b" "):
                if not response.startswith(tag + b" OK"):
                    raise RuntimeError(f"Dovecot answered {text!r} with {response!r}")
                return responses
            responses.append(response)

    def fetch(self, uid: int, items: str) -> dict[str, Value]:
        """``UID FETCH uid (items)`` as a mapping of item name to value."""
        found: dict[str, Value] = {}
        for response in self.command(f"UID FETCH {uid} ({items})"):
            values = parse_values(response)
            if len(values) == 4 and values[2] == "FETCH" and isinstance(values[3], list):
                pairs = values[3]
                for name, value in zip(pairs[::2], pairs[1::2], strict=True):
                    assert isinstance(name, str)
                    found[name.upper()] = value
        if found.get("UID") != uid:
            raise RuntimeError(f"no FETCH answer for UID {uid}: {found!r}")
        return found

    def _read_line(self) -> bytes:
        assert self.process is not None
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.endswith(b"\n"):
            raise RuntimeError(f"Dovecot closed its output: {line!r} {self.log()}")
        return line

    def _read_response(self) -> bytes:
        """One response line with every literal it announces, CRLFs kept."""
        assert self.process is not None
        assert self.process.stdout is not None
        parts = [self._read_line()]
        while (announced := _LITERAL_END.search(parts[-1])) is not None:
            parts.append(self.process.stdout.read(int(announced.group(1))))
            parts.append(self._read_line())
        return b"".join(parts)


def parse_values(response: bytes) -> list[Value]:
    """The space-separated values of one response (ending in CRLF)."""
    parser = _ValueParser(response.removesuffix(b"\r\n"))
    values = []
    while parser.pos < len(parser.data):
        values.append(parser.value())
        parser.space()
    return values


class _ValueParser:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def space(self) -> None:
        if self.data[self.pos : self.pos + 1] == b" ":
            self.pos += 1

    def value(self) -> Value:
        data, pos = self.data, self.pos
        head = data[pos : pos + 1]
        if head == b"(":
            self.pos += 1
            items: list[Value] = []
            while self.data[self.pos : self.pos + 1] != b")":
                if self.pos >= len(self.data):
                    raise ValueError("list not closed")
                items.append(self.value())
                self.space()
            self.pos += 1
            return items
        if head == b'"':
            end = pos + 1
            out = bytearray()
            while data[end : end + 1] != b'"':
                if data[end : end + 1] == b"\\":
                    end += 1
                if end >= len(data):
                    raise ValueError("quoted string not closed")
                out += data[end : end + 1]
                end += 1
            self.pos = end + 1
            return bytes(out)
        if head == b"~" and data[pos + 1 : pos + 2] == b"{":
            # A literal8 (RFC 3516 §4.2, BINARY): the same octets, NUL allowed.
            self.pos = pos = pos + 1
            head = b"{"
        if head == b"{":
            close = data.index(b"}\r\n", pos)
            size = int(data[pos + 1 : close])
            start = close + 3
            self.pos = start + size
            return data[start : start + size]
        found = _NUMBER.match(data, pos)
        if found is not None and (found.end() == len(data) or data[found.end()] in b" )"):
            self.pos = found.end()
            return int(found.group())
        found = _ATOM.match(data, pos)
        if found is None:
            raise ValueError(f"no value at {pos}: {data[pos : pos + 20]!r}")
        self.pos = found.end()
        atom = found.group().decode("ascii")
        return None if atom.upper() == "NIL" else atom
