"""Administrators and password-reset links: what ``python -m mailstore admin`` and
``reset-password`` do (cli.py), and LOCALPOST_ADMINS at start (main.py).

A reset link is ``<LOCALPOST_WEB_URL>/reset/<secret>``: ``secrets.token_urlsafe(32)``
(256 bits), shown once; the database keeps its SHA-256 only, with an expiry. The web's
reset page consumes it through ``/v1/password-resets/{token}`` (views/resets.py).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime

from mailstore import db
from mailstore.errors import AccountNotFound
from mailstore.quotas import usage_of
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


async def set_admin(pool: db.Pool, address: str, *, admin: bool) -> None:
    """Grant or revoke the role; AccountNotFound for an address with no account."""
    if not db.storable(address) or not await db.set_admin(pool, address=address, admin=admin):
        raise AccountNotFound(address)


async def set_disabled(pool: db.Pool, address: str, *, disabled: bool) -> None:
    """Disable (every session ends at once) or enable; AccountNotFound for no account."""
    if not db.storable(address) or not await db.set_disabled(
        pool, address=address, disabled=disabled
    ):
        raise AccountNotFound(address)


async def set_quota(pool: db.Pool, address: str, quota: int | None, *, default: int) -> str:
    """Set the account's own storage limit (None: LOCALPOST_DEFAULT_QUOTA, ``default``);
    a line saying what it is now. AccountNotFound for an address with no account."""
    if not db.storable(address) or not await db.set_quota(pool, address=address, quota=quota):
        raise AccountNotFound(address)
    account = await db.get_account(pool, address=address)
    assert account is not None  # it was just updated
    row = await db.get_quota(pool, account_id=account["id"])
    usage = usage_of(used=row["quota_used"], own=quota, default=default)
    limit = "no limit" if usage.limit is None else f"a limit of {usage.limit} bytes"
    source = " (LOCALPOST_DEFAULT_QUOTA)" if quota is None else ""
    log.info("quota of %s set to %s", address, "default" if quota is None else quota)
    return f"{address} holds {usage.used} bytes, {limit}{source}"


async def issue_reset(
    pool: db.Pool, address: str, *, base_url: str, hours: int = RESET_HOURS
) -> tuple[str, datetime]:
    """A one-time link to set the account's password, and when it stops working. It
    replaces the account's earlier link; AccountNotFound for an unknown address."""
    account = await db.get_account(pool, address=address) if db.storable(address) else None
    if account is None:
        raise AccountNotFound(address)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    expires_at = await db.create_reset(
        pool, account_id=account["id"], token_hash=secret_hash(secret), hours=hours
    )
    log.info("password reset link issued for %s, valid until %s", address, expires_at)
    return base_url.rstrip("/") + RESET_PATH + secret, expires_at
