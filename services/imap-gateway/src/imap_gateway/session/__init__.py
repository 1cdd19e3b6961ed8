"""The IMAP session layer: per-connection state on top of :mod:`imap_gateway.wire`.

- :mod:`.connection`: the connection loop (:func:`serve_connection`,
  :func:`connection_handler` for :func:`asyncio.start_server`)
- :mod:`.settings`: :class:`SessionSettings`, every timeout and limit named
- :mod:`.events`: :class:`SessionEvents`, the hooks a service observes sessions by
- :mod:`.live`: :class:`LiveSessions`, the open sessions and their graceful stop
- :mod:`.pacing`: the commands-per-second token bucket
- :mod:`.state`: protocol states and the :class:`~.state.Session` a handler gets
- :mod:`.dispatch`: command type to handler and allowed states
- :mod:`.tracker`: the per-session view (sequence numbers, pending updates)
- :mod:`.errors`: backend errors and refusals to response codes, in one place
- :mod:`.responses`: writers of untagged responses
- one module per command family: :mod:`.auth`, :mod:`.mailbox`, :mod:`.select`,
  :mod:`.fetch`, :mod:`.store`, :mod:`.copy`, :mod:`.expunge`, :mod:`.append`,
  :mod:`.search`, :mod:`.idle`, :mod:`.misc`

The mailbox semantics are behind :mod:`imap_gateway.backend`.
"""

from imap_gateway.session.connection import connection_handler, serve_connection
from imap_gateway.session.events import SessionEvents
from imap_gateway.session.live import LiveSessions
from imap_gateway.session.settings import SessionSettings

__all__ = [
    "LiveSessions",
    "SessionEvents",
    "SessionSettings",
    "connection_handler",
    "serve_connection",
]
