"""What the IMAP session needs from the mailbox semantics: one Protocol per protocol state.

The session (:mod:`imap_gateway.session`) speaks IMAP and keeps per-session
views; everything about mailboxes (UIDs, flags, MODSEQ, expunge) is behind these
interfaces, grouped as go-imap v2 groups its ``Session``:

- :class:`Backend` (not authenticated): :meth:`Backend.authenticate` gives a
- :class:`UserSession` (authenticated): folders, STATUS, APPEND; its
  :meth:`UserSession.select` gives a
- :class:`SelectedFolder` (selected): FETCH, STORE, COPY, MOVE, EXPUNGE,
  SEARCH, the changes since a MODSEQ and a :class:`ChangeFeed` of live changes.

:mod:`imap_gateway.memory` implements them in memory (the test double); a
mail-store implementation maps them onto the mail store's HTTP API.

Errors are the classes below; the session maps each to a response code (RFC
5530) in one place, :mod:`imap_gateway.session.errors`. The tree::

    BackendError                 base class; never raised itself
    ├── AuthenticationFailed     wrong user name or password: NO [AUTHENTICATIONFAILED]
    ├── AuthenticationThrottled  too many failures from this client or for this
    │                            user; try later: NO [UNAVAILABLE]
    ├── SessionLimitReached      too many sessions for this user: NO [LIMIT]
    ├── AccountDisabled          the account exists but may not log in: NO [CONTACTADMIN]
    ├── FolderNotFound           no folder of that name: NO [NONEXISTENT]; as the
    │                            target of APPEND, COPY or MOVE: NO [TRYCREATE]
    ├── FolderExists             CREATE or RENAME onto an existing name: NO [ALREADYEXISTS]
    ├── FolderHasChildren        DELETE of a folder with subfolders: NO [HASCHILDREN]
    ├── OperationNotAllowed      deleting INBOX, renaming a folder into itself, an
    │                            invalid name: NO [CANNOT]
    ├── ReadOnly                 a change in a folder selected read-only (EXAMINE)
    │                            or not writable for this user: NO [NOPERM]
    ├── QuotaExceeded            APPEND/COPY over the user's quota: NO [OVERQUOTA]
    ├── MessageTooBig            APPEND over the size the store takes: NO [TOOBIG]
    ├── SearchTooCostly          a SEARCH over the work one request may do: NO [LIMIT]
    ├── MessageExpunged          a message FETCH reads went away meanwhile (another
    │                            session's EXPUNGE): NO [EXPUNGEISSUED]
    └── BackendUnavailable       the mail store cannot answer now: NO [UNAVAILABLE]

POP3 (:mod:`imap_gateway.pop3`) uses the same interfaces over INBOX, plus the
exclusive maildrop lock of :class:`MaildropLocking`, which a user session may offer.

A message's ENVELOPE and BODYSTRUCTURE are opaque to the session: the backend
hands them over pre-rendered (:data:`Rendered`: IMAP bytes, or a callable giving
them), until ``imap_gateway.structure`` computes them from the raw bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from imap_gateway.wire.commands import StoreMode
from imap_gateway.wire.fetch import Section
from imap_gateway.wire.search import SearchKey

__all__ = [
    "SECTIONS",
    "AccountDisabled",
    "AppendResult",
    "AuthenticationFailed",
    "AuthenticationThrottled",
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "BodyData",
    "Change",
    "ChangeFeed",
    "Changes",
    "CopyResult",
    "Credentials",
    "FetchedMessage",
    "FlagsChanged",
    "FolderExists",
    "FolderHasChildren",
    "FolderInfo",
    "FolderNotFound",
    "FolderStatus",
    "KeyEvaluator",
    "MaildropInUse",
    "MaildropLocking",
    "MessageExpunged",
    "MessageFlags",
    "MessageTooBig",
    "MessagesAdded",
    "MessagesExpunged",
    "NewMessage",
    "OperationNotAllowed",
    "Quota",
    "QuotaExceeded",
    "QuotaReporting",
    "ReadOnly",
    "RefreshingFeed",
    "Rendered",
    "SearchTooCostly",
    "SelectedFolder",
    "SessionLimitReached",
    "Snapshot",
    "StoreResult",
    "UserSession",
    "render",
]

# --- errors ------------------------------------------------------------------------------


class BackendError(Exception):
    """Base class of the domain errors; see the module docstring for the tree."""


class AuthenticationFailed(BackendError):
    """The user name or the password is wrong (never says which)."""


class AuthenticationThrottled(BackendError):
    """Too many recent failures; the client should try again later."""


class SessionLimitReached(BackendError):
    """The user has as many sessions open as allowed."""


class AccountDisabled(BackendError):
    """The account exists but may not log in."""


class FolderNotFound(BackendError):
    """No folder of that name (also: the target of APPEND/COPY/MOVE)."""


class FolderExists(BackendError):
    """A folder of that name exists already."""


class FolderHasChildren(BackendError):
    """DELETE of a folder that has subfolders."""


class OperationNotAllowed(BackendError):
    """Deleting INBOX, renaming a folder into its own subtree, an invalid name."""


class ReadOnly(BackendError):
    """A change to a folder that may not be changed in this session."""


class QuotaExceeded(BackendError):
    """The change would take the user over quota."""


@dataclass(frozen=True, slots=True)
class Quota:
    """The user's storage (RFC 9208 QUOTA): bytes held and the limit (None: no limit)."""

    used: int
    limit: int | None


