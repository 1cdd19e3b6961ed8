"""POP3 (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 SASL PLAIN) over the Inbox.

The protocol, apart from the IMAP session layer and testable without a mail store:

- :mod:`.commands`: the command parser (pure; fuzzed)
- :mod:`.replies`: status lines, response codes and capability names
- :mod:`.framing`: a message as a byte-stuffed multi-line response, streamed (TOP too)
- :mod:`.lines`: the bounded line reader
- :mod:`.maildrop`: INBOX as POP3 numbers it, DELE marks, QUIT's move to Trash
- :mod:`.session`: states, settings and the per-connection :class:`~.session.Session`
- :mod:`.authorization`, :mod:`.transaction`: the commands of each state
- :mod:`.dispatch`: verb to handler and allowed states
- :mod:`.errors`: backend errors to -ERR replies with RFC 2449/3206 codes
- :mod:`.events`: hooks for metrics and the graceful stop
- :mod:`.connection`: the connection loop (:func:`pop3_handler`)

The mailbox operations go through :mod:`imap_gateway.backend`, plus its
:class:`~imap_gateway.backend.MaildropLocking` for the lock of RFC 1939 §8.
"""

from imap_gateway.pop3.connection import pop3_handler, serve_pop3
from imap_gateway.pop3.events import LivePop3Sessions, Pop3Events
from imap_gateway.pop3.session import Pop3Settings

__all__ = ["LivePop3Sessions", "Pop3Events", "Pop3Settings", "pop3_handler", "serve_pop3"]
