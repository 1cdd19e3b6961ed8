"""One connection's state: protocol state, enabled extensions, the selected mailbox.

Handlers get the :class:`Session` and answer through it; the connection loop
(:mod:`imap_gateway.session.connection`) owns reading and the tagged answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from imap_gateway import backend as bk
from imap_gateway.session import responses
from imap_gateway.session.events import SessionEvents
from imap_gateway.session.settings import SessionSettings
from imap_gateway.session.tracker import Tracker
from imap_gateway.wire import codes
from imap_gateway.wire.encoder import ResponseWriter
from imap_gateway.wire.reader import CommandReader


class State(enum.Enum):
    """RFC 9051 §3."""

    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


ANY = frozenset(State) - {State.LOGOUT}
NOT_AUTHENTICATED = frozenset({State.NOT_AUTHENTICATED})
AUTHENTICATED = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})

# What ENABLE may turn on (RFC 5161 §3.1).
ENABLEABLE = frozenset(
    {codes.CAP_IMAP4REV2, codes.CAP_CONDSTORE, codes.CAP_QRESYNC, codes.CAP_UTF8_ACCEPT}
)


@dataclass
class Selected:
    """The selected mailbox: the backend's handle and this session's view of it."""

    name: str
    folder: bk.SelectedFolder
    tracker: Tracker
    feed: bk.ChangeFeed
    read_only: bool
    saved: list[int] = field(default_factory=list)  # SEARCHRES "$" as UIDs (RFC 5182)


@dataclass
class Session:
    """Everything one connection knows; see the module docstring."""

    backend: bk.Backend
    settings: SessionSettings
    reader: CommandReader
    out: ResponseWriter
    stream_writer: asyncio.StreamWriter
    peer: str
    # May LOGIN / AUTHENTICATE PLAIN run on this connection: it is TLS already, or
    # the client is in a trusted network (the listener decides).
    plaintext_allowed: bool
    tls: bool = False
    state: State = State.NOT_AUTHENTICATED
    user: bk.UserSession | None = None
    selected: Selected | None = None
    enabled: set[str] = field(default_factory=set)
    # CONDSTORE is on once enabled or used (RFC 7162 §3.1): FETCH updates carry MODSEQ.
    condstore_used: bool = False
    # Run once the tagged answer is written (STARTTLS starts TLS after its OK).
    after_answer: Callable[[], Awaitable[None]] | None = None
    events: SessionEvents = field(default_factory=SessionEvents)
    # When the connection was accepted (loop time): the login timeout counts from it.
    started: float = 0.0
    # The command being run (its upper-case name), None between commands: a graceful
    # stop lets a command in flight finish and says BYE at once to a session waiting
    # for the next one or in IDLE.
    current: str | None = None
    # Set by a graceful stop: BYE and close once the command in flight is answered.
    stop_requested: bool = False
    # The BYE's text when it is not the service's stop (an account disabled).
    stop_text: str | None = None
    # The address logged in as, lowercased: the sessions to end when an administrator
    # disables the account (LiveSessions.end_account).
    account: str | None = None

    def loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    @property
    def rev2(self) -> bool:
        return codes.CAP_IMAP4REV2 in self.enabled

    @property
    def utf8(self) -> bool:
        """Mailbox names and quoted strings in UTF-8 (RFC 9051 §5.1, RFC 6855 §3)."""
        return self.rev2 or codes.CAP_UTF8_ACCEPT in self.enabled

    @property
    def qresync(self) -> bool:
        return codes.CAP_QRESYNC in self.enabled

    @property
    def condstore(self) -> bool:
        return self.condstore_used or self.qresync or codes.CAP_CONDSTORE in self.enabled

    async def use_condstore(self) -> None:
        """A CONDSTORE-enabling command (RFC 7162 §3.1): the first with a mailbox
        selected that was not told HIGHESTMODSEQ at SELECT gets it now (§3.1.2.1)."""
        if self.condstore:
            return
        self.condstore_used = True
        if self.selected is not None:
            status = await self.require_user().status(self.selected.name)
            highest = b"%d" % status.highestmodseq
            self.out.write(responses.status_ok(codes.HIGHESTMODSEQ, highest, "Highest"))

    def require_selected(self) -> Selected:
        assert self.selected is not None, "the dispatch table guards the state"
        return self.selected

    def require_user(self) -> bk.UserSession:
        assert self.user is not None, "the dispatch table guards the state"
        return self.user

    async def refresh(self, *, catch_up: bool = False) -> None:
        """Let a feed that cannot push (the store's live channel down) ask for changes;
        with ``catch_up``, whatever the channel (:class:`~imap_gateway.backend.CatchingUpFeed`)."""
        if self.selected is None:
            return
        feed = self.selected.feed
        # On an outage the command itself meets it and says so.
        with contextlib.suppress(bk.BackendError):
            if catch_up and isinstance(feed, bk.CatchingUpFeed):
                await feed.catch_up()
            elif isinstance(feed, bk.RefreshingFeed):
                await feed.refresh()

    async def sync(self, *, expunges: bool) -> None:
        """Take the selected mailbox's changes and write what may go out now."""
        if self.selected is None:
            return
        tracker = self.selected.tracker
        tracker.apply(self.selected.feed.pending())
        if tracker.adding and tracker.recent is not None:
            # RFC 3501 §2.3.2: the first session told of a message sees it \Recent;
            # the store decides which session that is. On an outage the messages are
            # announced all the same, just not \Recent here.
            with contextlib.suppress(bk.BackendError):
                tracker.add_recent(await self.selected.folder.claim_recent())
        lines = tracker.flush(expunges=expunges, qresync=self.qresync, condstore=self.condstore)
        for line in lines:
            self.out.write(line)

    async def deselect(self) -> None:
        if self.selected is not None:
            selected, self.selected = self.selected, None
            selected.feed.close()
            await selected.folder.close()
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED
