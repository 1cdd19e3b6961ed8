"""Which accounts a recipient address reaches (issue 16, "Addresses"); pure, no I/O.

A recipient is resolved by the first rule that matches:

1. an account's own address, exactly (an account registered with a ``+`` in its local
   part, before registration refused it, is still reached this way);
2. an alias: every account it names;
3. a list: every account its members reach (below);
4. a subaddress (RFC 5233): the local part cut at its last ``+``, then at the one
   before, and so on, each shorter address tried with rules 1-3
   (``alice+lists+rust@`` is ``alice+lists@``'s, if that is an account, else alice's);
5. a role address (RFC 2142 postmaster, abuse, hostmaster, webmaster; also with a
   ``+detail``) with no account, alias or list of its own: the administrators, when
   there are any;
6. the catch-all of the address's domain, when one is set: what its target (an
   account's, an alias's or a list's address, exactly) reaches by rules 1-3.

Anything else reaches nobody. The expansion of one message's recipients reaches each
account once, whatever number of its addresses the envelope names.

A list's members are addresses, each taken exactly (rules 1-3, no subaddress, no
role, no catch-all): an account, an alias (its accounts, disabled ones left out), or
another list, expanded in turn. Each list is expanded once per resolution, so a list
that is its own member, or a member of a list it contains, ends the walk instead of
looping. An account a list reaches gets the list's ``List-Id`` (RFC 2919) and
``List-Post`` (RFC 2369) fields; nested lists name the list the envelope named (the
one posted to, whose policy was checked). The sender is left out of what a list
reaches (``expand``'s ``sender``): only the authenticated submitter, never an
unauthenticated MAIL FROM, or anyone could forge a member's address to keep that
member's copy from them.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

# RFC 5233 §1 leaves the separator to the site; "+" is what Postfix, Dovecot, Gmail and
# Fastmail use, and what users expect.
DELIMITER = "+"
# RFC 2142 §§4-5: the mailboxes a domain is expected to read.
ROLES = frozenset({"postmaster", "abuse", "hostmaster", "webmaster"})
# Who may post to a list: its members, any account of ours, or anyone.
MEMBERS, LOCAL, ANYONE = "members", "local", "anyone"
POLICIES = (MEMBERS, LOCAL, ANYONE)
# RFC 2919 §2: a list-id is dot-atom-text; anything else in an address becomes "-".
_NOT_DOT_ATOM = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")


@dataclass(frozen=True, slots=True)
class MailingList:
    """A list's members (addresses of accounts, aliases or lists) and posting policy."""

    members: Sequence[str] = ()
    policy: str = MEMBERS


@dataclass(frozen=True, slots=True)
class Route:
    """What one recipient reaches."""

    accounts: list[int]
    # The list the recipient named (itself, by a subaddress, or as its domain's catch-all
    # target): its fields go on each copy, its policy says who may post.
    list_address: str | None = None


@dataclass(frozen=True, slots=True)
class Directory:
    """What the database knows of a set of addresses (``db.recipients.lookup``)."""

    # address -> account id
    accounts: Mapping[str, int] = field(default_factory=dict)
    # alias address -> the ids of the accounts it delivers to
    aliases: Mapping[str, Sequence[int]] = field(default_factory=dict)
    # Who a role address reaches when no alias says otherwise.
    administrators: Sequence[int] = ()
    # list address -> its members and policy
    lists: Mapping[str, MailingList] = field(default_factory=dict)
    # domain -> the address its unknown addresses go to (no entry: catch-all off)
    catchalls: Mapping[str, str] = field(default_factory=dict)
    # Accounts an administrator disabled: a list leaves them out, as an alias does.
    disabled: frozenset[int] = frozenset()

    def resolve(self, address: str) -> list[int]:
        """The ids of the accounts ``address`` reaches (empty: nobody)."""
        return self.route(address).accounts

    def route(self, address: str) -> Route:
        """What ``address`` reaches, by the module's rules in their order."""
        forms = candidates(address)
        for form in forms:
            if (found := self._exact(form)) is not None:
                return found
        if forms[-1].rpartition("@")[0] in ROLES and self.administrators:
            return Route(list(dict.fromkeys(self.administrators)))
        _, at, domain = address.rpartition("@")
        target = self.catchalls.get(domain) if at else None
        if target is not None and (found := self._exact(target)) is not None:
            return found
        return Route([])

    def may_post(self, address: str, sender: str | None) -> bool:
        """Whether ``sender`` may send to ``address`` (only a list's policy refuses).

        ``sender`` is the address the gateway vouches for: the authenticated submitter,
        else the MAIL FROM (which the gateway refuses at MAIL when it is in our domains
        and the client neither authenticated nor is in a trusted network); None or ""
        for the null sender, which only ``anyone`` lets post.
        """
        list_address = self.route(address).list_address
        if list_address is None:
            return True
        policy = self.lists[list_address].policy
        if policy == ANYONE:
            return True
        if not sender:
            return False
        account = self.accounts.get(sender)
        if policy == LOCAL:
            return account is not None or sender in self.aliases
        accounts, addresses = self._walk(list_address)
        return sender in addresses or (account is not None and account in accounts)

    def _exact(self, form: str) -> Route | None:
        if form in self.accounts:
            return Route([self.accounts[form]])
        if form in self.aliases:
            return Route(list(dict.fromkeys(self.aliases[form])))
        if form in self.lists:
            return Route(self._walk(form)[0], form)
        return None

    def _walk(self, list_address: str) -> tuple[list[int], set[str]]:
        """The accounts a list reaches, each once in member order, and every member
        address met on the way. Each list is walked once: a loop of lists ends."""
        reached: dict[int, None] = {}
        met: set[str] = set()
        walked = {list_address}
        pending = deque([list_address])
        while pending:
            for member in self.lists[pending.popleft()].members:
                met.add(member)
                if member in self.lists:
                    if member not in walked:
                        walked.add(member)
                        pending.append(member)
                    continue
                if member in self.accounts:
                    ids: Sequence[int] = [self.accounts[member]]
                else:
                    ids = self.aliases.get(member, ())
                reached.update(dict.fromkeys(i for i in ids if i not in self.disabled))
        return list(reached), met


