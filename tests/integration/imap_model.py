"""A hypothesis state machine: IMAP sessions, new mail and the web against a model of
the mailbox (issue 13; RFC 9051 §7.5.1, RFC 3501 §7.4.1).

The model is a few plain folders (UID -> flags, UIDNEXT) and, per session, the
view its client has built from the responses alone: the UIDs by sequence number
and the flags it has been told. Hypothesis drives SELECT/EXAMINE, CLOSE/UNSELECT,
APPEND, STORE, FETCH, SEARCH, COPY, MOVE, EXPUNGE (their UID forms too), STATUS,
NOOP and IDLE in several sessions, while new mail arrives and the web changes
flags (read, star) and deletes (a move to Trash).

After every command:
- every untagged EXISTS, EXPUNGE and FETCH matches the model: an EXPUNGE names a
  message that is gone, and never comes while answering FETCH, STORE or SEARCH;
  an EXISTS brings in the next messages of the folder; a FETCH names the UID the
  client has at that number and flags the message has (or had, when changes
  arrive asynchronously);
- sequence numbers in a command mean what they meant to the client when it sent
  it, so a pending EXPUNGE never shifts them under the command;
- once the session has caught up, the client's view equals the folder (before
  that, after FETCH, STORE and SEARCH, it holds the folder plus the pending
  expunges) and every flag it knows is the message's flag now;
- APPENDUID and COPYUID give the folder's next UIDs (strictly increasing, never
  reused), STATUS gives the model's UIDNEXT and counts.

The machine talks to a :class:`Driver`: the IMAP gateway's session layer over the
in-memory backend (``services/imap-gateway/tests/test_session_statemachine.py``),
or the whole stack, where mail comes over SMTP and the web's changes through the
mail store's API (``tests/integration/test_imap_model.py``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

Flags = frozenset[str]
Snapshot = dict[str, dict[int, Flags]]

# How often a session asks (NOOP) before a change made elsewhere must have reached it.
CATCH_UP_TRIES = 100
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

sessions = st.integers(0, 5)  # modulo the driver's session count
folders = st.sampled_from(FOLDERS)
flag_sets = st.frozensets(st.sampled_from(FLAG_NAMES), max_size=2)
picks = st.lists(st.integers(0, 50), min_size=1, max_size=3)


@dataclass(frozen=True)
class Pick:
    """How a command names messages: UIDs or numbers, some (``chosen`` modulo the
    view) or ``1:*``."""

    uid: bool
    chosen: list[int]
    everything: bool


message_sets = st.builds(Pick, uid=st.booleans(), chosen=picks, everything=st.booleans())


def message(n: int) -> bytes:
    return b"From: bob@example.org\r\nSubject: m%d\r\n\r\nbody %d\r\n" % (n, n)


def flag_list(flags: Flags) -> str:
    return "(" + " ".join(sorted(flags)) + ")"


def numbers(values: list[int]) -> str:
    return ",".join(str(n) for n in sorted(set(values)))


STORE_VERBS = {"add": "+FLAGS", "remove": "-FLAGS", "replace": "FLAGS"}


@dataclass
class Mailbox:
    messages: dict[int, Flags] = field(default_factory=dict)
    uidnext: int = 1
    made: dict[int, int] = field(default_factory=dict)  # UID -> the n of its Subject: m<n>
    history: dict[int, set[Flags]] = field(default_factory=dict)  # every flag set it had

    def add(self, flags: Flags, made: int) -> int:
        uid, self.uidnext = self.uidnext, self.uidnext + 1
        self.made[uid] = made
        self.history[uid] = set()
        self.set(uid, flags)
        return uid

    def set(self, uid: int, flags: Flags) -> None:
        self.messages[uid] = flags
        self.history[uid].add(flags)

    def remove(self, uid: int) -> Flags:
        return self.messages.pop(uid)


class Driver(Protocol):
    """What the machine needs of a system under test; every call blocks until done."""

    sessions: int
    # Changes reach every session before its next command (one process, one loop);
    # otherwise they travel through the broker and the machine waits for them.
    synchronous: bool
    # New mail comes over SMTP: into INBOX, without flags.
    smtp_only: bool

    def command(self, i: int, text: str | bytes) -> list[bytes]: ...
    def send(self, i: int, data: str | bytes) -> None: ...
    def response(self, i: int) -> bytes: ...
    def until_tagged(self, i: int, tag: str) -> list[bytes]: ...
    def next_tag(self, i: int) -> str: ...
    def deliver(self, folder: str, flags: Flags, raw: bytes) -> None: ...
    def web_change(self, folder: str, uid: int, made: int, flag: str, on: bool) -> bool:
        """Set or clear ``flag``, or for ``\\Deleted`` delete the message the way the
        web does (a move to Trash); False when this driver's web cannot."""
        ...

    def tracker_uids(self, i: int) -> list[int] | None:
        """The session's own view (white box), where the driver can see it."""
        ...

    def pause(self) -> None:
        """A short wait between two polls for a change still on its way."""
        ...

    def close(self) -> None: ...


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
    uid: bool  # the set is of UIDs


