"""A hypothesis state machine: several IMAP sessions and "the web" against a model of the mailbox.

The model is a few plain folders (UID -> flags, UIDNEXT) and, per session, the
view its client has built from the responses alone: the UIDs by sequence number
and the flags it has been told. Hypothesis drives SELECT/EXAMINE, CLOSE/UNSELECT,
APPEND, STORE, FETCH, SEARCH, COPY, MOVE, EXPUNGE (their UID forms too), STATUS,
NOOP and IDLE in three sessions over real sockets, while the web (another handle
on the backend) delivers mail, changes flags, deletes to Trash and expunges.

After every command (RFC 9051 §7.5.1, RFC 3501 §7.4.1):
- every untagged EXISTS, EXPUNGE and FETCH matches the model: an EXPUNGE names a
  message that is gone, and never comes while answering FETCH, STORE or SEARCH;
  an EXISTS brings in the next messages of the folder; a FETCH names the UID the
  client has at that number and the flags the message has;
- sequence numbers in a command mean what they meant to the client when it sent
  it, so a pending EXPUNGE never shifts them under the command;
- after a command that may announce expunges the client's view equals the folder,
  otherwise it holds the folder plus the pending expunges, and the session's
  tracker holds exactly the client's view (white box);
- APPENDUID and COPYUID give the folder's next UIDs (strictly increasing, never
  reused), STATUS gives the model's UIDNEXT and counts;
- after NOOP every flag the client knows is the message's flag now.

``make fuzz`` runs it with ``LOCALPOST_FUZZ_EXAMPLES`` examples.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from imap_gateway import backend as bk
from imap_gateway.memory import MemoryBackend, MemorySelected, MemoryUser
from imap_gateway.session import SessionEvents, connection_handler
from imap_gateway.session.state import Session
from imap_gateway.wire.commands import StoreMode
from libs.smtplib_common.tests.fuzzing import fuzz_settings

if TYPE_CHECKING:
    from conftest import Client, Server

T = TypeVar("T")
Flags = frozenset[str]
Snapshot = dict[str, dict[int, Flags]]

SESSIONS = 3
STEP = 10.0  # the longest any exchange may take before the test calls it a hang
FOLDERS = ("INBOX", "Archive", "Trash")
FLAG_NAMES = ("\\Seen", "\\Flagged", "\\Deleted", "\\Answered", "$Work")
SEARCH_KEYS: dict[str, Any] = {
    "ALL": lambda f: True,
    "SEEN": lambda f: "\\Seen" in f,
    "UNSEEN": lambda f: "\\Seen" not in f,
    "FLAGGED": lambda f: "\\Flagged" in f,
    "NOT DELETED": lambda f: "\\Deleted" not in f,
    "KEYWORD $Work": lambda f: "$Work" in f,
    "OR SEEN DELETED": lambda f: bool({"\\Seen", "\\Deleted"} & f),
}
NUMBERED = re.compile(rb"\* (\d+) (EXISTS|EXPUNGE|FETCH)\b(.*)$", re.DOTALL)
UID_ITEM = re.compile(rb"[( ]UID (\d+)")
FLAGS_ITEM = re.compile(rb"[( ]FLAGS \(([^)]*)\)")
CODE_NUMBER = re.compile(rb"\[(\w+) (\d+)\]")

sessions = st.integers(0, SESSIONS - 1)
folders = st.sampled_from(FOLDERS)
flag_sets = st.frozensets(st.sampled_from(FLAG_NAMES), max_size=2)
picks = st.lists(st.integers(0, 50), min_size=1, max_size=3)


def message(n: int) -> bytes:
    return b"From: bob@example.org\r\nSubject: m%d\r\n\r\nbody %d\r\n" % (n, n)


def flag_list(flags: Flags) -> str:
    return "(" + " ".join(sorted(flags)) + ")"


def numbers(values: list[int]) -> str:
    return ",".join(str(n) for n in sorted(set(values)))


@dataclass
class Mailbox:
    messages: dict[int, Flags] = field(default_factory=dict)
    uidnext: int = 1

    def add(self, flags: Flags) -> int:
        uid, self.uidnext = self.uidnext, self.uidnext + 1
        self.messages[uid] = flags
        return uid


@dataclass
class View:
    """What one client knows from the responses: numbers -> UIDs, and flags."""

    folder: str
    read_only: bool
    uids: list[int]
    known: dict[int, Flags] = field(default_factory=dict)


@dataclass
class Target:
    """A command's message set as sent, and the UIDs it meant to the client."""

    text: str
    uids: list[int]  # the named messages that still exist, ascending
    gone: bool  # a named message was expunged (non-UID forms: its number stayed)


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


