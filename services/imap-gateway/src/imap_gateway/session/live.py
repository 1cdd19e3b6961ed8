"""The sessions running now, and how they are stopped gracefully (RFC 9051 §7.1.5 BYE).

A service passes one :class:`LiveSessions` (a :class:`~.events.SessionEvents`) to
every listener's :func:`~.connection.connection_handler`; it knows each session's
task, so :meth:`LiveSessions.stop` can tell a command in flight (let it finish)
from a session waiting for its next command or in IDLE (say ``* BYE`` now).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Generic, Protocol, TypeVar

from imap_gateway.session.events import SessionEvents
from imap_gateway.session.state import Session, State

log = logging.getLogger(__name__)


class Endable(Protocol):
    """What SessionTasks.end_account reads and sets of a session (IMAP's, POP3's)."""

    account: str | None
    stop_text: str | None


S = TypeVar("S", bound=Endable)

IDLE_COMMAND = "IDLE"


class SessionTasks(Generic[S]):
    """Every open session by its task (IMAP's and POP3's alike): what a graceful stop
    cancels or waits for. Listed first among a listener's events' bases, so that its
    ``opened``/``closed`` replace their no-ops."""

    def __init__(self) -> None:
        # By task: a session is a mutable dataclass, not hashable.
        self._sessions: dict[asyncio.Task[object], S] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def opened(self, s: S) -> None:
        task = asyncio.current_task()
        assert task is not None, "a session runs in its own task"
        self._sessions[task] = s

    def closed(self, s: S) -> None:
        task = asyncio.current_task()
        assert task is not None, "a session runs in its own task"
        self._sessions.pop(task, None)

    def end_account(self, account: str, text: str) -> int:
        """End the sessions logged in as ``account`` (an administrator disabled it) as
        a graceful stop does, ``text`` saying why; how many."""
        ended = [(task, s) for task, s in self._sessions.items() if s.account == account]
        for task, s in ended:
            s.stop_text = text
            self.end(task, s)
        return len(ended)

    def end(self, task: asyncio.Task[object], s: S) -> None:
        """Tell one session to stop (each protocol says how)."""
        raise NotImplementedError


class LiveSessions(SessionTasks[Session], SessionEvents):
    """Every open session and its task; counts them by state for metrics."""

    def by_state(self) -> Counter[State]:
        return Counter(s.state for s in self._sessions.values())

    def idling(self) -> int:
        """Sessions inside IDLE now."""
        return sum(1 for s in self._sessions.values() if s.current == IDLE_COMMAND)

    async def stop(self, grace: float) -> None:
        """End every session: BYE now to those waiting for a command or in IDLE;
        those running a command, or still receiving one (an APPEND's literal half
        sent), get their answer, then BYE. After ``grace``
        seconds, the rest are cut (still with a BYE, after what was written)."""
        for task, s in list(self._sessions.items()):
            self.end(task, s)
        await finish_within(set(self._sessions), grace, "sessions")

    def end(self, task: asyncio.Task[object], s: Session) -> None:
        """BYE (RFC 9051 §7.1.5; ``stop_text`` or the stop's) at once when the session
        waits for a command or is in IDLE, else once the command in flight is answered."""
        s.stop_requested = True
        if s.current == IDLE_COMMAND or (s.current is None and s.reader.framer.idle):
            task.cancel()


async def finish_within(tasks: set[asyncio.Task[object]], grace: float, what: str) -> None:
    """Wait up to ``grace`` seconds for ``tasks`` (sessions told to stop), then cut the rest."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace)
    if pending:
        log.warning("cutting %d %s still busy after %.1f s", len(pending), what, grace)
        for task in pending:
            task.cancel()
        await asyncio.wait(pending)
