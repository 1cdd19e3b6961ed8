"""Random (parseable) command sequences against a live session over a socket.

Whatever comes, the session answers each tag exactly once, never drops the
connection, and keeps the client's sequence numbers right: no EXPUNGE while
answering FETCH, STORE or SEARCH, no number past the message count, and an
EXISTS never shrinks the mailbox. Meanwhile "another agent" delivers and
expunges messages through the backend.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imap_gateway.memory import MemoryBackend
from imap_gateway.session import connection_handler
from libs.smtplib_common.tests.fuzzing import fuzz_settings

USER = "fuzz@example.org"
PASSWORD = "pw"
WAIT = 5.0

sets = st.sampled_from(["1", "1:*", "*", "2:4", "$", "3,1", "5:2", "100", "1:100"])
names = st.sampled_from(["INBOX", "Sent", "Nope", "A/B", '"with space"', "&ZeVnLIqe-", "A"])
flag_lists = st.sampled_from(["(\\Seen)", "(\\Deleted)", "($Work \\Flagged)", "()", "\\Answered"])
fetch_items = st.sampled_from(
    [
        "FLAGS",
        "UID",
        "(UID FLAGS)",
        "BODY[]",
        "BODY.PEEK[HEADER]",
        "(RFC822.SIZE ENVELOPE)",
        "BODY[1]<0.5>",
        "FAST",
        "(MODSEQ)",
        "BINARY[]",
        "BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
    ]
)
search_keys = st.sampled_from(
    [
        "ALL",
        "FLAGGED",
        "OR 1 2",
        "NOT DELETED",
        "UID 1:*",
        "$",
        "SUBJECT x",
        "CHARSET UTF-8 ALL",
        "CHARSET BIG5 ALL",
        "RETURN (SAVE) ALL",
        "RETURN (MIN COUNT) UNSEEN",
        "MODSEQ 1",
        "5:2",
    ]
)
prefix = st.sampled_from(["", "UID "])


def fmt(template: str) -> st.SearchStrategy[str]:
    return st.builds(
        template.format,
        s=sets,
        m=names,
        n=names,
        f=flag_lists,
        i=fetch_items,
        k=search_keys,
        u=prefix,
    )


COMMANDS = st.one_of(
    st.sampled_from(
        [
            "CAPABILITY",
            "NOOP",
            "CHECK",
            "EXPUNGE",
            "CLOSE",
            "UNSELECT",
            "NAMESPACE",
            "ID NIL",
            'LIST "" *',
            'LSUB "" *',
            "ENABLE CONDSTORE",
            "ENABLE IMAP4rev2",
            "STARTTLS",
            "FOO",
            "FETCH",
            "UID FROB 1",
            "LOGIN a",
            "SELECT",
            "IDLE x",
            "SEARCH CHARSET",
            f'LOGIN {USER} "{PASSWORD}"',
            f'LOGIN {USER} "wrong"',
        ]
    ),
    # Another agent's changes, as often as any command family.
    st.sampled_from(["*deliver*", "*expunge*"]),
    st.sampled_from(["*deliver*", "*expunge*"]),
    fmt("SELECT {m}"),
    fmt("EXAMINE {m}"),
    fmt("SELECT {m} (CONDSTORE)"),
    fmt("{u}FETCH {s} {i}"),
    fmt("{u}STORE {s} +FLAGS {f}"),
    fmt("{u}STORE {s} FLAGS.SILENT {f}"),
    fmt("{u}STORE {s} (UNCHANGEDSINCE 3) -FLAGS {f}"),
    fmt("{u}COPY {s} {m}"),
    fmt("{u}MOVE {s} {m}"),
    fmt("UID EXPUNGE {s}"),
    fmt("{u}SEARCH {k}"),
    fmt("STATUS {m} (MESSAGES UIDNEXT UNSEEN)"),
    fmt("CREATE {m}"),
    fmt("DELETE {m}"),
    fmt("RENAME {m} {n}"),
    fmt("SUBSCRIBE {m}"),
    fmt("APPEND {m} {f} {{5+}}\r\nhello"),
)


@dataclass
class View:
    """What a client may conclude from the responses: the message count."""

    count: int | None = None

    def answered(self, command: str, status: bytes) -> None:
        # A SELECT that fails leaves no mailbox selected (RFC 9051 §6.3.2); BAD changes nothing.
        leaves = command.startswith(("SELECT", "EXAMINE")) and status == b"NO"
        if leaves or (command in ("CLOSE", "UNSELECT", "LOGOUT") and status == b"OK"):
            self.count = None

    def check(self, command: str, line: bytes) -> None:
        # FLAGS begins what SELECT says of a newly selected mailbox; a STORE that
        # makes a keyword sends it too, in the same mailbox.
        if line.startswith(b"* FLAGS ") and command.startswith(("SELECT", "EXAMINE")):
            self.count = None
        numbered = re.match(rb"\* (\d+) (EXISTS|EXPUNGE|FETCH)\b", line)
        if numbered is None:
            return
        n, kind = int(numbered[1]), numbered[2]
        if kind == b"EXISTS":
            assert (
                self.count is None or n >= self.count or command.startswith(("SELECT", "EXAMINE"))
            )
            self.count = n
            return
        assert self.count is not None, line
        assert 1 <= n <= self.count, (command, line, self.count)
        if kind == b"EXPUNGE":
            assert not re.match(r"(FETCH|STORE|SEARCH) ", command), (command, line)
            self.count -= 1


def other_agent(backend: MemoryBackend, action: str) -> None:
    folder = backend.accounts[USER].folders["INBOX"]
    if action == "*deliver*":
        backend.deliver(USER, b"Subject: new\r\n\r\nfresh\r\n")
    elif folder.messages:
        folder.remove([next(iter(folder.messages))])


async def scenario(commands: list[str]) -> None:
    backend = MemoryBackend()
    backend.add_user(USER, PASSWORD)
    for n in range(3):
        backend.deliver(USER, b"Subject: m%d\r\n\r\nbody %d\r\n" % (n, n))
    listener = await asyncio.start_server(
        connection_handler(backend, trusted=lambda host: True), "127.0.0.1", 0
    )
    reader, writer = await asyncio.open_connection(*listener.sockets[0].getsockname()[:2])
    view = View()
    try:
        assert (await asyncio.wait_for(reader.readline(), WAIT)).startswith(b"* OK")
        for number, command in enumerate([*commands, "LOGOUT"]):
            if command.startswith("*"):
                other_agent(backend, command)
                continue
            tag = f"f{number}"
            writer.write(f"{tag} {command}\r\n".encode())
            await writer.drain()
            while True:
                line = await asyncio.wait_for(reader.readline(), WAIT)
                assert line.endswith(b"\r\n"), (command, line)  # never dropped
                rest = line
                while literal := re.search(rb"\{(\d+)\}\r\n$", rest):
                    await asyncio.wait_for(reader.readexactly(int(literal[1])), WAIT)
                    rest = await asyncio.wait_for(reader.readline(), WAIT)
                if line.startswith((b"* ", b"+ ")):
                    view.check(command, line)
                    continue
                assert line.startswith(tag.encode() + b" "), (command, line)
                status = line.split(b" ")[1]
                assert status in (b"OK", b"NO", b"BAD"), line
                view.answered(command, status)
                break
        assert await asyncio.wait_for(reader.read(), WAIT) == b""  # closed after LOGOUT
    finally:
        writer.close()
        listener.close()
        await listener.wait_closed()


@pytest.mark.fuzz
@fuzz_settings(150)
@given(commands=st.lists(COMMANDS, max_size=25))
def test_fuzz_session_answers_every_tag_once_and_keeps_numbers_right(commands: list[str]) -> None:
    # Log in first most of the time, so that the sequence reaches the selected state.
    asyncio.run(scenario([f'LOGIN {USER} "{PASSWORD}"', "SELECT INBOX", *commands]))
