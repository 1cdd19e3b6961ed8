"""The IMAP wire layer: framing, parsing and encoding, knowing nothing of mailboxes.

- :mod:`~imap_gateway.wire.limits`: every limit, with its RFC section
- :mod:`~imap_gateway.wire.errors`: the exception tree and the recovery rule
- :mod:`~imap_gateway.wire.framing`: bytes to whole commands (pure, sans I/O)
- :mod:`~imap_gateway.wire.reader`: the framer driven by an asyncio stream
- :mod:`~imap_gateway.wire.codes`: response codes and capability names
"""
