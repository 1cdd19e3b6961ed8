"""Recipient addresses: what an address reaches, and the aliases table (issue 16)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailstore.db.connection import Connection, Pool
from mailstore.db.lists import (
    TAKEN,
    catchalls_of,
    delete_forgetting,
    holder,
    lists_reached,
)
from mailstore.errors import AliasRefused
from mailstore.recipients import Directory, candidates


@dataclass(frozen=True, slots=True)
class Lookup:
    """A Directory for some addresses, and the addresses of the accounts it names."""

    directory: Directory
    address_of: dict[int, str]
    # The accounts named that an administrator disabled (mail to them is refused at
    # RCPT with 550 5.2.1; an alias skips them).
    disabled: frozenset[int] = frozenset()


async def administrator_ids(con: Connection) -> list[int]:
    """The accounts with the admin role (migration 0015), whom a role address (RFC 2142)
    reaches when no alias says otherwise; a disabled one reads nothing, so is left out.
    None at all: role mail is kept without an account."""
    rows = await con.fetch(
        "SELECT id FROM accounts WHERE is_admin AND disabled_at IS NULL ORDER BY id"
    )
    return [row["id"] for row in rows]


async def lookup(con: Connection, *, addresses: Iterable[str]) -> Lookup:
    """The accounts, aliases and lists of ``addresses`` and of every subaddress's shorter
    forms, their domains' catch-alls and their targets, every list those lists reach and
    its members, and the administrators. ``con`` may be the pool."""
    named = {form for address in addresses for form in candidates(address)}
    catchalls = await catchalls_of(con, domains={a.rpartition("@")[2] for a in named})
    named.update(catchalls.values())
    lists = await lists_reached(con, addresses=named)
    forms = list(named.union(*(found.members for found in lists.values())))
    rows = await con.fetch(
        """
        SELECT a.address AS key, a.id, a.address, false AS alias,
               a.disabled_at IS NOT NULL AS disabled
        FROM accounts a WHERE a.address = any($1::text[])
        UNION ALL
        SELECT al.address, a.id, a.address, true, false
        FROM aliases al JOIN accounts a ON a.id = al.account_id AND a.disabled_at IS NULL
        WHERE al.address = any($1::text[])
        ORDER BY 4, 1, 3
        """,
        forms,
    )
    admins = await administrator_ids(con)
    address_of = {row["id"]: row["address"] for row in rows}
    if admins:
        found = await con.fetch(
            "SELECT id, address FROM accounts WHERE id = any($1::bigint[])", admins
        )
        address_of.update({row["id"]: row["address"] for row in found})
        admins = [account_id for account_id in admins if account_id in address_of]
    aliases: dict[str, list[int]] = {}
    for row in rows:
        if row["alias"]:
            aliases.setdefault(row["key"], []).append(row["id"])
    accounts = {row["key"]: row["id"] for row in rows if not row["alias"]}
    disabled = frozenset(row["id"] for row in rows if row["disabled"])
    directory = Directory(accounts, aliases, admins, lists, catchalls, disabled)
    return Lookup(directory, address_of, disabled)


@dataclass(frozen=True, slots=True)
class RecipientCheck:
    """The RCPT check's answer for one recipient and sender."""

    # True, False, or None when it reaches only accounts an administrator disabled.
    reaches: bool | None
    # False when the recipient is a list whose posting policy refuses the sender.
    may_post: bool = True
    # The enabled accounts it reaches (their quotas are the RCPT check's too).
    accounts: tuple[int, ...] = ()


async def recipient_check(pool: Pool, *, address: str, sender: str | None) -> RecipientCheck:
    """Whether mail to ``address`` would reach at least one account, and whether
    ``sender`` (the address the gateway vouches for, Directory.may_post) may post to it."""
    found = await lookup(pool, addresses=[address, *([sender] if sender else [])])
    reached = found.directory.resolve(address)
    if reached and all(account_id in found.disabled for account_id in reached):
        return RecipientCheck(None)
    enabled = tuple(account_id for account_id in reached if account_id not in found.disabled)
    return RecipientCheck(bool(reached), found.directory.may_post(address, sender), enabled)


async def reaches_anyone(pool: Pool, *, address: str) -> bool | None:
    """Whether mail to ``address`` would reach at least one account (the RCPT check):
    True, False, or None when it reaches only accounts an administrator disabled."""
    return (await recipient_check(pool, address=address, sender=None)).reaches


async def add_alias(pool: Pool, *, address: str, targets: list[str]) -> list[str]:
    """Make ``address`` deliver to the accounts ``targets`` too; the alias's accounts.

    AliasRefused when ``address`` is an account's (an alias may not shadow it) or a
    target is no account. Adding a target twice changes nothing.
    """
    async with pool.acquire() as con, con.transaction():
        # Account creation checks for an alias under the same lock (db.accounts), so
        # an account and an alias cannot take one address at the same moment.
        await con.execute("SELECT pg_advisory_xact_lock(hashtext($1))", address)
        # An alias may take a deleted account's address (as before lists came).
        if (kind := await holder(con, address)) in ("account", "list"):
            raise AliasRefused(address, "is a list's address" if kind == "list" else TAKEN[kind])
        rows = await con.fetch(
            "SELECT id, address FROM accounts WHERE address = any($1::text[])", targets
        )
        missing = sorted(set(targets) - {row["address"] for row in rows})
        if missing:
            raise AliasRefused(address, f"no account {', '.join(missing)}")
        await con.executemany(
            "INSERT INTO aliases (address, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(address, row["id"]) for row in rows],
        )
        return await _targets(con, address)


async def remove_alias(pool: Pool, *, address: str) -> bool:
    """Delete the alias, and the list memberships and catch-all naming it; False when
    there was none."""
    return await delete_forgetting(pool, "DELETE FROM aliases WHERE address = $1", address)


async def list_aliases(pool: Pool) -> dict[str, list[str]]:
    """Every alias and its accounts' addresses, by address."""
    rows = await pool.fetch(
        """
        SELECT al.address, a.address AS target
        FROM aliases al JOIN accounts a ON a.id = al.account_id
        ORDER BY al.address, a.address
        """
    )
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["address"], []).append(row["target"])
    return found


async def aliases_of(pool: Pool, *, account_id: int) -> list[str]:
    """The aliases that deliver to the account: the addresses it may also send as."""
    rows = await pool.fetch(
        "SELECT address FROM aliases WHERE account_id = $1 ORDER BY address", account_id
    )
    return [row["address"] for row in rows]


async def _targets(con: Connection, address: str) -> list[str]:
    rows = await con.fetch(
        """
        SELECT a.address FROM aliases al JOIN accounts a ON a.id = al.account_id
        WHERE al.address = $1 ORDER BY a.address
        """,
        address,
    )
    return [row["address"] for row in rows]
