"""How the service observes POP3 sessions (metrics, graceful stop); no-ops here."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from imap_gateway.session.live import SessionTasks, finish_within

if TYPE_CHECKING:
    from imap_gateway.pop3.session import Session


class Pop3Events:
    def opened(self, s: Session) -> None:
        """The session is set up; its greeting is about to go out."""

    def closed(self, s: Session) -> None:
        """The session has ended; its socket is closed."""

    def answered(self, s: Session, verb: str, ok: bool) -> None:
        """``verb`` ("?" for a line that did not parse) was answered +OK or -ERR."""

    def paced(self, s: Session) -> None:
        """The next command waits: the commands-per-second burst is used up."""


class LivePop3Sessions(SessionTasks["Session"], Pop3Events):
    """Every open POP3 session and its task, for the graceful stop."""

    async def stop(self, grace: float) -> None:
        """Sessions waiting for a command end now; those running one (a RETR) may
        finish it within ``grace``, then end. Nothing marked deleted is deleted."""
        for task, s in list(self._sessions.items()):
            self.end(task, s)
        await finish_within(set(self._sessions), grace, "POP3 sessions")

    def end(self, task: asyncio.Task[object], s: Session) -> None:
        """Closed now, or with ``-ERR`` once the command in flight is answered; nothing
        marked deleted is deleted (RFC 1939 §6: no UPDATE state)."""
        s.stop_requested = True
        if not s.busy:
            task.cancel()