class MailboxModel(RuleBasedStateMachine):
    def __init__(self, client_class: type[Client]) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.backend = MemoryBackend()
        self.backend.add_user(client_class.USER, client_class.PASSWORD)
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
        self.sessions = list(self.recorder.sessions)
        self.web: MemoryUser = self.run(
            self.backend.authenticate(bk.Credentials(client_class.USER, client_class.PASSWORD))
        )
        self.boxes = {name: Mailbox() for name in FOLDERS}
        self.views: list[View | None] = [None] * SESSIONS
        self.made = 0  # messages made so far, to tell them apart

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coro, STEP))

    def teardown(self) -> None:
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

    # --- the client's side ---------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return {name: dict(box.messages) for name, box in self.boxes.items()}

    def command(self, i: int, text: str | bytes) -> list[bytes]:
        return self.run(self.clients[i].command(text))

    def absorb(self, i: int, lines: list[bytes], before: Snapshot, *, expunges: bool) -> None:
        """Apply each untagged EXISTS/EXPUNGE/FETCH to the client's view, checking it."""
        view = self.views[i]
        for line in lines:
            found = NUMBERED.match(line)
            if found is None:
                continue
            assert view is not None, f"{line!r} with no mailbox selected"
            n, kind, tail = int(found[1]), found[2], found[3]
            now, then = self.boxes[view.folder].messages, before[view.folder]
            if kind == b"EXISTS":
                assert n >= len(view.uids), (line, view.uids)
                last = view.uids[-1] if view.uids else 0
                fresh = sorted(u for u in then.keys() | now.keys() if u > last)
                assert n - len(view.uids) <= len(fresh), (line, view.uids, fresh)
                view.uids += fresh[: n - len(view.uids)]
                continue
            assert 1 <= n <= len(view.uids), (line, view.uids)
            uid = view.uids[n - 1]
            if kind == b"EXPUNGE":
                assert expunges, f"{line!r} while answering a numbered FETCH, STORE or SEARCH"
                assert uid not in now, (line, uid)
                del view.uids[n - 1]
                view.known.pop(uid, None)
                continue
            if (said := UID_ITEM.search(tail)) is not None:
                assert int(said[1]) == uid, (line, view.uids)
            if (said := FLAGS_ITEM.search(tail)) is not None:
                flags = frozenset(said[1].decode().split())
                assert flags in (then.get(uid), now.get(uid)), (line, then.get(uid), now.get(uid))
                view.known[uid] = flags

    def settled(self, i: int, *, expunges: bool) -> None:
        """The client's view against the folder once the command is answered."""
        view = self.views[i]
        if view is None:
            assert self.sessions[i].selected is None
            return
        box = self.boxes[view.folder].messages
        if expunges:
            assert view.uids == sorted(box), (view.uids, sorted(box))
        else:
            assert set(box) <= set(view.uids), (view.uids, sorted(box))
        # Every flag change goes out with the next command's answer, whichever it is.
        for uid, flags in view.known.items():
            assert uid not in box or box[uid] == flags, (uid, flags, box[uid])

    def exchange(self, i: int, text: str | bytes, before: Snapshot, *, expunges: bool) -> bytes:
        """Send a command, check its untagged responses; the tagged line."""
        lines = self.command(i, text)
        self.absorb(i, lines[:-1], before, expunges=expunges)
        self.settled(i, expunges=expunges)
        return lines[-1]

    def target(self, i: int, uid: bool, chosen: list[int], everything: bool) -> Target:
        view = self.views[i]
        assert view is not None
        box = self.boxes[view.folder].messages
        if uid:
            # UID forms: pending expunges may go out first; only existing UIDs count.
            if everything or not view.uids:
                return Target("1:*", sorted(box), gone=False)
            named = {view.uids[p % len(view.uids)] for p in chosen}
            return Target(numbers(list(named)), sorted(named & box.keys()), gone=False)
        if everything:
            # "*" is the last message once the EXISTS sent first is counted.
            named = set(view.uids) | box.keys()
            return Target("1:*", sorted(box), gone=bool(named - box.keys()))
        seqs = sorted({p % len(view.uids) + 1 for p in chosen})
        named = {view.uids[n - 1] for n in seqs}
        return Target(numbers(seqs), sorted(named & box.keys()), gone=bool(named - box.keys()))

    def selected(self) -> list[int]:
        return [i for i, view in enumerate(self.views) if view is not None]

    def any_selected(self) -> bool:
        return bool(self.selected())

    # --- invariants ----------------------------------------------------------------

    @invariant()
    def trackers_hold_the_clients_views(self) -> None:
        for view, s in zip(self.views, self.sessions, strict=True):
            if view is not None:
                assert s.selected is not None
                assert s.selected.tracker.uids == view.uids
                assert all(a < b for a, b in itertools.pairwise(view.uids))

    # --- mailbox state -------------------------------------------------------------

    @rule(i=sessions, folder=folders, read_only=st.booleans())
    def select(self, i: int, folder: str, read_only: bool) -> None:
        before = self.snapshot()
        lines = self.command(i, f"{'EXAMINE' if read_only else 'SELECT'} {folder}")
        start = next(n for n, line in enumerate(lines) if line.startswith(b"* FLAGS "))
        self.absorb(i, lines[:start], before, expunges=True)
        box = self.boxes[folder]
        assert f"* {len(box.messages)} EXISTS".encode() in lines[start:]
        codes = {m[1]: int(m[2]) for line in lines[start:] if (m := CODE_NUMBER.search(line))}
        assert codes[b"UIDNEXT"] == box.uidnext
        assert lines[-1].split(b" ")[1] == b"OK", lines[-1]
        self.views[i] = View(folder, read_only, sorted(box.messages))

    @precondition(any_selected)
    @rule(data=st.data(), close=st.booleans())
    def close_or_unselect(self, data: st.DataObject, close: bool) -> None:
        i = data.draw(st.sampled_from(self.selected()))
        view = self.views[i]
        assert view is not None
        before = self.snapshot()
        box = self.boxes[view.folder]
        if close and not view.read_only:
            # RFC 9051 §6.4.1: CLOSE expunges \Deleted messages silently.
            box.messages = {u: f for u, f in box.messages.items() if "\\Deleted" not in f}
        lines = self.command(i, "CLOSE" if close else "UNSELECT")
        self.absorb(i, lines[:-1], before, expunges=True)
        assert lines[-1].split(b" ")[1] == b"OK", lines[-1]
        self.views[i] = None
        self.settled(i, expunges=True)

    @rule(i=sessions, folder=folders, flags=flag_sets)
    def append(self, i: int, folder: str, flags: Flags) -> None:
        before = self.snapshot()
        self.made += 1
        raw = message(self.made)
        uid = self.boxes[folder].add(flags)
        text = f"APPEND {folder} {flag_list(flags)} {{{len(raw)}+}}\r\n".encode() + raw
        tagged = self.exchange(i, text, before, expunges=True)
        assert b"OK [APPENDUID " in tagged, tagged
        assert tagged.split(b"]")[0].split(b" ")[-1] == b"%d" % uid, (tagged, uid)

    @rule(i=sessions, folder=folders)
    def status(self, i: int, folder: str) -> None:
        before = self.snapshot()
        lines = self.command(i, f"STATUS {folder} (MESSAGES UIDNEXT UNSEEN)")
        self.absorb(i, lines[:-1], before, expunges=True)
        self.settled(i, expunges=True)
        box = self.boxes[folder].messages
        unseen = sum("\\Seen" not in f for f in box.values())
        want = f"* STATUS {folder} (MESSAGES {len(box)} UIDNEXT {self.boxes[folder].uidnext} "
        assert (want + f"UNSEEN {unseen})").encode() in lines, lines

    @rule(i=sessions)
    def noop(self, i: int) -> None:
        self.exchange(i, "NOOP", self.snapshot(), expunges=True)

    # --- commands on messages ------------------------------------------------------

    @precondition(any_selected)
    @rule(
        data=st.data(),
        uid=st.booleans(),
        chosen=picks,
        everything=st.booleans(),
        mode=st.sampled_from(StoreMode),
        flags=flag_sets,
        silent=st.booleans(),
    )
    def store(
        self,
        data: st.DataObject,
        uid: bool,
        chosen: list[int],
        everything: bool,
        mode: StoreMode,
        flags: Flags,
        silent: bool,
    ) -> None:
        i = data.draw(st.sampled_from(self.selected()))
        view = self.views[i]
        assert view is not None
        uid = uid or not view.uids
        before = self.snapshot()
        target = self.target(i, uid, chosen, everything)
        box = self.boxes[view.folder].messages
        if not view.read_only:
            for u in target.uids:
                if mode is StoreMode.ADD:
                    box[u] = box[u] | flags
                elif mode is StoreMode.REMOVE:
                    box[u] = box[u] - flags
                else:
                    box[u] = flags
        verb = {StoreMode.ADD: "+FLAGS", StoreMode.REMOVE: "-FLAGS", StoreMode.REPLACE: "FLAGS"}
        text = f"{'UID ' if uid else ''}STORE {target.text} {verb[mode]}"
        text += f"{'.SILENT' if silent else ''} {flag_list(flags)}"
        lines = self.command(i, text)
        self.absorb(i, lines[:-1], before, expunges=uid)
        tagged = lines[-1]
        if view.read_only:
            assert tagged.split(b" ")[1:3] == [b"NO", b"[NOPERM]"], tagged
        elif target.gone:
            assert tagged.split(b" ")[1:3] == [b"NO", b"[EXPUNGEISSUED]"], tagged
        else:
            assert tagged.split(b" ")[1] == b"OK", tagged
        if not view.read_only:
            for u in target.uids:
                view.known[u] = box[u]  # what the client asked for, told or not
        self.settled(i, expunges=uid)

    @precondition(any_selected)
    @rule(
        data=st.data(),
        uid=st.booleans(),
        chosen=picks,
        everything=st.booleans(),
        peek=st.booleans(),
    )
    def fetch(
        self, data: st.DataObject, uid: bool, chosen: list[int], everything: bool, peek: bool
    ) -> None:
        i = data.draw(st.sampled_from(self.selected()))
        view = self.views[i]
        assert view is not None
        uid = uid or not view.uids
        before = self.snapshot()
        target = self.target(i, uid, chosen, everything)
        box = self.boxes[view.folder].messages
        if not peek and not view.read_only:
            for u in target.uids:
                box[u] = box[u] | {"\\Seen"}  # RFC 9051 §6.4.5: BODY[...] sets \Seen
        items = "(UID FLAGS)" if peek else "(UID BODY[HEADER])"
        lines = self.command(i, f"{'UID ' if uid else ''}FETCH {target.text} {items}")
        self.absorb(i, lines[:-1], before, expunges=uid)
        self.settled(i, expunges=uid)
        said = [int(m[1]) for line in lines[:-1] if (m := UID_ITEM.search(line))]
        assert set(target.uids) <= set(said), (lines, target)
        wanted = (b"NO", b"[EXPUNGEISSUED]") if target.gone else (b"OK",)
        assert tuple(lines[-1].split(b" ")[1 : 1 + len(wanted)]) == wanted, (lines[-1], target)

    @precondition(any_selected)
    @rule(data=st.data(), uid=st.booleans(), key=st.sampled_from(sorted(SEARCH_KEYS)))
    def search(self, data: st.DataObject, uid: bool, key: str) -> None:
        i = data.draw(st.sampled_from(self.selected()))
        view = self.views[i]
        assert view is not None
        before = self.snapshot()
        lines = self.command(i, f"{'UID ' if uid else ''}SEARCH {key}")
        self.absorb(i, lines[:-1], before, expunges=uid)
        self.settled(i, expunges=uid)
        box = self.boxes[view.folder].messages
        match = SEARCH_KEYS[key]
        found = [u for u in view.uids if u in box and match(box[u])]
        want = found if uid else [view.uids.index(u) + 1 for u in found]
        assert ("* SEARCH" + "".join(f" {n}" for n in want)).encode() in lines, (lines, want)
        assert lines[-1].split(b" ")[1] == b"OK", lines[-1]

    @precondition(any_selected)
    @rule(
        data=st.data(),
        uid=st.booleans(),
        chosen=picks,
        everything=st.booleans(),
        folder=folders,
        move=st.booleans(),
    )
    def copy_or_move(
        self,
        data: st.DataObject,
        uid: bool,
        chosen: list[int],
        everything: bool,
        folder: str,
        move: bool,
    ) -> None:
        i = data.draw(st.sampled_from(self.selected()))
        view = self.views[i]
        assert view is not None
        move = move and folder != view.folder
        uid = uid or not view.uids
        before = self.snapshot()
        target = self.target(i, uid, chosen, everything)
        source, dest = self.boxes[view.folder], self.boxes[folder]
        refused = move and view.read_only
        new = [] if refused else [dest.add(source.messages[u]) for u in target.uids]
        if move and not refused:
            for u in target.uids:
                del source.messages[u]
        verb = "MOVE" if move else "COPY"
        lines = self.command(i, f"{'UID ' if uid else ''}{verb} {target.text} {folder}")
        self.absorb(i, lines[:-1], before, expunges=True)
        self.settled(i, expunges=True)
        if refused:
            assert lines[-1].split(b" ")[1:3] == [b"NO", b"[NOPERM]"], lines[-1]
            return
        assert lines[-1].split(b" ")[1] == b"OK", lines[-1]
        copyuid = [line for line in lines if b"[COPYUID " in line]
        if not new:
            assert not copyuid, lines
            return
        assert len(copyuid) == 1, lines
        parts = copyuid[0].split(b"[COPYUID ")[1].split(b"]")[0].split(b" ")
        assert expand(parts[1]) == target.uids, (lines, target)
        assert expand(parts[2]) == new, (lines, new)

    @precondition(any_selected)
    @rule(data=st.data(), uid=st.booleans(), chosen=picks, everything=st.booleans())
    def expunge(self, data: st.DataObject, uid: bool, chosen: list[int], everything: bool) -> None:
        i = data.draw(st.sampled_from(self.selected()))
        view = self.views[i]
        assert view is not None
        before = self.snapshot()
        box = self.boxes[view.folder]
        named = self.target(i, True, chosen, everything) if uid else None
        if not view.read_only:
            box.messages = {
                u: f
                for u, f in box.messages.items()
                if "\\Deleted" not in f or (named is not None and u not in named.uids)
            }
        text = f"UID EXPUNGE {named.text}" if named is not None else "EXPUNGE"
        tagged = self.exchange(i, text, before, expunges=True)
        wanted = [b"NO", b"[NOPERM]"] if view.read_only else [b"OK"]
        assert tagged.split(b" ")[1 : 1 + len(wanted)] == wanted, tagged

    @precondition(any_selected)
    @rule(data=st.data(), change=st.sampled_from(["deliver", "flag", "delete", "none"]))
    def idle(self, data: st.DataObject, change: str) -> None:
        """IDLE (RFC 2177): a delivery to the folder is pushed before DONE is sent."""
        i = data.draw(st.sampled_from(self.selected()))
        view = self.views[i]
        assert view is not None
        client = self.clients[i]
        tag = client.next_tag()
        before = self.snapshot()
        self.run(client.send(f"{tag} IDLE\r\n"))
        pushed = [self.run(client.response())]
        while not pushed[-1].startswith(b"+ "):  # what was pending goes out first
            pushed.append(self.run(client.response()))
        self.absorb(i, pushed[:-1], before, expunges=True)
        before = self.snapshot()
        pushed = []
        if change == "deliver":
            self.deliver(view.folder, frozenset())
            pushed.append(self.run(client.response()))
            assert pushed[0].endswith(b" EXISTS"), pushed
        elif change != "none" and self.boxes[view.folder].messages:
            flagging = change == "flag"
            self.web_change(view.folder, data.draw(st.integers(0, 50)), "\\Flagged", flagging)
        self.run(client.send("DONE\r\n"))
        lines = pushed + self.run(client.until_tagged(tag))
        self.absorb(i, lines[:-1], before, expunges=True)
        self.settled(i, expunges=True)
        assert lines[-1] == f"{tag} OK IDLE terminated".encode(), lines[-1]

    # --- the rest of the world: new mail and the web --------------------------------

    @rule(folder=folders, flags=flag_sets)
    def deliver(self, folder: str, flags: Flags) -> None:
        self.made += 1
        uid = self.boxes[folder].add(flags)
        got = self.backend.deliver(
            self.clients[0].USER, message(self.made), folder=folder, flags=flags
        )
        assert got == uid

    @rule(
        folder=folders, pick=st.integers(0, 50), flag=st.sampled_from(FLAG_NAMES), on=st.booleans()
    )
    def web_flags(self, folder: str, pick: int, flag: str, on: bool) -> None:
        if self.boxes[folder].messages:
            self.web_change(folder, pick, flag, on)

    @rule(folder=folders, pick=st.integers(0, 50))
    def web_delete(self, folder: str, pick: int) -> None:
        if self.boxes[folder].messages:
            self.web_change(folder, pick, "\\Deleted", True)

    def web_change(self, folder: str, pick: int, flag: str, on: bool) -> None:
        """The web's star or read mark (a flag), or its Delete: a move to Trash, and
        from Trash for good (what issue 13 says the web does)."""
        box = self.boxes[folder]
        uids = sorted(box.messages)
        uid = uids[pick % len(uids)]
        deleting = flag == "\\Deleted"
        if deleting and folder != "Trash":
            self.boxes["Trash"].add(box.messages.pop(uid))
        elif deleting:
            del box.messages[uid]
        else:
            box.messages[uid] = box.messages[uid] | {flag} if on else box.messages[uid] - {flag}

        async def change() -> None:
            handle = await self.web.select(folder, read_only=False)
            assert isinstance(handle, MemorySelected)
            try:
                if deleting and folder != "Trash":
                    await handle.move([uid], "Trash")
                elif deleting:
                    await handle.store([uid], StoreMode.ADD, [flag])
                    await handle.expunge([uid])
                else:
                    await handle.store([uid], StoreMode.ADD if on else StoreMode.REMOVE, [flag])
            finally:
                await handle.close()

        self.run(change())


