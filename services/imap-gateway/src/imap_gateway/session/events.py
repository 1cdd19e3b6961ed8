"""How a service observes its sessions: hooks the connection loop calls, no-ops here.

The session layer knows nothing of metrics or listeners; a service subclasses
:class:`SessionEvents` (metrics, the live-session registry of :mod:`.live`) and
passes it to :func:`~imap_gateway.session.connection.connection_handler`. Hooks
run in the session's task and must not block or raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imap_gateway.session.errors import Answer
    from imap_gateway.session.state import Session


class SessionEvents:
    """Every hook a no-op; override the ones you need."""

    def opened(self, s: Session) -> None:
        """The session is set up; its greeting is about to go out."""

    def closed(self, s: Session) -> None:
        """The session has ended, whichever way; its socket is closed."""

    def answered(self, s: Session, command: str, answer: Answer) -> None:
        """``command`` (its upper-case name) got its tagged ``answer``."""

    def paced(self, s: Session) -> None:
        """The next command waits: the session used up its commands-per-second burst."""

    def wrote(self, octets: int) -> None:
        """Responses of ``octets`` were handed to the socket."""
