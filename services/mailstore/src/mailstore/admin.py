"""Administrators and password-reset links: what ``python -m mailstore admin`` and
``reset-password`` do (cli.py), LOCALPOST_ADMINS at start (main.py), and every action of
the web's /admin pages (views/admin.py).

Each action is recorded in the audit log in its own transaction (db.audited): ``actor``
is the administrator's address for the web, ``cli:<os user>`` for the commands. The web
checks that its caller is an administrator; the mail store trusts its caller as for
every /v1 route (the service token, middlewares.py).

A reset link is ``<LOCALPOST_WEB_URL>/reset/<secret>``: ``secrets.token_urlsafe(32)``
(256 bits), shown once; the database keeps its SHA-256 only, with an expiry. The web's
reset page consumes it through ``/v1/password-resets/{token}`` (views/resets.py).
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime

from mailstore import db
from mailstore.db.imap_append import Appended, append
from mailstore.errors import AccountNotFound, LastAdministrator, MessageNotFound
from mailstore.parsing import parse_message
from mailstore.quotas import Usage, usage_of
from mailstore.views.sessions import SECRET_BYTES, secret_hash

log = logging.getLogger(__name__)

# How long a reset link works unless `--hours` says otherwise: a day to read the message
# the administrator sent it in, short enough that a forgotten link soon stops working.
RESET_HOURS = 24
MAX_RESET_HOURS = 7 * 24
RESET_PATH = "/reset/"


async def grant_configured(pool: db.Pool, addresses: Sequence[str]) -> list[str]:
    """LOCALPOST_ADMINS: make these accounts administrators; those with no account yet
    stay so (a warning each). They are not made administrators when they register later:
    whoever registers the address first would get the role, and registration may be open
    to anyone. The addresses granted."""
    granted = await db.grant_admins(pool, addresses=list(addresses))
    for address in addresses:
        if address not in granted:
            log.warning(
                "LOCALPOST_ADMINS names %s, which has no account: not an administrator;"
                " create the account, then restart the mail store or run"
                " `python -m mailstore admin grant %s`",
                address,
                address,
            )
    if granted:
        log.info("administrators from LOCALPOST_ADMINS: %s", ", ".join(sorted(granted)))
    return granted


def cli_actor() -> str:
    """Who a command ran as, for the audit log: the OS user (compose: root)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry for the uid (a bare container)
        return "cli:?"


async def set_admin(
    pool: db.Pool,
    address: str,
    *,
    admin: bool,
    actor: str | None = None,
    keep_one: bool = False,
) -> None:
    """Grant or revoke the role; AccountNotFound for an address with no account.
    ``keep_one``: LastAdministrator rather than revoke the only enabled administrator."""
    if not db.storable(address):
        raise AccountNotFound(address)
    action = "grant_admin" if admin else "revoke_admin"
    async with db.audited(pool, actor=actor or cli_actor(), action=action, target=address) as tx:
        if keep_one and not admin and await db.is_last_admin(tx, address=address):
            raise LastAdministrator(address)
        if not await db.set_admin(tx, address=address, admin=admin):
            raise AccountNotFound(address)


async def set_disabled(
    pool: db.Pool,
    address: str,
    *,
    disabled: bool,
    actor: str | None = None,
    keep_one: bool = False,
) -> None:
    """Disable (every session ends at once) or enable; AccountNotFound for no account."""
    if not db.storable(address):
        raise AccountNotFound(address)
    action = "disable" if disabled else "enable"
    async with db.audited(pool, actor=actor or cli_actor(), action=action, target=address) as tx:
        if keep_one and disabled and await db.is_last_admin(tx, address=address):
            raise LastAdministrator(address)
        if not await db.set_disabled(tx, address=address, disabled=disabled):
            raise AccountNotFound(address)


async def delete_account(pool: db.Pool, address: str, *, actor: str) -> None:
    """The account with all its mail, its address retired (db.delete_account, as at
    /settings/delete); never the last enabled administrator."""
    if not db.storable(address):
        raise AccountNotFound(address)
    async with db.audited(pool, actor=actor, action="delete_account", target=address) as tx:
        account = await db.get_account(tx, address=address)
        if account is None:
            raise AccountNotFound(address)
        if await db.is_last_admin(tx, address=address):
            raise LastAdministrator(address)
        await db.delete_account(tx, account_id=account["id"])


async def set_quota(
    pool: db.Pool, address: str, quota: int | None, *, default: int, actor: str | None = None
) -> Usage:
    """Set the account's own storage limit (None: LOCALPOST_DEFAULT_QUOTA, ``default``);
    the usage under it, read in the same transaction. AccountNotFound for an address with
    no account."""
    if not db.storable(address):
        raise AccountNotFound(address)
    audit = db.audited(
        pool, actor=actor or cli_actor(), action="set_quota", target=address,
        detail={"quota": quota},
    )  # fmt: skip
    async with audit as tx:
        if not await db.set_quota(tx, address=address, quota=quota):
            raise AccountNotFound(address)
        account = await db.get_account(tx, address=address)
        assert account is not None  # it was just updated
        row = await db.get_quota(tx, account_id=account["id"])
    log.info("quota of %s set to %s", address, "default" if quota is None else quota)
    return usage_of(used=row["quota_used"], own=quota, default=default)


