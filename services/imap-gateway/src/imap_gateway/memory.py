"""The mailbox semantics in memory: the test double of :mod:`imap_gateway.backend`.

Simple on purpose, so that it is obviously right and can serve as the model of
a later hypothesis state machine:

- UIDs grow strictly per folder and are never reused; UIDVALIDITY comes from a
  counter of the whole backend, so it is never 0 and a folder made again under
  an old name gets a new one (RFC 9051 §2.3.1.1).
- Every change (a flag, a new message, an expunge) takes the folder's next
  MODSEQ; expunged UIDs are logged with theirs for VANISHED (RFC 7162 §3.2.5).
- Each user starts with the special-use folders INBOX, Sent, Drafts, Trash, Junk,
  Archive (RFC 6154), all subscribed; "/" separates the hierarchy; RENAME moves
  the children.
- Subscriptions are names apart from folders (as the mail store's, migration 0012):
  SUBSCRIBE takes a name no folder has, DELETE keeps the subscription, RENAME moves
  those at and below the folder's name (RFC 9051 §6.3.7).
- Every selected handle has a feed; each change is pushed to every feed of its
  folder, so several sessions on one mailbox see each other's changes.

ENVELOPE and BODYSTRUCTURE come from the ``render_*`` callables given to
:class:`MemoryBackend`; the defaults are fixed placeholders (valid IMAP, no
real structure) until ``imap_gateway.structure`` exists.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from imap_gateway import backend as bk
from imap_gateway import sections
from imap_gateway.searching import Searchable, matches
from imap_gateway.wire import flags as wire_flags
from imap_gateway.wire.commands import StoreMode
from imap_gateway.wire.fetch import Section
from imap_gateway.wire.mailbox_names import INBOX
from imap_gateway.wire.search import SearchKey

__all__ = ["MemoryBackend", "MemoryFeed", "MemorySelected", "MemoryUser"]

DELIMITER = "/"
SPECIAL_FOLDERS = (
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
)
SYSTEM_FLAGS = (
    wire_flags.ANSWERED,
    wire_flags.FLAGGED,
    wire_flags.DELETED,
    wire_flags.SEEN,
    wire_flags.DRAFT,
)
PLACEHOLDER_ENVELOPE = b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
CHUNK = 64 * 1024

Renderer = Callable[[bytes], bytes]


def placeholder_structure(raw: bytes, *, extensible: bool) -> bytes:
    """A one-part text/plain body structure with the message's size and lines."""
    body = sections.split_entity(raw).body
    return b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" %d %d)' % (len(body), body.count(b"\n"))


@dataclass
class StoredMessage:
    uid: int
    raw: bytes
    flags: set[str]
    internal_date: dt.datetime
    modseq: int


@dataclass
class Folder:
    name: str
    uidvalidity: int
    special_use: tuple[str, ...] = ()
    uidnext: int = 1
    highestmodseq: int = 1
    recent_floor: int = 1  # the lowest UID no session claimed as \\Recent
    messages: dict[int, StoredMessage] = field(default_factory=dict)  # ascending UIDs
    expunged: list[tuple[int, int]] = field(default_factory=list)  # (uid, modseq)
    feeds: set[MemoryFeed] = field(default_factory=set)

    def next_modseq(self) -> int:
        self.highestmodseq += 1
        return self.highestmodseq

    def publish(self, change: bk.Change) -> None:
        for feed in self.feeds:
            feed.push(change)

    def added(self, uids: tuple[int, ...]) -> bk.MessagesAdded:
        """The change that announces these new messages, with their flags."""
        flags = frozenset().union(*(self.messages[uid].flags for uid in uids))
        return bk.MessagesAdded(uids, flags)

    def add(self, raw: bytes, flags: set[str], internal_date: dt.datetime) -> int:
        uid = self.uidnext
        self.uidnext += 1
        self.messages[uid] = StoredMessage(uid, raw, flags, internal_date, self.next_modseq())
        return uid

    def remove(self, uids: Sequence[int]) -> list[int]:
        gone = [uid for uid in uids if uid in self.messages]
        if gone:
            modseq = self.next_modseq()
            for uid in gone:
                del self.messages[uid]
                self.expunged.append((uid, modseq))
            self.publish(bk.MessagesExpunged(tuple(gone)))
        return gone