class MessageTooBig(BackendError):
    """A message larger than the store takes."""


class SearchTooCostly(BackendError):
    """A SEARCH that would read more messages than the store reads for one request."""


class LimitReached(BackendError):
    """An implementation limit of the store, e.g. the number of subscriptions."""


class MessageExpunged(BackendError):
    """A message of the selected folder was expunged elsewhere while a command read it."""


class MaildropInUse(BackendError):
    """Another POP3 session holds the user's maildrop lock (RFC 1939 §8)."""


class BackendUnavailable(BackendError):
    """The store cannot answer now (down, overloaded); the client may retry."""


# --- values ------------------------------------------------------------------------------

Rendered = bytes | Callable[[], bytes]
"""An IMAP value rendered by the backend (ENVELOPE, BODYSTRUCTURE), or how to render it."""


def render(value: Rendered) -> bytes:
    return value() if callable(value) else value


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the client proved, and where from (for throttling and logs)."""

    username: str
    password: str = field(repr=False)  # never in logs (STYLE.md "Logging")
    client_address: str = ""
    mechanism: str = "LOGIN"  # LOGIN, or the SASL mechanism (PLAIN, LOGIN)
    channel: str = "imap"  # the login throttle's channel: imap, or pop3


@dataclass(frozen=True, slots=True)
class FolderInfo:
    """One folder as LIST shows it; ``name`` uses "/" as the hierarchy delimiter."""

    name: str
    special_use: tuple[str, ...] = ()  # RFC 6154 attributes: \\Sent, \\Trash, ...
    subscribed: bool = False  # whether its name is among UserSession.subscriptions()
    has_children: bool = False
    # False for a name LIST shows though no folder has it: a subscription that outlived
    # its folder, or a superior of one (RFC 9051 §7.3.1 \NonExistent). Backends list
    # folders only; the session adds these.
    exists: bool = True


@dataclass(frozen=True, slots=True)
class FolderStatus:
    """STATUS items (RFC 9051 §6.3.11, RFC 8438 SIZE, RFC 7162 HIGHESTMODSEQ)."""

    messages: int
    uidnext: int
    uidvalidity: int
    unseen: int
    deleted: int
    size: int
    highestmodseq: int
    # RFC 3501 §6.3.10 RECENT (IMAP4rev1 only): the messages no session has claimed.
    recent: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A folder at SELECT: the session's view starts from here (RFC 9051 §6.3.2)."""

    uidvalidity: int  # never 0 (RFC 9051 §2.3.1.1)
    uidnext: int
    highestmodseq: int
    uids: tuple[int, ...]  # ascending: sequence number n is uids[n - 1]
    flags: tuple[str, ...]  # FLAGS: the flags defined in the folder
    permanent_flags: tuple[str, ...]  # PERMANENTFLAGS, with "\\*" when keywords may be made
    first_unseen: int | None  # the UID of the first message without \\Seen
    read_only: bool