def quota_line(address: str, quota: int | None, usage: Usage) -> str:
    """What ``admin quota`` prints after :func:`set_quota`."""
    limit = "no limit" if usage.limit is None else f"a limit of {usage.limit} bytes"
    source = " (LOCALPOST_DEFAULT_QUOTA)" if quota is None else ""
    return f"{address} holds {usage.used} bytes, {limit}{source}"


async def issue_reset(
    pool: db.Pool,
    address: str,
    *,
    base_url: str,
    hours: int = RESET_HOURS,
    actor: str | None = None,
) -> tuple[str, datetime]:
    """A one-time link to set the account's password, and when it stops working. It
    replaces the account's earlier link; AccountNotFound for an unknown address."""
    if not db.storable(address):
        raise AccountNotFound(address)
    detail: dict[str, object] = {"hours": hours}
    audit = db.audited(
        pool, actor=actor or cli_actor(), action="reset_link", target=address, detail=detail
    )
    async with audit as tx:
        account = await db.get_account(tx, address=address)
        if account is None:
            raise AccountNotFound(address)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        expires_at = await db.create_reset(
            tx, account_id=account["id"], token_hash=secret_hash(secret), hours=hours
        )
    log.info("password reset link issued for %s, valid until %s", address, expires_at)
    return base_url.rstrip("/") + RESET_PATH + secret, expires_at


# Sign-up invitations (LOCALPOST_REGISTRATION=invite, or the mode set at /admin).
INVITE_DAYS = 7
MAX_INVITE_DAYS = 90
INVITE_PATH = "/invite/"
REGISTRATION = "registration"
REGISTRATION_MODES = ("open", "invite", "closed")


async def create_invitation(
    pool: db.Pool, *, address: str | None, days: int, actor: str, base_url: str
) -> tuple[str, db.Record]:
    """A one-time sign-up link (shown once; the database keeps its SHA-256), optionally
    for one address only, and its row."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    detail: dict[str, object] = {"days": days}
    audit = db.audited(
        pool, actor=actor, action="create_invitation", target=address or "", detail=detail
    )
    async with audit as tx:
        row = await db.create_invitation(
            tx, token_hash=secret_hash(secret), address=address, created_by=actor, days=days
        )
        detail["id"] = row["id"]
    return base_url.rstrip("/") + INVITE_PATH + secret, row


async def revoke_invitation(pool: db.Pool, invitation_id: int, *, actor: str) -> bool:
    """False when no live invitation has the id (nothing is recorded then)."""
    detail: dict[str, object] = {"id": invitation_id}
    try:
        async with db.audited(pool, actor=actor, action="revoke_invitation", detail=detail) as tx:
            if await db.revoke_invitation(tx, invitation_id=invitation_id) is None:
                raise _NothingDone()
    except _NothingDone:
        return False
    return True


async def set_registration(pool: db.Pool, mode: str, *, actor: str) -> None:
    assert mode in REGISTRATION_MODES
    async with db.audited(pool, actor=actor, action="set_registration", target=mode) as tx:
        await db.set_setting(tx, name=REGISTRATION, value=mode, changed_by=actor)


async def add_alias(pool: db.Pool, address: str, targets: list[str], *, actor: str) -> list[str]:
    """db.add_alias, recorded; AliasRefused as there."""
    detail: dict[str, object] = {"targets": targets}
    async with db.audited(
        pool, actor=actor, action="add_alias", target=address, detail=detail
    ) as tx:
        return await db.add_alias(tx, address=address, targets=targets)


async def remove_alias(pool: db.Pool, address: str, *, actor: str) -> bool:
    try:
        async with db.audited(pool, actor=actor, action="remove_alias", target=address) as tx:
            if not await db.remove_alias(tx, address=address):
                raise _NothingDone()
    except _NothingDone:
        return False
    return True


async def delete_unclaimed(pool: db.Pool, message_id: str, *, actor: str) -> bool:
    try:
        async with db.audited(
            pool, actor=actor, action="delete_unclaimed", target=message_id
        ) as tx:
            if not await db.delete_unclaimed(tx, message_id=message_id):
                raise _NothingDone()
    except _NothingDone:
        return False
    return True


async def deliver_unclaimed(
    pool: db.Pool, message_id: str, address: str, *, actor: str
) -> list[db.Change]:
    """Put a message that reached nobody into the account's Inbox (unread, as an IMAP
    APPEND stores it: a new copy with its own id) and delete it from the unclaimed, in
    one transaction. The entries made, for the ``stored`` event that the caller
    publishes after COMMIT. MessageNotFound, or AccountNotFound for no
    account at ``address``."""
    if not db.storable(address):
        raise AccountNotFound(address)
    detail: dict[str, object] = {"to": address}
    async with db.audited(
        pool, actor=actor, action="deliver_unclaimed", target=message_id, detail=detail
    ) as tx:
        raw = await db.unclaimed_raw(tx, message_id=message_id)
        if raw is None:
            raise MessageNotFound(0)
        account = await db.get_account(tx, address=address)
        if account is None:
            raise AccountNotFound(address)
        # Off the event loop: a message may be large (views/imap_append.py does the same).
        parsed = await asyncio.to_thread(parse_message, raw)
        message = Appended(raw, parsed, frozenset(), frozenset(), None)
        outcome = await append(
            tx, account_id=account["id"], address=address, name="INBOX", messages=[message]
        )
        await db.delete_unclaimed(tx, message_id=message_id)
    return outcome.changes


class _NothingDone(Exception):
    """Leaves an audited block without its row: the action found nothing to act on."""