@dataclass(frozen=True, slots=True)
class Expansion:
    """One message's recipients, resolved."""

    # account id -> the Delivered-To recipient (RFC 9228), None when the envelope named
    # the account's own address; in the envelope's order.
    accounts: dict[int, str | None]
    # The recipients that reach nobody.
    nobody: list[str]
    # account id -> the list that reached it (its copy gets List-Id and List-Post).
    lists: dict[int, str] = field(default_factory=dict)


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


def expand(rcpt_to: Sequence[str], directory: Directory, sender: str | None = None) -> Expansion:
    """Each account the recipients reach, once.

    An account named by its own address gets no Delivered-To even when an alias, a list
    or a subaddress of the same envelope also reaches it; otherwise the first recipient
    in the envelope that reaches it is the one named. ``sender`` is the authenticated
    submitter (``submitted_by``): a list leaves that account out, since they have the
    message in Sent; a recipient naming them directly still reaches them.
    """
    sender_id = directory.accounts.get(sender) if sender else None
    routes = [(rcpt, directory.route(rcpt)) for rcpt in rcpt_to]
    resolved = [
        (rcpt, route, [a for a in route.accounts if route.list_address is None or a != sender_id])
        for rcpt, route in routes
    ]
    delivered: dict[int, str | None] = {}
    lists: dict[int, str] = {}
    for rcpt, _, ids in resolved:
        if directory.accounts.get(rcpt) in ids:
            delivered.setdefault(directory.accounts[rcpt], None)
    for rcpt, route, ids in resolved:
        for account_id in ids:
            if account_id not in delivered:
                delivered[account_id] = rcpt
                if route.list_address is not None:
                    lists[account_id] = route.list_address
    # Ordered by the envelope again, so entries are made in the order of the recipients.
    order = {account_id: n for n, account_id in enumerate(a for _, _, ids in resolved for a in ids)}
    accounts = dict(sorted(delivered.items(), key=lambda item: order[item[0]]))
    nobody = [rcpt for rcpt, route, _ in resolved if not route.accounts]
    return Expansion(accounts, nobody, lists)


def list_fields(list_address: str) -> bytes:
    """``List-Id:`` (RFC 2919 §3, ``<local.domain>``) and ``List-Post:`` (RFC 2369 §3.4,
    a mailto URL, RFC 6068) of the list, each CRLF-terminated."""
    local, _, domain = list_address.rpartition("@")
    label = _NOT_DOT_ATOM.sub("-", f"{local}.{domain}")
    post = quote(list_address, safe="@")
    return f"List-Id: <{label}>\r\nList-Post: <mailto:{post}>\r\n".encode("ascii", "replace")


def copy_fields(recipient: str, list_address: str | None) -> bytes:
    """The fields prepended to one account's copy: Delivered-To, and a list's fields."""
    fields = delivered_to_field(recipient)
    return fields + list_fields(list_address) if list_address is not None else fields


def delivered_to_field(recipient: str) -> bytes:
    """The ``Delivered-To:`` field (RFC 9228 §4) naming ``recipient``, CRLF-terminated.

    The address came through RCPT TO, so it holds no line break; a control character
    (possible in a quoted local part) is replaced all the same, so that nothing but
    this one field can ever be prepended.
    """
    clean = "".join(c if c.isprintable() else "?" for c in recipient)
    return b"Delivered-To: " + clean.encode("utf-8", "replace") + b"\r\n"