@dataclass(frozen=True, slots=True)
class MessageFlags:
    """A message's flags and MODSEQ after a change (RFC 7162 §3.1.4)."""

    uid: int
    flags: frozenset[str]
    modseq: int


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message to APPEND."""

    data: bytes = field(repr=False)
    flags: tuple[str, ...] = ()
    internal_date: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class AppendResult:
    """APPENDUID (RFC 4315 §3): the target's UIDVALIDITY and the new UIDs, in order."""

    uidvalidity: int
    uids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CopyResult:
    """COPYUID (RFC 4315 §3): the target's UIDVALIDITY, source and new UIDs pairwise."""

    uidvalidity: int
    source_uids: tuple[int, ...]
    target_uids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StoreResult:
    """STORE: the messages changed, and those that failed UNCHANGEDSINCE (RFC 7162 §3.1.3).

    ``updated`` also holds messages the STORE did not change, with their flags as
    they are, so that the session can answer ``FETCH (FLAGS ...)`` for each.
    """

    updated: tuple[MessageFlags, ...]
    modified: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed after a MODSEQ (RFC 7162 §3.2.5.2): for QRESYNC and CHANGEDSINCE."""

    vanished: tuple[int, ...]  # UIDs expunged after the MODSEQ, ascending
    changed: tuple[MessageFlags, ...]  # messages whose MODSEQ is past it, ascending UID


# --- live changes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessagesAdded:
    """``flags``: those the new messages have, so that FLAGS can name a keyword they
    bring before any FETCH shows it (RFC 9051 §7.3.5)."""

    uids: tuple[int, ...]
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class MessagesExpunged:
    uids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FlagsChanged:
    """``origin`` is the :class:`SelectedFolder` that made the change, or None."""

    message: MessageFlags
    origin: object | None = None


Change = MessagesAdded | MessagesExpunged | FlagsChanged


class ChangeFeed(Protocol):
    """The changes to a selected folder, in the order they happened, own ones included.

    The session applies them to its view idempotently (a UID added twice, or
    expunged when already gone, changes nothing), so a backend may report a
    change both in an operation's result and here.
    """

    def pending(self) -> list[Change]:
        """The changes that arrived since the last call; never blocks."""
        ...

    async def wait(self) -> None:
        """Return once :meth:`pending` has something (IDLE)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class RefreshingFeed(ChangeFeed, Protocol):
    """A feed that may need to ask the store before each command (a store whose live
    channel is down): the session awaits :meth:`refresh` before it takes
    :meth:`pending`."""

    async def refresh(self) -> None: ...


@runtime_checkable
class CatchingUpFeed(ChangeFeed, Protocol):
    """A feed whose changes arrive later than the operation that made them (the
    store's events): :meth:`catch_up` reads them now, so that an APPEND into the
    selected folder is in the view before its OK (RFC 9051 §6.3.12). The session
    calls it after its own APPEND, COPY or MOVE, and before the commands that poll
    (NOOP, CHECK, IDLE), whose answer must show every change already made."""

    async def catch_up(self) -> None: ...


# --- fetched data ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BodyData:
    """A section's octets: ``size`` of them, from ``chunks`` (streamed, never held whole)."""

    size: int
    chunks: AsyncIterable[bytes]

    def without_nul(self) -> BodyData:
        """The same octets with NUL sent as 0x80, which keeps every size: a literal
        cannot hold NUL (RFC 9051 §4.3), only BINARY's literal8 can (RFC 3516 §4.2)."""
        return BodyData(self.size, _without_nul(self.chunks))


