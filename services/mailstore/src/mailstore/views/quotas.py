"""An account's storage quota: what the web and the IMAP gateway show, and the
administrators' setting (issue 16; mailstore.quotas)."""

from __future__ import annotations

from aiohttp import web

from mailstore import admin, db
from mailstore.errors import InvalidRequest
from mailstore.keys import CONFIG, POOL
from mailstore.quotas import MAX_QUOTA, Usage, usage_of
from mailstore.views.common import account_of, json_object


async def usage(request: web.Request, account_id: int) -> Usage:
    row = await db.get_quota(request.app[POOL], account_id=account_id)
    default = request.app[CONFIG].default_quota
    return usage_of(used=row["quota_used"], own=row["quota"], default=default)


async def get_quota(request: web.Request) -> web.Response:
    """{"used", "limit" (null: none), "room" (null: no limit), "full"} in bytes."""
    account = await account_of(request)
    return web.json_response((await usage(request, account["id"])).as_json())


# Who the audit log names for a change made through the internal API: only a holder of
# the service token can make it, and the token says no more than that.
SERVICE_ACTOR = "api:service"


async def set_quota(request: web.Request) -> web.Response:
    """{"quota": bytes} sets the account's own limit (0: none), {"quota": null} returns it
    to LOCALPOST_DEFAULT_QUOTA. Byte-exact, for scripts and tests; the admin pages use
    ``/v1/admin/accounts/{address}/quota`` with a size and the administrator's name.
    Audited as the administrators' change is (issue 16: every admin action)."""
    account = await account_of(request)
    body = await json_object(request)
    quota = body.get("quota", False)
    # bool is an int in Python: true must not set a one-byte quota.
    if quota is not None and (type(quota) is not int or not 0 <= quota <= MAX_QUOTA):
        raise InvalidRequest({"quota": f"must be null or a whole number of bytes 0-{MAX_QUOTA}"})
    default = request.app[CONFIG].default_quota
    now = await admin.set_quota(
        request.app[POOL], account["address"], quota, default=default, actor=SERVICE_ACTOR
    )
    return web.json_response(now.as_json())