def expand(text: bytes) -> list[int]:
    out: list[int] = []
    for part in text.split(b","):
        first, _, last = part.partition(b":")
        out += range(int(first), int(last or first) + 1)
    return out


@pytest.mark.fuzz
def test_sessions_and_the_web_agree_with_the_mailbox_model(client_class: type[Client]) -> None:
    run_state_machine_as_test(
        lambda: MailboxModel(client_class),
        settings=fuzz_settings(100, stateful_step_count=40, report_multiple_bugs=False),
    )


# What the machine found, kept as plain tests: a numbered COPY or MOVE used to let
# another session's pending EXPUNGE go out first and then read its numbers in the
# shifted view.


async def test_numbered_move_moves_the_message_the_client_numbered(server: Server) -> None:
    for n in range(1, 4):
        server.deliver(f"Message {n}")
    me, other = await server.logged_in(), await server.logged_in()
    await other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    await other.ok("EXPUNGE")

    lines = await me.ok("MOVE 2 Archive")

    archive = server.backend.accounts[me.USER].folders["Archive"]
    assert lines[0] == b"* OK [COPYUID %d 2 1] Moved" % archive.uidvalidity
    assert lines[1:-1] == [b"* 2 EXPUNGE", b"* 1 EXPUNGE"]
    assert [m.raw.split(b"Subject: ")[1][:9] for m in archive.messages.values()] == [b"Message 2"]


async def test_numbered_copy_reads_its_numbers_before_the_pending_expunge(server: Server) -> None:
    for n in range(1, 4):
        server.deliver(f"Message {n}")
    me, other = await server.logged_in(), await server.logged_in()
    await other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    await other.ok("EXPUNGE")

    lines = await me.ok("COPY 3 Archive")

    archive = server.backend.accounts[me.USER].folders["Archive"]
    assert lines == [
        b"* 1 EXPUNGE",
        b"%s OK [COPYUID %d 3 1] COPY completed" % (lines[-1].split(b" ")[0], archive.uidvalidity),
    ]
