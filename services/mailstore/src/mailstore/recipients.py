"""Which accounts a recipient address reaches (issue 16, "Addresses"); pure, no I/O.

A recipient is resolved by the first rule that matches:

1. an account's own address, exactly (an account registered with a ``+`` in its local
   part, before registration refused it, is still reached this way);
2. an alias: every account it names;
3. a subaddress (RFC 5233): the local part cut at its last ``+``, then at the one
   before, and so on, each shorter address tried with rules 1 and 2
   (``alice+lists+rust@`` is ``alice+lists@``'s, if that is an account, else alice's);
4. a role address (RFC 2142 postmaster, abuse, hostmaster, webmaster; also with a
   ``+detail``) with no account or alias of its own: the administrators.

Anything else reaches nobody. The expansion of one message's recipients reaches each
account once, whatever number of its addresses the envelope names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# RFC 5233 §1 leaves the separator to the site; "+" is what Postfix, Dovecot, Gmail and
# Fastmail use, and what users expect.
DELIMITER = "+"
# RFC 2142 §§4-5: the mailboxes a domain is expected to read.
ROLES = frozenset({"postmaster", "abuse", "hostmaster", "webmaster"})


@dataclass(frozen=True, slots=True)
class Directory:
    """What the database knows of a set of addresses (``db.recipients.lookup``)."""

    # address -> account id
    accounts: Mapping[str, int] = field(default_factory=dict)
    # alias address -> the ids of the accounts it delivers to
    aliases: Mapping[str, Sequence[int]] = field(default_factory=dict)
    # Who a role address reaches when no alias says otherwise.
    administrators: Sequence[int] = ()

    def resolve(self, address: str) -> list[int]:
        """The ids of the accounts ``address`` reaches (empty: nobody)."""
        forms = candidates(address)
        for form in forms:
            if form in self.accounts:
                return [self.accounts[form]]
            if form in self.aliases:
                return list(dict.fromkeys(self.aliases[form]))
        if forms[-1].rpartition("@")[0] in ROLES:
            return list(dict.fromkeys(self.administrators))
        return []


@dataclass(frozen=True, slots=True)
class Expansion:
    """One message's recipients, resolved."""

    # account id -> the Delivered-To recipient (RFC 9228), None when the envelope named
    # the account's own address; in the envelope's order.
    accounts: dict[int, str | None]
    # The recipients that reach nobody.
    nobody: list[str]


def candidates(address: str) -> list[str]:
    """``address``, then each shorter form cut at a DELIMITER, longest first."""
    local, at, domain = address.rpartition("@")
    forms = [address]
    if not at:
        return forms
    # A cut at position 0 would leave an empty local part: "+tag@" is nobody's subaddress.
    while (cut := local.rfind(DELIMITER)) > 0:
        local = local[:cut]
        forms.append(f"{local}@{domain}")
    return forms


def expand(rcpt_to: Sequence[str], directory: Directory) -> Expansion:
    """Each account the recipients reach, once.

    An account named by its own address gets no Delivered-To even when an alias or a
    subaddress of the same envelope also reaches it; otherwise the first recipient in
    the envelope that reaches it is the one named.
    """
    resolved = [(rcpt, directory.resolve(rcpt)) for rcpt in rcpt_to]
    delivered: dict[int, str | None] = {}
    for rcpt, ids in resolved:
        if directory.accounts.get(rcpt) in ids:
            delivered.setdefault(directory.accounts[rcpt], None)
    for rcpt, ids in resolved:
        for account_id in ids:
            delivered.setdefault(account_id, rcpt)
    # Ordered by the envelope again, so entries are made in the order of the recipients.
    order = {account_id: n for n, account_id in enumerate(a for _, ids in resolved for a in ids)}
    accounts = dict(sorted(delivered.items(), key=lambda item: order[item[0]]))
    return Expansion(accounts, [rcpt for rcpt, ids in resolved if not ids])


def delivered_to_field(recipient: str) -> bytes:
    """The ``Delivered-To:`` field (RFC 9228 §4) naming ``recipient``, CRLF-terminated.

    The address came through RCPT TO, so it holds no line break; a control character
    (possible in a quoted local part) is replaced all the same, so that nothing but
    this one field can ever be prepended.
    """
    clean = "".join(c if c.isprintable() else "?" for c in recipient)
    return b"Delivered-To: " + clean.encode("utf-8", "replace") + b"\r\n"
