"""Message flags (RFC 9051 §2.3.2, §9 flag, flag-list, flag-perm).

System flags are case-insensitive and given here in their canonical spelling, so
``\\SEEN`` from a client compares equal to :data:`SEEN`. Keywords are kept as
written: their case is the mail store's business.
"""

from __future__ import annotations

from typing import Final

from imap_gateway.wire.cursor import ATOM, Cursor, parenthesised

SEEN: Final = "\\Seen"
ANSWERED: Final = "\\Answered"
FLAGGED: Final = "\\Flagged"
DELETED: Final = "\\Deleted"
DRAFT: Final = "\\Draft"
RECENT: Final = "\\Recent"  # IMAP4rev1 only (RFC 3501 §2.3.2); never set by a client
# flag-perm "\*": clients may create new keywords (PERMANENTFLAGS, RFC 9051 §7.1).
WILDCARD: Final = "\\*"
# Keywords with a defined meaning (RFC 9051 §2.3.2).
FORWARDED: Final = "$Forwarded"
MDNSENT: Final = "$MDNSent"
JUNK: Final = "$Junk"
NOTJUNK: Final = "$NotJunk"
PHISHING: Final = "$Phishing"

SYSTEM_FLAGS: Final = (SEEN, ANSWERED, FLAGGED, DELETED, DRAFT, RECENT)
_CANONICAL = {flag.upper(): flag for flag in SYSTEM_FLAGS}


def canonical(flag: str) -> str:
    """A system flag in its canonical spelling; a keyword or extension flag unchanged."""
    return _CANONICAL.get(flag.upper(), flag)


def parse_flag(c: Cursor, *, wildcard: bool = False) -> str:
    """``flag = "\\" atom / atom`` (flag-extension and flag-keyword); ``\\*`` if ``wildcard``."""
    if c.take(b"\\"):
        if wildcard and c.take(b"*"):
            return WILDCARD
        found = c.match(ATOM)
        if found is None:
            raise c.error("flag name after \\")
        return canonical("\\" + found.group().decode("ascii"))
    found = c.match(ATOM)
    if found is None:
        raise c.error("flag")
    return found.group().decode("ascii")


def parse_flag_list(c: Cursor) -> tuple[str, ...]:
    """``flag-list = "(" [flag *(SP flag)] ")"``."""
    return tuple(parenthesised(c, parse_flag))
