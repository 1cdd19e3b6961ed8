"""Localpost's own asyncio SMTP library.

- :mod:`smtplib_common.server` — the server (RFC 5321 and the extensions mail
  needs today), driven by a handler object with optional async hooks.
- :mod:`smtplib_common.client` — the client and a small connection pool.
- :mod:`smtplib_common.replies` — every reply the server sends, by name.
- :mod:`smtplib_common.errors` — the client's exception tree.

See docs/smtp.md for every verb, extension and limit with its RFC section.
"""

__version__ = "0.1.0"