class MemoryFeed:
    """A :class:`~imap_gateway.backend.ChangeFeed` over a list and an event."""

    def __init__(self, folder: Folder) -> None:
        self._folder = folder
        self._changes: list[bk.Change] = []
        self._ready = asyncio.Event()
        folder.feeds.add(self)

    def push(self, change: bk.Change) -> None:
        self._changes.append(change)
        self._ready.set()

    def pending(self) -> list[bk.Change]:
        changes, self._changes = self._changes, []
        self._ready.clear()
        return changes

    async def wait(self) -> None:
        await self._ready.wait()

    def close(self) -> None:
        self._folder.feeds.discard(self)


@dataclass
class Account:
    password: str
    folders: dict[str, Folder] = field(default_factory=dict)
    subscriptions: set[str] = field(default_factory=set)  # names, folders or not
    disabled: bool = False
    sessions: int = 0
    # The POP3 maildrop lock's holder (RFC 1939 §8); no expiry here: nothing dies.
    maildrop_holder: str | None = None


class MemoryBackend:
    """Users, their folders and messages; see the module docstring."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        max_sessions: int = 50,
        max_message_size: int | None = None,
        render_envelope: Renderer | None = None,
        render_structure: Callable[..., bytes] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.accounts: dict[str, Account] = {}
        self.failures: dict[str, int] = {}
        self.max_failures = max_failures
        self.max_sessions = max_sessions
        self.max_message_size = max_message_size
        self.render_envelope = render_envelope or (lambda raw: PLACEHOLDER_ENVELOPE)
        self.render_structure = render_structure or placeholder_structure
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))
        self._uidvalidity = itertools.count(1)

    # --- set-up for tests -------------------------------------------------------------

    def add_user(self, address: str, password: str) -> Account:
        account = Account(password)
        self.accounts[address.lower()] = account
        self.new_folder(account, INBOX, subscribed=True)
        for name, use in SPECIAL_FOLDERS:
            self.new_folder(account, name, special_use=(use,), subscribed=True)
        return account

    def new_folder(
        self,
        account: Account,
        name: str,
        *,
        special_use: tuple[str, ...] = (),
        subscribed: bool = False,
    ) -> Folder:
        folder = Folder(name, next(self._uidvalidity), special_use)
        account.folders[name] = folder
        if subscribed:
            account.subscriptions.add(name)
        return folder

    def deliver(
        self, address: str, raw: bytes, *, folder: str = INBOX, flags: Sequence[str] = ()
    ) -> int:
        """Put a message into a folder as the mail store would; its UID."""
        target = self.accounts[address.lower()].folders[folder]
        uid = target.add(raw, set(flags), self.clock())
        target.publish(target.added((uid,)))
        return uid

    # --- Backend ----------------------------------------------------------------------

    async def authenticate(self, credentials: bk.Credentials) -> MemoryUser:
        source = credentials.client_address
        if self.failures.get(source, 0) >= self.max_failures:
            raise bk.AuthenticationThrottled(source)
        account = self.accounts.get(credentials.username.lower())
        if account is None or account.password != credentials.password:
            self.failures[source] = self.failures.get(source, 0) + 1
            raise bk.AuthenticationFailed(credentials.username)
        if account.disabled:
            raise bk.AccountDisabled(credentials.username)
        if account.sessions >= self.max_sessions:
            raise bk.SessionLimitReached(credentials.username)
        account.sessions += 1
        return MemoryUser(self, account)


def _check_name(name: str) -> None:
    parts = name.split(DELIMITER)
    if not name or any(not part for part in parts) or any(ch in name for ch in "*%"):
        raise bk.OperationNotAllowed(f"invalid folder name {name!r}")


class MemoryUser:
    """One user's authenticated session (:class:`~imap_gateway.backend.UserSession`)."""

    def __init__(self, backend: MemoryBackend, account: Account) -> None:
        self.backend = backend
        self.account = account
        self._open = True

    def _folder(self, name: str) -> Folder:
        folder = self.account.folders.get(name)
        if folder is None:
            raise bk.FolderNotFound(name)
        return folder

    def _children(self, name: str) -> list[str]:
        prefix = name + DELIMITER
        return [other for other in self.account.folders if other.startswith(prefix)]

    async def list_folders(self) -> list[bk.FolderInfo]:
        names = sorted(self.account.folders, key=lambda n: (n != INBOX, n))
        return [
            bk.FolderInfo(
                name,
                self.account.folders[name].special_use,
                name in self.account.subscriptions,
                bool(self._children(name)),
            )
            for name in names
        ]

    async def create_folder(self, name: str, *, special_use: tuple[str, ...] = ()) -> None:
        _check_name(name)
        if name in self.account.folders:
            raise bk.FolderExists(name)
        parts = name.split(DELIMITER)
        for depth in range(1, len(parts)):
            parent = DELIMITER.join(parts[:depth])
            if parent not in self.account.folders:
                self.backend.new_folder(self.account, parent)
        self.backend.new_folder(self.account, name, special_use=special_use)

    async def delete_folder(self, name: str) -> None:
        if name == INBOX:
            raise bk.OperationNotAllowed("INBOX cannot be deleted")
        folder = self._folder(name)
        if self._children(name):
            raise bk.FolderHasChildren(name)
        folder.remove(list(folder.messages))
        del self.account.folders[name]

    async def rename_folder(self, name: str, new_name: str) -> None:
        _check_name(new_name)
        source = self._folder(name)
        if new_name in self.account.folders:
            raise bk.FolderExists(new_name)
        if new_name.startswith(name + DELIMITER):
            raise bk.OperationNotAllowed("a folder cannot move into itself")
        if name == INBOX:
            # RFC 9051 §6.3.6: renaming INBOX moves its messages; INBOX stays, empty.
            await self.create_folder(new_name)
            target = self.account.folders[new_name]
            for message in list(source.messages.values()):
                target.add(message.raw, set(message.flags), message.internal_date)
            source.remove(list(source.messages))
            return
        moving = [name, *self._children(name)]
        for old in moving:
            folder = self.account.folders.pop(old)
            folder.name = new_name + old[len(name) :]
            self.account.folders[folder.name] = folder
        below = {s for s in self.account.subscriptions if s == name or s.startswith(name + "/")}
        self.account.subscriptions -= below
        self.account.subscriptions |= {new_name + s[len(name) :] for s in below}
        parents = new_name.split(DELIMITER)
        for depth in range(1, len(parents)):
            parent = DELIMITER.join(parents[:depth])
            if parent not in self.account.folders:
                self.backend.new_folder(self.account, parent)

    async def subscribe(self, name: str) -> None:
        _check_name(name)
        self.account.subscriptions.add(name)

    async def unsubscribe(self, name: str) -> None:
        _check_name(name)
        self.account.subscriptions.discard(name)

    async def subscriptions(self) -> list[str]:
        return sorted(self.account.subscriptions, key=lambda n: (n != INBOX, n))

    async def status(self, name: str) -> bk.FolderStatus:
        folder = self._folder(name)
        messages = folder.messages.values()
        return bk.FolderStatus(
            messages=len(folder.messages),
            uidnext=folder.uidnext,
            uidvalidity=folder.uidvalidity,
            unseen=sum(wire_flags.SEEN not in m.flags for m in messages),
            deleted=sum(wire_flags.DELETED in m.flags for m in messages),
            size=sum(len(m.raw) for m in messages),
            highestmodseq=folder.highestmodseq,
            recent=sum(uid >= folder.recent_floor for uid in folder.messages),
        )

    async def select(self, name: str, *, read_only: bool) -> MemorySelected:
        return MemorySelected(self, self._folder(name), read_only=read_only)

    async def append(self, name: str, messages: Sequence[bk.NewMessage]) -> bk.AppendResult:
        folder = self._folder(name)
        limit = self.backend.max_message_size
        if limit is not None and any(len(m.data) > limit for m in messages):
            raise bk.MessageTooBig(name)
        uids = tuple(
            folder.add(
                m.data,
                _storable(m.flags),
                m.internal_date or self.backend.clock(),
            )
            for m in messages
        )
        folder.publish(folder.added(uids))
        return bk.AppendResult(folder.uidvalidity, uids)

    async def lock_maildrop(self, holder: str, *, seconds: int) -> None:
        if self.account.maildrop_holder not in (None, holder):
            raise bk.MaildropInUse(holder)
        self.account.maildrop_holder = holder

    async def unlock_maildrop(self, holder: str) -> None:
        if self.account.maildrop_holder == holder:
            self.account.maildrop_holder = None

    async def logout(self) -> None:
        if self._open:
            self._open = False
            self.account.sessions -= 1


