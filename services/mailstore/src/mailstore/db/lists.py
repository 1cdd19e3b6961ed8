"""Mailing lists and catch-alls (issue 16, "Addresses"): the tables of migration 0021.

The resolution rules are mailstore.recipients' (pure); this module reads what they need
(``lists_reached``, ``catchalls_of``, for db.recipients.lookup) and changes the tables
for ``python -m mailstore list|catchall`` and, later, the admin pages. A list's address
is nobody else's: an account's creation, an alias and a list check each other under
one advisory lock per address.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailstore.db.connection import Connection, Pool
from mailstore.errors import CatchallRefused, ListRefused
from mailstore.recipients import MailingList

# Whichever of the three an address is, exactly (members and catch-all targets are
# taken exactly: no subaddress, no role, no catch-all).
_KIND_OF = """
    SELECT a.address FROM unnest($1::text[]) AS a (address)
    WHERE EXISTS (SELECT 1 FROM accounts WHERE address = a.address)
       OR EXISTS (SELECT 1 FROM aliases WHERE address = a.address)
       OR EXISTS (SELECT 1 FROM lists WHERE address = a.address)
"""


# What holder() finds, as a refusal says it.
TAKEN = {
    "account": "is an account's address",
    "retired": "was a deleted account's address",
    "alias": "is an alias's address",
    "list": "is a list already",
}


@dataclass(frozen=True, slots=True)
class ListInfo:
    address: str
    policy: str
    members: list[str]


async def lists_reached(con: Connection, *, addresses: Iterable[str]) -> dict[str, MailingList]:
    """The lists among ``addresses`` and every list they reach through members, with
    their members and policies. UNION (not UNION ALL) ends a loop of lists."""
    rows = await con.fetch(
        """
        WITH RECURSIVE walked (address) AS (
            SELECT address FROM lists WHERE address = any($1::text[])
            UNION
            SELECT m.member FROM walked w
            JOIN list_members m ON m.list_address = w.address
            JOIN lists l ON l.address = m.member
        )
        SELECT l.address, l.policy,
               coalesce(array_agg(m.member ORDER BY m.member)
                        FILTER (WHERE m.member IS NOT NULL), '{}') AS members
        FROM walked w JOIN lists l ON l.address = w.address
        LEFT JOIN list_members m ON m.list_address = l.address
        GROUP BY l.address, l.policy
        """,
        list(addresses),
    )
    return {row["address"]: MailingList(tuple(row["members"]), row["policy"]) for row in rows}


async def catchalls_of(con: Connection, *, domains: Iterable[str]) -> dict[str, str]:
    """domain -> catch-all target, for the domains that have one."""
    rows = await con.fetch(
        "SELECT domain, target FROM catchalls WHERE domain = any($1::text[])", list(domains)
    )
    return {row["domain"]: row["target"] for row in rows}


async def create_list(pool: Pool, *, address: str, policy: str) -> None:
    """A new list with no members; ListRefused when the address is taken."""
    async with pool.acquire() as con, con.transaction():
        # The lock of accounts' creation and of db.recipients.add_alias (same address).
        await con.execute("SELECT pg_advisory_xact_lock(hashtext($1))", address)
        if (kind := await holder(con, address)) is not None:
            raise ListRefused(address, TAKEN[kind])
        await con.execute("INSERT INTO lists (address, policy) VALUES ($1, $2)", address, policy)


async def holder(con: Connection, address: str) -> str | None:
    """Which kind of address ``address`` is (a key of TAKEN), or None when it is free."""
    kind: str | None = await con.fetchval(
        """
        SELECT CASE
            WHEN EXISTS (SELECT 1 FROM accounts WHERE address = $1) THEN 'account'
            WHEN EXISTS (SELECT 1 FROM retired_addresses WHERE address = $1) THEN 'retired'
            WHEN EXISTS (SELECT 1 FROM aliases WHERE address = $1) THEN 'alias'
            WHEN EXISTS (SELECT 1 FROM lists WHERE address = $1) THEN 'list'
        END
        """,
        address,
    )
    return kind


async def delete_list(pool: Pool, *, address: str) -> bool:
    """Delete the list, its members, its place in other lists and the catch-all naming
    it; False when there was none."""
    return await delete_forgetting(pool, "DELETE FROM lists WHERE address = $1", address)


async def delete_forgetting(pool: Pool, statement: str, address: str) -> bool:
    """Delete an alias or a list by ``statement`` and, with it, every list membership
    and catch-all naming its address; whether there was one. An account made later with
    that address must not inherit them (an alias's address is free again).
    db.delete_account does the same for the aliases that go with their last account."""
    async with pool.acquire() as con, con.transaction():
        status: str = await con.execute(statement, address)
        if status == "DELETE 0":
            return False
        await con.execute("DELETE FROM list_members WHERE member = $1", address)
        await con.execute("DELETE FROM catchalls WHERE target = $1", address)
    return True


async def add_members(pool: Pool, *, address: str, members: list[str]) -> list[str]:
    """Add ``members`` (addresses of accounts, aliases or lists) to the list; its members.

    ListRefused when there is no such list or a member is none of the three. Adding a
    member twice changes nothing; a list may name itself or a list that contains it
    (expansion walks each list once).
    """
    async with pool.acquire() as con, con.transaction():
        await _lock_list(con, address)
        known = {row["address"] for row in await con.fetch(_KIND_OF, members)}
        if missing := sorted(set(members) - known):
            raise ListRefused(address, f"no account, alias or list {', '.join(missing)}")
        await con.executemany(
            "INSERT INTO list_members (list_address, member) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING",
            [(address, member) for member in members],
        )
        return await _members(con, address)


async def remove_members(pool: Pool, *, address: str, members: list[str]) -> list[str]:
    """Remove ``members`` from the list; its members left. ListRefused for no such list
    or a member it does not have."""
    async with pool.acquire() as con, con.transaction():
        await _lock_list(con, address)
        rows = await con.fetch(
            "DELETE FROM list_members WHERE list_address = $1 AND member = any($2::text[])"
            " RETURNING member",
            address,
            members,
        )
        if missing := sorted(set(members) - {row["member"] for row in rows}):
            raise ListRefused(address, f"has no member {', '.join(missing)}")
        return await _members(con, address)


async def set_policy(pool: Pool, *, address: str, policy: str) -> bool:
    """Set who may post; False when there is no such list."""
    status: str = await pool.execute(
        "UPDATE lists SET policy = $2 WHERE address = $1", address, policy
    )
    return status != "UPDATE 0"


async def get_list(pool: Pool, *, address: str) -> ListInfo | None:
    row = await pool.fetchrow("SELECT address, policy FROM lists WHERE address = $1", address)
    if row is None:
        return None
    return ListInfo(row["address"], row["policy"], await _members(pool, address))


async def list_lists(pool: Pool) -> list[ListInfo]:
    """Every list with its policy and members, by address."""
    rows = await pool.fetch(
        """
        SELECT l.address, l.policy,
               coalesce(array_agg(m.member ORDER BY m.member)
                        FILTER (WHERE m.member IS NOT NULL), '{}') AS members
        FROM lists l LEFT JOIN list_members m ON m.list_address = l.address
        GROUP BY l.address, l.policy ORDER BY l.address
        """
    )
    return [ListInfo(row["address"], row["policy"], list(row["members"])) for row in rows]


async def set_catchall(pool: Pool, *, domain: str, target: str) -> None:
    """Send the domain's otherwise unknown addresses to ``target`` (an account's, an
    alias's or a list's address, in any of our domains); CatchallRefused when it is none."""
    async with pool.acquire() as con, con.transaction():
        if not await con.fetch(_KIND_OF, [target]):
            raise CatchallRefused(domain, f"no account, alias or list {target}")
        await con.execute(
            "INSERT INTO catchalls (domain, target) VALUES ($1, $2)"
            " ON CONFLICT (domain) DO UPDATE SET target = excluded.target",
            domain,
            target,
        )


async def unset_catchall(pool: Pool, *, domain: str) -> bool:
    """Turn the domain's catch-all off; False when it was off."""
    status: str = await pool.execute("DELETE FROM catchalls WHERE domain = $1", domain)
    return status != "DELETE 0"


async def list_catchalls(pool: Pool) -> dict[str, str]:
    """domain -> target, for every domain whose catch-all is on."""
    rows = await pool.fetch("SELECT domain, target FROM catchalls ORDER BY domain")
    return {row["domain"]: row["target"] for row in rows}


async def _lock_list(con: Connection, address: str) -> None:
    # FOR UPDATE: a concurrent delete_list waits, so no member row outlives its list.
    if await con.fetchval("SELECT 1 FROM lists WHERE address = $1 FOR UPDATE", address) is None:
        raise ListRefused(address, "no such list")


async def _members(con: Connection, address: str) -> list[str]:
    rows = await con.fetch(
        "SELECT member FROM list_members WHERE list_address = $1 ORDER BY member", address
    )
    return [row["member"] for row in rows]
