"""RFC 5322 address lists (``To:``, ``Cc:``, a form's recipient field), parsed the same
on every Python.

``email.utils.getaddresses`` and ``parseaddr`` changed behaviour in patch releases: with
the CVE-2023-27043 fix (3.11.x of Debian, 3.12.6+, 3.13) they are "strict", and an empty
value, a trailing comma, or one entry they dislike turns the *whole* list into
``[('', '')]``. Code tested on an older patch release then refuses or drops recipients
in production (an empty Cc broke Send in the image). So nothing here calls them: an
address list is split into its entries by RFC 5322 §3.4's syntax (commas outside quoted
strings, comments and angle brackets), and each entry goes through ``policy.default``'s
header parser, which those releases left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from email import policy
from email.errors import HeaderParseError

# An entry longer than this is not an address anyone typed (RFC 5321 §4.5.3.1.3 allows
# 256 octets of path; a display name adds to that, but not by kilobytes).
MAX_ENTRY_CHARS = 2000


def split_entries(value: str, *, separators: str = ",") -> list[str]:
    """The non-blank entries of an address list, each stripped, in order.

    Commas separate entries only outside quoted strings (RFC 5322 §3.2.4, with
    quoted-pairs), comments (§3.2.2, which nest) and ``<...>`` (§3.4). A form field
    may pass more ``separators`` (";" as some mail programs write lists), under the
    same rule.
    """
    entries: list[str] = []
    start = 0
    quoted = escaped = False
    comment_depth = angle_depth = 0
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\" and (quoted or comment_depth):
            escaped = True
        elif quoted:
            quoted = char != '"'
        elif char == "(":
            comment_depth += 1
        elif char == ")" and comment_depth:
            comment_depth -= 1
        elif comment_depth:
            continue
        elif char == '"':
            quoted = True
        elif char == "<":
            angle_depth += 1
        elif char == ">" and angle_depth:
            angle_depth -= 1
        elif char in separators and not angle_depth:
            entries.append(value[start:index])
            start = index + 1
    entries.append(value[start:])
    return [entry.strip() for entry in entries if entry.strip()]


def parse_mailbox(entry: str) -> tuple[str, str] | None:
    """``(display name, addr-spec)`` of one entry, or None unless it is exactly one
    mailbox that the parser read without a defect (missing ``>``, stray text, no ``@``)."""
    if len(entry) > MAX_ENTRY_CHARS:
        return None
    try:
        header = policy.default.header_factory("To", entry)
        addresses = header.addresses
    except (HeaderParseError, ValueError, IndexError, TypeError, AttributeError):
        # The parser's known failure modes on hostile input; the entry is simply bad.
        # AttributeError: a group where it wants a mailbox (",:;:;" on CPython 3.11.7).
        return None
    if header.defects or len(addresses) != 1:
        return None
    address = addresses[0]
    if not address.username or not address.domain:
        return None
    return address.display_name, address.addr_spec


def mailboxes(values: Iterable[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Every mailbox in ``values`` (each an address list) and, apart, the bad entries."""
    good: list[tuple[str, str]] = []
    bad: list[str] = []
    for value in values:
        for entry in split_entries(value):
            parsed = parse_mailbox(entry)
            if parsed is None:
                bad.append(entry)
            else:
                good.append(parsed)
    return good, bad


def header_mailboxes(values: Iterable[object]) -> list[tuple[str, str]]:
    """Every mailbox of a message's address headers, groups flattened (RFC 5322 §3.4).

    ``values`` are what ``Message.get_all`` returns: header objects of ``policy.default``
    (already parsed) or strings. What the parser cannot read as a mailbox is skipped, as a
    mail reader would skip it.
    """
    found: list[tuple[str, str]] = []
    for value in values:
        addresses = getattr(value, "addresses", None)
        if addresses is None:
            try:
                addresses = policy.default.header_factory("To", str(value)).addresses
            except (HeaderParseError, ValueError, IndexError, TypeError):
                continue
        found.extend(
            (address.display_name, address.addr_spec)
            for address in addresses
            if address.username and address.domain
        )
    return found