def _storable(flags: Sequence[str]) -> set[str]:
    # \Recent is the server's, never the client's (RFC 3501 §2.3.2).
    return {f for f in flags if f != wire_flags.RECENT}


class MemoryMessage:
    """A :class:`~imap_gateway.backend.FetchedMessage`: a copy taken when fetched."""

    def __init__(self, backend: MemoryBackend, stored: StoredMessage) -> None:
        self._backend = backend
        self._raw = stored.raw
        self.uid = stored.uid
        self.flags = frozenset(stored.flags)
        self.modseq = stored.modseq
        self.internal_date = stored.internal_date
        self.size = len(stored.raw)

    def envelope(self) -> bk.Rendered:
        return lambda: self._backend.render_envelope(self._raw)

    def body_structure(self, *, extensible: bool) -> bk.Rendered:
        return lambda: self._backend.render_structure(self._raw, extensible=extensible)

    async def section(self, section: Section, partial: tuple[int, int] | None) -> bk.BodyData:
        data = sections.partial(sections.extract(self._raw, section) or b"", partial)
        return bk.BodyData(len(data), _chunks(data))


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


class MemorySelected:
    """A selected folder (:class:`~imap_gateway.backend.SelectedFolder`)."""

    def __init__(self, user: MemoryUser, folder: Folder, *, read_only: bool) -> None:
        self.user = user
        self.folder = folder
        self.read_only = read_only
        messages = folder.messages
        unseen = [uid for uid, m in messages.items() if wire_flags.SEEN not in m.flags]
        keywords = sorted({f for m in messages.values() for f in m.flags} - set(SYSTEM_FLAGS))
        self._snapshot = bk.Snapshot(
            uidvalidity=folder.uidvalidity,
            uidnext=folder.uidnext,
            highestmodseq=folder.highestmodseq,
            uids=tuple(messages),
            flags=(*SYSTEM_FLAGS, *keywords),
            permanent_flags=() if read_only else (*SYSTEM_FLAGS, *keywords, wire_flags.WILDCARD),
            first_unseen=unseen[0] if unseen else None,
            read_only=read_only,
        )
        # Subscribed before select returns, so no change can fall between the two.
        self._feed = MemoryFeed(folder)

    @property
    def snapshot(self) -> bk.Snapshot:
        return self._snapshot

    def _writable(self) -> None:
        if self.read_only:
            raise bk.ReadOnly(self.folder.name)

    async def fetch(
        self,
        uids: Sequence[int],
        *,
        changed_since: int | None = None,
        needs: frozenset[str] = frozenset(),
    ) -> AsyncIterator[bk.FetchedMessage]:
        for uid in sorted(set(uids)):
            stored = self.folder.messages.get(uid)
            if stored is None or (changed_since is not None and stored.modseq <= changed_since):
                continue
            yield MemoryMessage(self.user.backend, stored)

    async def store(
        self,
        uids: Sequence[int],
        mode: StoreMode,
        flags: Sequence[str],
        *,
        unchanged_since: int | None = None,
    ) -> bk.StoreResult:
        self._writable()
        given = _storable(flags)
        updated: list[bk.MessageFlags] = []
        modified: list[int] = []
        for uid in sorted(set(uids)):
            message = self.folder.messages.get(uid)
            if message is None:
                continue
            if unchanged_since is not None and message.modseq > unchanged_since:
                modified.append(uid)
                continue
            if mode is StoreMode.ADD:
                new = message.flags | given
            elif mode is StoreMode.REMOVE:
                new = message.flags - given
            else:
                new = set(given)
            if new != message.flags:
                message.flags = new
                message.modseq = self.folder.next_modseq()
                state = bk.MessageFlags(uid, frozenset(new), message.modseq)
                self.folder.publish(bk.FlagsChanged(state, origin=self))
            updated.append(bk.MessageFlags(uid, frozenset(message.flags), message.modseq))
        return bk.StoreResult(tuple(updated), tuple(modified))

    async def copy(self, uids: Sequence[int], target: str) -> bk.CopyResult:
        destination = self.user._folder(target)
        source = [self.folder.messages[u] for u in sorted(set(uids)) if u in self.folder.messages]
        new = tuple(destination.add(m.raw, set(m.flags), m.internal_date) for m in source)
        if new:
            destination.publish(destination.added(new))
        return bk.CopyResult(destination.uidvalidity, tuple(m.uid for m in source), new)

    async def move(self, uids: Sequence[int], target: str) -> bk.CopyResult:
        self._writable()
        result = await self.copy(uids, target)
        self.folder.remove(result.source_uids)
        return result

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        self._writable()
        chosen = self.folder.messages if uids is None else sorted(set(uids))
        deleted = [
            uid
            for uid in chosen
            if uid in self.folder.messages and wire_flags.DELETED in self.folder.messages[uid].flags
        ]
        return self.folder.remove(deleted)

    async def search(self, key: SearchKey, *, fallback: bk.KeyEvaluator) -> list[int]:
        return [
            m.uid
            for m in self.folder.messages.values()
            if matches(key, Searchable(m.uid, frozenset(m.flags), m.modseq, m.internal_date, m.raw))
        ]

    async def changes_since(self, modseq: int) -> bk.Changes:
        vanished = sorted(uid for uid, at in self.folder.expunged if at > modseq)
        changed = tuple(
            bk.MessageFlags(m.uid, frozenset(m.flags), m.modseq)
            for m in self.folder.messages.values()
            if m.modseq > modseq
        )
        return bk.Changes(tuple(vanished), changed)

    async def claim_recent(self) -> range:
        claimed = range(self.folder.recent_floor, self.folder.uidnext)
        if not self.read_only:
            self.folder.recent_floor = self.folder.uidnext
        return claimed

    def changes(self) -> MemoryFeed:
        return self._feed

    async def close(self) -> None:
        self._feed.close()


def _conforms(backend: MemoryBackend, user: MemoryUser, selected: MemorySelected) -> None:
    """Checked by mypy only: the classes implement the backend Protocols."""
    _backend: bk.Backend = backend
    _user: bk.UserSession = user
    _locking: bk.MaildropLocking = user
    _selected: bk.SelectedFolder = selected
    _feed: bk.ChangeFeed = selected.changes()
    _message: bk.FetchedMessage = MemoryMessage(
        backend, StoredMessage(1, b"", set(), dt.datetime.now(dt.UTC), 1)
    )
