"""Lists' and catch-alls' changes (db/lists.py), each recorded in the administrators'
audit log in its own transaction (issue 16): the /v1/admin/lists and /catchalls calls
the web's admin pages make (views/admin_lists.py) and ``python -m mailstore list`` and
``catchall`` (cli_lists.py), which act as ``cli:<os user>`` (admin.cli_actor).

A refused change (ListRefused, CatchallRefused: the address taken, a member that is no
address here, no such list) raises inside the audited block, which rolls it back with
its row: a row exists exactly when the change took effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mailstore import db
from mailstore.admin import cli_actor
from mailstore.errors import CatchallRefused, ListRefused

NO_SUCH_LIST = "no such list"
NO_CATCHALL = "has no catch-all"


async def _audited(
    pool: db.Pool,
    change: Callable[..., Awaitable[object]],
    *,
    action: str,
    on: str,
    actor: str | None,
    detail: dict[str, Any] | None = None,
    missing: Exception | None = None,
    **arguments: Any,
) -> None:
    """``change(tx, **arguments)`` and its audit row; ``missing`` is raised (rolling
    both back) when the change answers False: there was nothing to change."""
    who = actor or cli_actor()
    async with db.audited(pool, actor=who, action=action, target=on, detail=detail) as tx:
        if await change(tx, **arguments) is False and missing is not None:
            raise missing


async def create_list(pool: db.Pool, address: str, policy: str, *, actor: str | None) -> None:
    await _audited(
        pool, db.create_list, action="create_list", on=address, actor=actor,
        detail={"policy": policy}, address=address, policy=policy,
    )  # fmt: skip


async def delete_list(pool: db.Pool, address: str, *, actor: str | None) -> None:
    await _audited(
        pool, db.delete_list, action="delete_list", on=address, actor=actor,
        missing=ListRefused(address, NO_SUCH_LIST), address=address,
    )  # fmt: skip


async def change_members(
    pool: db.Pool, address: str, members: list[str], *, add: bool, actor: str | None
) -> None:
    """Add or remove ``members``; ListRefused for no such list, a member that is no
    account, alias or list (adding) or not a member (removing)."""
    change, action = (db.add_members, "add") if add else (db.remove_members, "remove")
    await _audited(
        pool, change, action=f"{action}_members", on=address, actor=actor,
        detail={"members": members}, address=address, members=members,
    )  # fmt: skip


async def set_policy(pool: db.Pool, address: str, policy: str, *, actor: str | None) -> None:
    await _audited(
        pool, db.set_policy, action="list_policy", on=address, actor=actor,
        detail={"policy": policy}, missing=ListRefused(address, NO_SUCH_LIST),
        address=address, policy=policy,
    )  # fmt: skip


async def set_catchall(pool: db.Pool, domain: str, target: str, *, actor: str | None) -> None:
    await _audited(
        pool, db.set_catchall, action="set_catchall", on=domain, actor=actor,
        detail={"target": target}, domain=domain, target=target,
    )  # fmt: skip


async def unset_catchall(pool: db.Pool, domain: str, *, actor: str | None) -> None:
    await _audited(
        pool, db.unset_catchall, action="unset_catchall", on=domain, actor=actor,
        missing=CatchallRefused(domain, NO_CATCHALL), domain=domain,
    )  # fmt: skip
