"""The mailbox-model state machine (tests/integration/imap_model.py) against the session
layer: three sessions over real sockets on the in-memory backend, with new mail and the
web's changes made through the backend, and each session's tracker checked against
what its client was told.

Everything runs on one event loop that the machine steps (``run_until_complete``), so
a change made between two commands has reached every session's feed before the next
one: the machine checks the exact view after every command. ``make fuzz`` runs it
with ``LOCALPOST_FUZZ_EXAMPLES`` examples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from hypothesis.stateful import run_state_machine_as_test

from imap_gateway import backend as bk
from imap_gateway.memory import MemoryBackend, MemoryUser
from imap_gateway.session import SessionEvents, connection_handler
from imap_gateway.session.state import Session
from imap_gateway.wire.commands import StoreMode
from libs.smtplib_common.tests.fuzzing import fuzz_settings
from tests.integration.imap_model import Flags, MailboxModel

if TYPE_CHECKING:
    from conftest import Client, Server

T = TypeVar("T")
SESSIONS = 3
STEP = 10.0  # the longest any exchange may take before the test calls it a hang


class Recorder(SessionEvents):
    """Every session opened, and its task (to wait for at the end)."""

    def __init__(self) -> None:
        self.sessions: list[Session] = []
        self.tasks: list[asyncio.Task[Any]] = []

    def opened(self, s: Session) -> None:
        self.sessions.append(s)
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(task)


class InProcess:
    """The machine's driver: a session server and its clients on a loop of its own."""

    sessions = SESSIONS
    synchronous = True
    smtp_only = False

    def __init__(self, client_class: type[Client]) -> None:
        self.loop = asyncio.new_event_loop()
        self.backend = MemoryBackend()
        self.user = client_class.USER
        self.backend.add_user(self.user, client_class.PASSWORD)
        self.recorder = Recorder()
        handler = connection_handler(self.backend, trusted=lambda host: True, events=self.recorder)
        self.listener = self.run(asyncio.start_server(handler, "127.0.0.1", 0))
        port = self.listener.sockets[0].getsockname()[1]
        self.clients: list[Client] = []
        for _ in range(SESSIONS):
            client = client_class(*self.run(asyncio.open_connection("127.0.0.1", port)))
            self.clients.append(client)
            assert self.run(client.response()).startswith(b"* OK ")
            self.run(client.login())
        credentials = bk.Credentials(client_class.USER, client_class.PASSWORD)
        self.web: MemoryUser = self.run(self.backend.authenticate(credentials))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coro, STEP))

    def command(self, i: int, text: str | bytes) -> list[bytes]:
        return self.run(self.clients[i].command(text))

    def send(self, i: int, data: str | bytes) -> None:
        self.run(self.clients[i].send(data))

    def response(self, i: int) -> bytes:
        return self.run(self.clients[i].response())

    def until_tagged(self, i: int, tag: str) -> list[bytes]:
        return self.run(self.clients[i].until_tagged(tag))

    def next_tag(self, i: int) -> str:
        return self.clients[i].next_tag()

    def deliver(self, folder: str, flags: Flags, raw: bytes) -> None:
        async def deliver() -> None:  # on the loop: the feeds' events belong to it
            self.backend.deliver(self.user, raw, folder=folder, flags=sorted(flags))

        self.run(deliver())

    def web_change(self, folder: str, uid: int, made: int, flag: str, on: bool) -> bool:
        async def change() -> None:
            handle = await self.web.select(folder, read_only=False)
            try:
                if flag == "\\Deleted" and folder != "Trash":
                    await handle.move([uid], "Trash")
                elif flag == "\\Deleted":
                    await handle.store([uid], StoreMode.ADD, [flag])
                    await handle.expunge([uid])
                else:
                    await handle.store([uid], StoreMode.ADD if on else StoreMode.REMOVE, [flag])
            finally:
                await handle.close()

        self.run(change())
        return True

    def tracker_uids(self, i: int) -> list[int] | None:
        selected = self.recorder.sessions[i].selected
        return None if selected is None else list(selected.tracker.uids)

    def pause(self) -> None:
        raise AssertionError("a synchronous driver never waits")

    def close(self) -> None:
        async def close() -> None:
            for client in self.clients:
                await client.close()
            self.listener.close()
            await self.listener.wait_closed()
            await self.web.logout()
            await asyncio.wait(self.recorder.tasks)

        try:
            self.run(close())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()


@pytest.mark.fuzz
def test_sessions_and_the_web_agree_with_the_mailbox_model(client_class: type[Client]) -> None:
    run_state_machine_as_test(
        lambda: MailboxModel(InProcess(client_class)),
        settings=fuzz_settings(100, stateful_step_count=50, report_multiple_bugs=False),
    )


# What the machine found, kept as plain tests: a numbered COPY or MOVE (and a UID
# SEARCH with numbers in its key) used to let another session's pending EXPUNGE go
# out first and then read its numbers in the shifted view.


async def expunged_elsewhere(server: Server) -> Client:
    """A session on messages 1-3 whose message 1 another session has just expunged."""
    for n in range(1, 4):
        server.deliver(f"Message {n}")
    me, other = await server.logged_in(), await server.logged_in()
    await other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    await other.ok("EXPUNGE")
    return me


async def test_numbered_move_moves_the_message_the_client_numbered(server: Server) -> None:
    me = await expunged_elsewhere(server)

    lines = await me.ok("MOVE 2 Archive")

    archive = server.backend.accounts[me.USER].folders["Archive"]
    assert lines[0] == b"* OK [COPYUID %d 2 1] Moved" % archive.uidvalidity
    assert lines[1:-1] == [b"* 2 EXPUNGE", b"* 1 EXPUNGE", b"* 1 RECENT"]
    assert [m.raw.split(b"Subject: ")[1][:9] for m in archive.messages.values()] == [b"Message 2"]


async def test_numbered_copy_reads_its_numbers_before_the_pending_expunge(server: Server) -> None:
    me = await expunged_elsewhere(server)

    lines = await me.ok("COPY 3 Archive")

    archive = server.backend.accounts[me.USER].folders["Archive"]
    assert lines == [
        b"* 1 EXPUNGE",
        b"* 2 RECENT",
        b"%s OK [COPYUID %d 3 1] COPY completed" % (lines[-1].split(b" ")[0], archive.uidvalidity),
    ]


async def test_uid_search_reads_its_sequence_numbers_before_the_pending_expunge(
    server: Server,
) -> None:
    me = await expunged_elsewhere(server)

    lines = await me.ok("UID SEARCH 2")

    # Number 2 is UID 2 in the view the client sent it from (UID 3 after the EXPUNGE).
    assert lines[:-1] == [b"* SEARCH 2", b"* 1 EXPUNGE", b"* 2 RECENT"]
