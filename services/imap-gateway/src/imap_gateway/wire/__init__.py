"""The IMAP wire layer: framing, parsing and encoding, knowing nothing of mailboxes.

- :mod:`~imap_gateway.wire.limits`: every limit, with its RFC section
- :mod:`~imap_gateway.wire.errors`: the exception tree and the recovery rule
- :mod:`~imap_gateway.wire.framing`: bytes to whole commands (pure, sans I/O)
- :mod:`~imap_gateway.wire.reader`: the framer driven by an asyncio stream
- :mod:`~imap_gateway.wire.cursor`: the cursor over a command and the grammar's combinators
- :mod:`~imap_gateway.wire.sequence`: sequence sets
- :mod:`~imap_gateway.wire.dates`, :mod:`~imap_gateway.wire.flags`: dates, flags
- :mod:`~imap_gateway.wire.mailbox_names`: modified UTF-7 and UTF-8 mailbox names
- :mod:`~imap_gateway.wire.commands`: the typed commands
- :mod:`~imap_gateway.wire.fetch`, :mod:`~imap_gateway.wire.search`: FETCH items, search keys
- :mod:`~imap_gateway.wire.parser`: framed command to typed command (dispatch table);
  :mod:`~imap_gateway.wire.selected_grammar` holds the selected-state grammars
- :mod:`~imap_gateway.wire.encoder`: value encoders, response lines, the response writer
- :mod:`~imap_gateway.wire.codes`: response codes and capability names
"""
