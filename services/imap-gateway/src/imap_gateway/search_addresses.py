"""Address fields as SEARCH FROM/TO/CC/BCC read them: parsed, then written out. Pure.

RFC 9051 §6.4.4 matches FROM "in the envelope structure's FROM field", that is
the addresses as parsed, not the field as written: ``<user (comment)@ (comment)
example.org>`` is found by ``FROM user@example.org``. Dovecot searches its
parsed addresses written back as ``Name <mailbox@host>``, ``mailbox@host``
without a name, ``group: a@b, c@d;`` for a group, with ``MISSING_MAILBOX`` /
``MISSING_DOMAIN`` for a missing part; this writes the same.

The mail store's ``mailstore.imap_search_addresses`` is this module's twin (the
gateway and the mail store share no code); both parse with the standard
library's RFC 5322 header parser (``email.policy.default``), so that the two
SEARCHes agree, and tests/integration/test_imap_search.py compares them.
"""

from __future__ import annotations

from email import policy
from email.headerregistry import Address

__all__ = ["ADDRESS_KEYS", "written_addresses"]

ADDRESS_KEYS = frozenset({"BCC", "CC", "FROM", "TO"})
MISSING_MAILBOX = "MISSING_MAILBOX"
MISSING_DOMAIN = "MISSING_DOMAIN"


def written_addresses(value: str) -> str:
    """The address list ``value`` (raw, encoded words undecoded) as parsed and
    written back; "" when the parser gives up."""
    try:
        header = policy.default.header_factory("To", value)
        groups = header.groups
    except Exception:  # the parser has raised IndexError and more on hostile input
        return ""
    written = []
    for group in groups:
        members = ", ".join(_address(address) for address in group.addresses)
        if group.display_name is None:
            written.append(members)
        else:
            written.append(f"{' '.join(group.display_name.split())}: {members};")
    return ", ".join(written)


def _address(address: Address) -> str:
    spec = f"{address.username or MISSING_MAILBOX}@{address.domain or MISSING_DOMAIN}"
    name = " ".join(address.display_name.split())
    return f"{name} <{spec}>" if name else spec
