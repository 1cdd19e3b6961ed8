"""Random POP3 command sequences against a live session over a socket, checked
against a model of the maildrop (RFC 1939 §5-§7).

Whatever comes, every command gets exactly one reply (a multi-line one ends with its
"." line), STAT/LIST/UIDL agree with the messages not marked deleted, RETR gives the
message back byte for byte, DELE/RSET follow the model, and after QUIT exactly the
marked messages are in Trash; without QUIT, none is. Meanwhile "another agent"
delivers to and expunges from the Inbox, which the session's numbering ignores.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imap_gateway.memory import MemoryBackend
from imap_gateway.pop3 import pop3_handler
from libs.smtplib_common.tests.fuzzing import fuzz_settings

USER = "fuzz@example.org"
PASSWORD = "pw"
WAIT = 5.0
MESSAGES = [
    b"Subject: one\r\n\r\nbody\r\n",
    b"Subject: two\r\n\r\n.dot\r\n..\r\n",
    b"Subject: three\r\n\r\nno final newline",
]
MULTILINE_OK = ("LIST", "UIDL", "CAPA", "RETR", "TOP")

# Numbers of messages that exist more often than not, so that DELE and RSET matter.
numbers = st.sampled_from(["1", "2", "3", "1", "2", "3", "0", "4", "x", "99999999999"])
COMMANDS = st.one_of(
    st.sampled_from(["STAT", "LIST", "UIDL", "RSET"]),
    st.sampled_from(["NOOP", "CAPA", "USER x", "PASS y", "HELO", "", "TOP 1", "STLS"]),
    st.sampled_from(["*deliver*", "*expunge*"]),
    st.builds("LIST {}".format, numbers),
    st.builds("UIDL {}".format, numbers),
    st.builds("RETR {}".format, numbers),
    st.builds("DELE {}".format, numbers),
    st.builds("DELE {}".format, numbers),
    st.builds("TOP {} {}".format, numbers, st.sampled_from(["0", "1", "5", "-1"])),
)


class Model:
    """The maildrop as the client may know it: numbers fixed at login, DELE marks."""

    def __init__(self) -> None:
        self.messages = list(MESSAGES)
        self.deleted: set[int] = set()
        self.gone: set[int] = set()  # expunged by another agent since login

    def number(self, text: str) -> int | None:
        if not text.isdigit() or not 1 <= int(text) <= len(self.messages):
            return None
        n = int(text)
        return None if n in self.deleted else n

    def visible(self) -> list[int]:
        return [n for n in range(1, len(self.messages) + 1) if n not in self.deleted]


def other_agent(backend: MemoryBackend, model: Model, action: str) -> None:
    folder = backend.accounts[USER].folders["INBOX"]
    if action == "*deliver*":
        backend.deliver(USER, b"Subject: new\r\n\r\nfresh\r\n")
    elif folder.messages:
        uid = next(iter(folder.messages))
        folder.remove([uid])
        if uid <= len(MESSAGES):
            model.gone.add(uid)  # UIDs 1-3 are messages 1-3


def check(model: Model, command: str, status: bytes, body: bytes | None) -> None:
    verb, _, rest = command.partition(" ")
    args = rest.split(" ") if rest else []
    ok = status.startswith(b"+OK")
    if verb == "STAT":
        sizes = [len(model.messages[n - 1]) for n in model.visible()]
        assert status == f"+OK {len(sizes)} {sum(sizes)}".encode()
    elif verb in ("LIST", "UIDL") and not args:
        assert body is not None
        listed = [int(line.split(b" ")[0]) for line in body.split(b"\r\n")[:-1]]
        assert listed == model.visible()
    elif verb in ("LIST", "UIDL", "DELE") and len(args) == 1:
        n = model.number(args[0])
        assert ok == (n is not None), (command, status)
        if verb == "DELE" and n is not None:
            model.deleted.add(n)
    elif verb == "RETR" and len(args) == 1:
        n = model.number(args[0])
        assert ok == (n is not None and n not in model.gone), (command, status)
        if ok:
            assert n is not None
            raw = model.messages[n - 1]
            expected = raw if raw.endswith(b"\r\n") else raw + b"\r\n"
            assert body == expected.replace(b"\r\n.", b"\r\n..")
    elif verb == "TOP" and len(args) == 2:
        n = model.number(args[0])
        lines_ok = args[1].isdigit()
        assert ok == (n is not None and lines_ok and n not in model.gone), (command, status)
    elif verb == "RSET":
        model.deleted.clear()
        assert ok
    elif verb in ("NOOP", "CAPA"):
        assert ok
    else:
        assert not ok, (command, status)


async def read_reply(reader: asyncio.StreamReader, command: str) -> tuple[bytes, bytes | None]:
    status = await asyncio.wait_for(reader.readline(), WAIT)
    assert status.endswith(b"\r\n"), (command, status)  # never dropped
    assert status.startswith((b"+OK", b"-ERR")), (command, status)
    multiline = command.split(" ")[0] in MULTILINE_OK and (
        command.split(" ")[0] not in ("LIST", "UIDL") or " " not in command
    )
    status = status[:-2]
    if not (status.startswith(b"+OK") and multiline):
        return status, None
    body = bytearray()
    while (line := await asyncio.wait_for(reader.readline(), WAIT)) != b".\r\n":
        assert line.endswith(b"\r\n"), line
        body += line
    # Unstuffing is the reader's job; the stuffed body is compared in check().
    return status, bytes(body)


async def scenario(commands: list[str], quit_at_end: bool) -> None:
    backend = MemoryBackend()
    backend.add_user(USER, PASSWORD)
    for raw in MESSAGES:
        backend.deliver(USER, raw)
    listener = await asyncio.start_server(
        pop3_handler(backend, trusted=lambda host: True), "127.0.0.1", 0
    )
    reader, writer = await asyncio.open_connection(*listener.sockets[0].getsockname()[:2])
    model = Model()
    try:
        assert (await asyncio.wait_for(reader.readline(), WAIT)).startswith(b"+OK")
        for command in (f"USER {USER}", f"PASS {PASSWORD}"):
            writer.write(command.encode() + b"\r\n")
            assert (await asyncio.wait_for(reader.readline(), WAIT)).startswith(b"+OK")
        for command in commands:
            if command.startswith("*"):
                other_agent(backend, model, command)
                continue
            writer.write(command.encode() + b"\r\n")
            await writer.drain()
            status, body = await read_reply(reader, command)
            check(model, command, status, body)
        if quit_at_end:
            writer.write(b"QUIT\r\n")
            assert (await asyncio.wait_for(reader.readline(), WAIT)).startswith(b"+OK")
            assert await asyncio.wait_for(reader.read(), WAIT) == b""
        writer.close()
        # The session's clean-up (and QUIT's move) are done once the lock is free.
        for _ in range(500):
            if backend.accounts[USER].maildrop_holder is None:
                break
            await asyncio.sleep(0.01)
        trash = [m.raw for m in backend.accounts[USER].folders["Trash"].messages.values()]
        moved = sorted(model.deleted - model.gone) if quit_at_end else []
        assert trash == [MESSAGES[n - 1] for n in moved]
    finally:
        writer.close()
        listener.close()
        await listener.wait_closed()


@pytest.mark.fuzz
@fuzz_settings(150)
@given(commands=st.lists(COMMANDS, min_size=3, max_size=30), quit_at_end=st.booleans())
def test_fuzz_pop3_session_follows_the_model(commands: list[str], quit_at_end: bool) -> None:
    asyncio.run(scenario(commands, quit_at_end))