class MailboxModel(RuleBasedStateMachine):
    def __init__(self, driver: Driver) -> None:
        super().__init__()
        self.driver = driver
        self.boxes = {name: Mailbox() for name in FOLDERS}
        self.views: list[View | None] = [None] * driver.sessions
        self.made = 0  # messages made so far: each has a subject of its own
        self.polls = 0  # catch-ups of sessions so far

    def teardown(self) -> None:
        self.driver.close()

    # --- the client's side ---------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return {name: dict(box.messages) for name, box in self.boxes.items()}

    def command(self, i: int, text: str | bytes) -> list[bytes]:
        return self.driver.command(i, text)

    def absorb(self, i: int, lines: list[bytes], before: Snapshot, *, expunges: bool) -> None:
        """Apply each untagged EXISTS/EXPUNGE/FETCH to the client's view, checking it."""
        view = self.views[i]
        for line in lines:
            found = NUMBERED.match(line)
            if found is None:
                continue
            assert view is not None, f"{line!r} with no mailbox selected"
            n, kind, tail = int(found[1]), found[2], found[3]
            box = self.boxes[view.folder]
            now, then = box.messages, before[view.folder]
            if kind == b"EXISTS":
                assert n >= len(view.uids), (line, view.uids)
                last = view.uids[-1] if view.uids else 0
                # Every session catches up after each step, and no step both adds and
                # removes a message: an EXISTS is about messages there before or after.
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
                # \Recent is the session's, not the message's (RFC 3501 §2.3.2): the
                # model keeps stored flags only; services/imap-gateway's
                # test_session_recent.py checks who gets it.
                flags = frozenset(said[1].decode().split()) - {"\\Recent"}
                if self.driver.synchronous:
                    assert flags in (then.get(uid), now.get(uid)), (line, then.get(uid), now)
                else:
                    assert flags in box.history[uid], (line, box.history[uid])
                view.known[uid] = flags

    def settled(self, i: int, *, expunges: bool) -> None:
        """The client's view against the folder once the command is answered."""
        view = self.views[i]
        assert view is None or all(a < b for a, b in itertools.pairwise(view.uids)), view
        if view is None or not self.driver.synchronous:
            return  # the view is checked once the session has caught up
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

    def target(self, i: int, pick: Pick) -> Target:
        view = self.views[i]
        assert view is not None
        # An empty view has no numbers: the UID form names what is there.
        uid, chosen, everything = pick.uid or not view.uids, pick.chosen, pick.everything
        box = self.boxes[view.folder].messages
        if uid:
            # UID forms: pending expunges may go out first; only existing UIDs count.
            if everything or not view.uids:
                return Target("1:*", sorted(box), gone=False, uid=True)
            named = {view.uids[p % len(view.uids)] for p in chosen}
            return Target(numbers(list(named)), sorted(named & box.keys()), False, uid=True)
        if everything:
            # "*" is the last message once the EXISTS sent first is counted.
            named = set(view.uids) | box.keys()
            return Target("1:*", sorted(box), bool(named - box.keys()), uid=False)
        seqs = sorted({p % len(view.uids) + 1 for p in chosen})
        named = {view.uids[n - 1] for n in seqs}
        return Target(numbers(seqs), sorted(named & box.keys()), bool(named - box.keys()), False)

    def selected(self) -> list[int]:
        return [i for i, view in enumerate(self.views) if view is not None]

    def pick(self, data: st.DataObject) -> tuple[int, View]:
        """One of the sessions with a mailbox selected, and its view."""
        i = data.draw(st.sampled_from(self.selected()))
        view = self.views[i]
        assert view is not None
        return i, view

    def any_selected(self) -> bool:
        return bool(self.selected())

    # --- invariants ----------------------------------------------------------------

    def current(self, view: View, *, expunged: bool) -> bool:
        """Whether a session has been told every change; ``expunged``: the expunges
        too (else they may still wait, as they do before a numbered command)."""
        box = self.boxes[view.folder].messages
        known = all(box.get(uid, flags) == flags for uid, flags in view.known.items())
        if expunged:
            return known and view.uids == sorted(box)
        return known and box.keys() <= set(view.uids)

    @invariant()
    def sessions_catch_up_and_trackers_hold_the_clients_views(self) -> None:
        for i, view in enumerate(self.views):
            if view is not None and not self.driver.synchronous:
                # Changes made elsewhere travel through the broker: ask until they have
                # arrived, a bounded number of times. Every other time with SEARCH,
                # which may not announce expunges, so that commands also meet
                # expunges still pending (RFC 9051 §7.5.1).
                self.polls += 1
                full = self.polls % 2 == 0
                for _ in range(CATCH_UP_TRIES):
                    if self.current(view, expunged=full):
                        break
                    self.driver.pause()
                    lines = self.command(i, "NOOP" if full else "SEARCH ALL")
                    self.absorb(i, lines[:-1], self.snapshot(), expunges=full)
                assert self.current(view, expunged=full), (i, view, self.boxes[view.folder])
            seen = self.driver.tracker_uids(i)
            assert seen is None or seen == (view.uids if view is not None else None), (seen, view)

    # --- mailbox state -------------------------------------------------------------

    @initialize(
        count=st.integers(0, 3), folders=st.lists(st.sampled_from(FOLDERS), min_size=5, max_size=5)
    )
    def mail_and_sessions(self, count: int, folders: list[str]) -> None:
        """A few messages in INBOX and a mailbox selected in every session, so that
        the steps start where the bugs are rather than in an empty account."""
        for _ in range(count):
            self.deliver("INBOX", frozenset())
        for i in range(self.driver.sessions):
            self.select(i, folders[i], read_only=False)

    @rule(i=sessions, folder=folders, read_only=st.booleans())
    def select(self, i: int, folder: str, read_only: bool) -> None:
        i %= self.driver.sessions
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
        if box.messages:
            # As a mail program does: learn every flag, so that a change made elsewhere
            # that is never pushed leaves a flag the client knows wrong.
            before = self.snapshot()
            lines = self.command(i, "FETCH 1:* (UID FLAGS)")
            self.absorb(i, lines[:-1], before, expunges=False)
            assert lines[-1].split(b" ")[1] == b"OK", lines[-1]

    @precondition(any_selected)
    @rule(data=st.data(), close=st.booleans())
    def close_or_unselect(self, data: st.DataObject, close: bool) -> None:
        i, view = self.pick(data)
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
        i %= self.driver.sessions
        before = self.snapshot()
        self.made += 1
        raw = message(self.made)
        uid = self.boxes[folder].add(flags, self.made)
        text = f"APPEND {folder} {flag_list(flags)} {{{len(raw)}+}}\r\n".encode() + raw
        tagged = self.exchange(i, text, before, expunges=True)
        assert b"OK [APPENDUID " in tagged, tagged
        assert tagged.split(b"]")[0].split(b" ")[-1] == b"%d" % uid, (tagged, uid)

    @rule(i=sessions, folder=folders)
    def status(self, i: int, folder: str) -> None:
        i %= self.driver.sessions
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
        i %= self.driver.sessions
        self.exchange(i, "NOOP", self.snapshot(), expunges=True)

    # --- commands on messages ------------------------------------------------------

    @precondition(any_selected)
    @rule(
        data=st.data(),
        pick=message_sets,
        mode=st.sampled_from(sorted(STORE_VERBS)),
        flags=flag_sets,
        silent=st.booleans(),
    )
    def store(
        self,
        data: st.DataObject,
        pick: Pick,
        mode: str,
        flags: Flags,
        silent: bool,
    ) -> None:
        i, view = self.pick(data)
        before = self.snapshot()
        target = self.target(i, pick)
        uid = target.uid
        folder = self.boxes[view.folder]
        box = folder.messages
        if not view.read_only:
            for u in target.uids:
                changed = {"add": box[u] | flags, "remove": box[u] - flags, "replace": flags}
                folder.set(u, changed[mode])
        text = f"{'UID ' if uid else ''}STORE {target.text} {STORE_VERBS[mode]}"
        text += f"{'.SILENT' if silent else ''} {flag_list(flags)}"
        lines = self.command(i, text)
        self.absorb(i, lines[:-1], before, expunges=uid)
        tagged = lines[-1]
        if view.read_only:
            assert tagged.split(b" ")[1:3] == [b"NO", b"[NOPERM]"], tagged
        elif target.gone:
            # Main answers OK [EXPUNGEISSUED] (the others were stored); NO also fits.
            assert tagged.split(b" ")[2:3] == [b"[EXPUNGEISSUED]"], tagged
        else:
            assert tagged.split(b" ")[1] == b"OK", tagged
        if not view.read_only:
            for u in target.uids:
                # What a client knows now: the flags it was told, changed as it asked.
                # After .SILENT that is all it has, so a change made elsewhere that
                # the STORE took in must have been told (RFC 9051 §6.4.6); of flags
                # it never had, only a replacement tells it anything.
                if u in view.known or mode == "replace":
                    had = view.known.get(u, frozenset())
                    changed = {"add": had | flags, "remove": had - flags, "replace": flags}
                    view.known[u] = changed[mode]
        self.settled(i, expunges=uid)

    @precondition(any_selected)
    @rule(
        data=st.data(),
        pick=message_sets,
        peek=st.booleans(),
    )
    def fetch(self, data: st.DataObject, pick: Pick, peek: bool) -> None:
        i, view = self.pick(data)
        before = self.snapshot()
        target = self.target(i, pick)
        uid = target.uid
        folder = self.boxes[view.folder]
        if not peek and not view.read_only:
            for u in target.uids:
                # RFC 9051 §6.4.5: BODY[...] sets \Seen.
                folder.set(u, folder.messages[u] | {"\\Seen"})
        items = "(UID FLAGS)" if peek else "(UID BODY[HEADER])"
        lines = self.command(i, f"{'UID ' if uid else ''}FETCH {target.text} {items}")
        self.absorb(i, lines[:-1], before, expunges=uid)
        self.settled(i, expunges=uid)
        said = [int(m[1]) for line in lines[:-1] if (m := UID_ITEM.search(line))]
        assert set(target.uids) <= set(said), (lines, target)
        wanted = (b"NO", b"[EXPUNGEISSUED]") if target.gone else (b"OK",)
        assert tuple(lines[-1].split(b" ")[1 : 1 + len(wanted)]) == wanted, (lines[-1], target)

    @precondition(any_selected)
    @rule(
        data=st.data(),
        uid=st.booleans(),
        key=st.sampled_from(sorted(SEARCH_KEYS)),
        chosen=st.none() | picks,
    )
    def search(self, data: st.DataObject, uid: bool, key: str, chosen: list[int] | None) -> None:
        """``chosen``: the key is a set of sequence numbers (also in UID SEARCH)."""
        i, view = self.pick(data)
        before = self.snapshot()
        match = SEARCH_KEYS[key]
        if chosen is not None and view.uids:
            seqs = sorted({p % len(view.uids) + 1 for p in chosen})
            named = {view.uids[n - 1] for n in seqs}
            key, match = numbers(seqs), lambda f, u: u in named
        else:
            match = (lambda m: lambda f, u: m(f))(match)
        lines = self.command(i, f"{'UID ' if uid else ''}SEARCH {key}")
        self.absorb(i, lines[:-1], before, expunges=uid)
        self.settled(i, expunges=uid)
        box = self.boxes[view.folder].messages
        found = [u for u in view.uids if u in box and match(box[u], u)]
        want = found if uid else [view.uids.index(u) + 1 for u in found]
        assert ("* SEARCH" + "".join(f" {n}" for n in want)).encode() in lines, (lines, want)
        assert lines[-1].split(b" ")[1] == b"OK", lines[-1]

    @precondition(any_selected)
    @rule(
        data=st.data(),
        pick=message_sets,
        folder=folders,
        move=st.booleans(),
    )
    def copy_or_move(
        self,
        data: st.DataObject,
        pick: Pick,
        folder: str,
        move: bool,
    ) -> None:
        i, view = self.pick(data)
        move = move and folder != view.folder
        before = self.snapshot()
        target = self.target(i, pick)
        uid = target.uid
        source, dest = self.boxes[view.folder], self.boxes[folder]
        refused = move and view.read_only
        new = [] if refused else [dest.add(source.messages[u], source.made[u]) for u in target.uids]
        if move and not refused:
            for u in target.uids:
                source.remove(u)
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
    @rule(data=st.data(), pick=message_sets)
    def expunge(self, data: st.DataObject, pick: Pick) -> None:
        i, view = self.pick(data)
        before = self.snapshot()
        box = self.boxes[view.folder]
        uid_form = Pick(uid=True, chosen=pick.chosen, everything=pick.everything)
        named = self.target(i, uid_form) if pick.uid else None
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
        i, view = self.pick(data)
        driver = self.driver
        tag = driver.next_tag(i)
        before = self.snapshot()
        driver.send(i, f"{tag} IDLE\r\n")
        pushed = [driver.response(i)]
        while not pushed[-1].startswith(b"+ "):  # what was pending goes out first
            pushed.append(driver.response(i))
        self.absorb(i, pushed[:-1], before, expunges=True)
        before = self.snapshot()
        pushed = []
        if change == "deliver" and (view.folder == "INBOX" or not driver.smtp_only):
            self.deliver(view.folder, frozenset())
            # Bounded by the driver's read timeout, not a timing assertion.
            pushed.append(driver.response(i))
            while not pushed[-1].endswith(b" EXISTS"):  # a late change may come first
                pushed.append(driver.response(i))
        elif change in ("flag", "delete") and self.boxes[view.folder].messages:
            flag = "\\Flagged" if change == "flag" else "\\Deleted"
            self.web_change(view.folder, data.draw(st.integers(0, 50)), flag, True)
        driver.send(i, "DONE\r\n")
        lines = pushed + driver.until_tagged(i, tag)
        self.absorb(i, lines[:-1], before, expunges=True)
        self.settled(i, expunges=True)
        assert lines[-1] == f"{tag} OK IDLE terminated".encode(), lines[-1]

    # --- the rest of the world: new mail and the web --------------------------------

    @rule(folder=folders, flags=flag_sets)
    def deliver(self, folder: str, flags: Flags) -> None:
        if self.driver.smtp_only:
            folder, flags = "INBOX", frozenset()
        self.made += 1
        self.boxes[folder].add(flags, self.made)
        self.driver.deliver(folder, flags, message(self.made))

    @rule(
        folder=folders, pick=st.integers(0, 50), flag=st.sampled_from(FLAG_NAMES), on=st.booleans()
    )
    def web_flags(self, folder: str, pick: int, flag: str, on: bool) -> None:
        if self.boxes[folder].messages and flag != "\\Deleted":
            self.web_change(folder, pick, flag, on)

    @rule(folder=folders, pick=st.integers(0, 50))
    def web_delete(self, folder: str, pick: int) -> None:
        if self.boxes[folder].messages:
            self.web_change(folder, pick, "\\Deleted", True)

    def web_change(self, folder: str, pick: int, flag: str, on: bool) -> None:
        """The web's read mark or star (a flag), or its Delete: a move to Trash, and
        from Trash for good (issue 13: the web's Delete is a MOVE to Trash)."""
        box = self.boxes[folder]
        uids = sorted(box.messages)
        uid = uids[pick % len(uids)]
        if not self.driver.web_change(folder, uid, box.made[uid], flag, on):
            return
        if flag == "\\Deleted":
            flags = box.remove(uid)
            if folder != "Trash":
                self.boxes["Trash"].add(flags, box.made[uid])
        else:
            box.set(uid, box.messages[uid] | {flag} if on else box.messages[uid] - {flag})


def expand(text: bytes) -> list[int]:
    out: list[int] = []
    for part in text.split(b","):
        first, _, last = part.partition(b":")
        out += range(int(first), int(last or first) + 1)
    return out