async def _without_nul(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk.replace(b"\0", b"\x80")


class FetchedMessage(Protocol):
    """One message's data for FETCH; every value is the same each time it is asked."""

    @property
    def uid(self) -> int: ...
    @property
    def flags(self) -> frozenset[str]: ...
    @property
    def modseq(self) -> int: ...
    @property
    def internal_date(self) -> dt.datetime: ...
    @property
    def size(self) -> int:
        """RFC822.SIZE: the octets of the raw message."""
        ...

    def envelope(self) -> Rendered: ...

    def body_structure(self, *, extensible: bool) -> Rendered:
        """BODYSTRUCTURE when ``extensible``, else BODY (RFC 9051 §7.5.2)."""
        ...

    async def section(self, section: Section, partial: tuple[int, int] | None) -> BodyData:
        """The octets of ``BODY[section]<partial>`` (:mod:`imap_gateway.sections` rules)."""
        ...


SECTIONS = "BODY[]"
"""In ``needs`` of :meth:`SelectedFolder.fetch`: some ``BODY[section]`` will be read."""

KeyEvaluator = Callable[[SearchKey, Sequence[int]], Awaitable[list[int]]]
"""The session's evaluator: the UIDs among the given ones that match a key.

A backend passes a search key it cannot evaluate itself to it; the session
evaluates it from fetched message data.
"""


# --- the states --------------------------------------------------------------------------


class Backend(Protocol):
    """Not authenticated (RFC 9051 §6.2)."""

    async def authenticate(self, credentials: Credentials) -> UserSession:
        """The user's session, or AuthenticationFailed, AuthenticationThrottled,
        SessionLimitReached, AccountDisabled."""
        ...


class UserSession(Protocol):
    """Authenticated (RFC 9051 §6.3); folder names use "/" as the delimiter."""

    async def list_folders(self) -> Sequence[FolderInfo]:
        """Every folder of the user, sorted by name, INBOX first."""
        ...

    async def create_folder(self, name: str, *, special_use: tuple[str, ...] = ()) -> None:
        """Creates the missing parents too (RFC 9051 §6.3.4)."""
        ...

    async def delete_folder(self, name: str) -> None: ...

    async def rename_folder(self, name: str, new_name: str) -> None:
        """Moves the children along; renaming INBOX moves its messages (RFC 9051 §6.3.6)."""
        ...

    async def subscribe(self, name: str) -> None:
        """Subscribes a name whether or not a folder has it (RFC 9051 §6.3.7)."""
        ...

    async def unsubscribe(self, name: str) -> None:
        """A name not subscribed is no error (as Dovecot answers)."""
        ...

    async def subscriptions(self) -> Sequence[str]:
        """Every subscribed name, INBOX first then sorted, also those no folder has: a
        DELETE keeps the subscription, a RENAME moves those at and below the name."""
        ...

    async def status(self, name: str) -> FolderStatus: ...

    async def select(self, name: str, *, read_only: bool) -> SelectedFolder: ...

    async def append(self, name: str, messages: Sequence[NewMessage]) -> AppendResult:
        """All of ``messages`` or none (MULTIAPPEND, RFC 3502 §6.3.11)."""
        ...

    async def logout(self) -> None: ...


class SelectedFolder(Protocol):
    """Selected (RFC 9051 §6.4). UIDs absent from the folder are ignored by every call."""

    @property
    def snapshot(self) -> Snapshot: ...

    def fetch(
        self,
        uids: Sequence[int],
        *,
        changed_since: int | None = None,
        needs: frozenset[str] = frozenset(),
    ) -> AsyncIterator[FetchedMessage]:
        """The messages of ``uids`` that still exist, ascending; with ``changed_since``
        only those with a greater MODSEQ (RFC 7162 §3.1.4.1).

        ``needs`` names the FETCH attributes the session will read (ENVELOPE,
        BODYSTRUCTURE, BODY, ...), so that a remote store can load them with the
        rest in one round trip, and holds :data:`SECTIONS` when body sections
        will be asked for (one by one, through :meth:`FetchedMessage.section`).
        """
        ...

    async def store(
        self,
        uids: Sequence[int],
        mode: StoreMode,
        flags: Sequence[str],
        *,
        unchanged_since: int | None = None,
    ) -> StoreResult: ...

    async def copy(self, uids: Sequence[int], target: str) -> CopyResult: ...

    async def move(self, uids: Sequence[int], target: str) -> CopyResult:
        """Atomic COPY + expunge of the source (RFC 6851 §3.3)."""
        ...

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        """Removes the \\Deleted messages (of ``uids`` when given); the UIDs removed."""
        ...

    async def search(self, key: SearchKey, *, fallback: KeyEvaluator) -> list[int]:
        """The UIDs matching ``key``, ascending. ``key`` holds no sequence numbers
        and no ``$``: the session replaced them with UID sets."""
        ...

    async def changes_since(self, modseq: int) -> Changes: ...

    async def claim_recent(self) -> range:
        """The UIDs this session is the first to be told of (RFC 3501 §2.3.2 \\Recent):
        every UID below UIDNEXT that no session claimed, claimed for this one alone,
        however many sessions (on however many gateways) claim at once. Some may be
        expunged already or not yet announced. Read-only (EXAMINE), the UIDs no session
        claimed, left unclaimed."""
        ...

    def changes(self) -> ChangeFeed:
        """The live changes from now on (EXISTS, EXPUNGE, FETCH FLAGS, IDLE)."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class QuotaReporting(Protocol):
    """A user session that knows its storage quota (RFC 9208; the QUOTA capability)."""

    async def quota(self) -> Quota:
        """The user's usage and limit, all folders together (one quota root)."""
        ...


@runtime_checkable
class MaildropLocking(Protocol):
    """A user session that can hold the exclusive POP3 maildrop lock (RFC 1939 §8).

    The lock is a lease named by its ``holder`` (one random name per POP3 session):
    :meth:`lock_maildrop` takes it, or renews it when ``holder`` has it already, for
    ``seconds``; a session that stops renewing (its gateway died) loses it then.
    """

    async def lock_maildrop(self, holder: str, *, seconds: int) -> None:
        """Take or renew the lock; MaildropInUse when another holder has it."""
        ...

    async def unlock_maildrop(self, holder: str) -> None:
        """Give the lock back if ``holder`` has it; nothing otherwise."""
        ...
