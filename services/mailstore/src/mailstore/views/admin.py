"""The web's /admin pages' calls (issue 16): /v1/admin/..., and the sign-up's invitation
and registration-mode look-ups.

The web is the only caller and checks that its user is an administrator; here, as for
every /v1 route, the caller is trusted once it presents the service token
(middlewares.py). Every change names its ``actor`` (the administrator's address) and is
recorded in the audit log in the change's own transaction (admin.py, db/audit.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailstore import admin, db
from mailstore.errors import (
    AliasRefused,
    InvalidRequest,
    InvitationNotFound,
    MessageNotFound,
)
from mailstore.keys import CONFIG, EVENTS, HASHER, POOL
from mailstore.quotas import parse_size
from mailstore.views.accounts import _validated_account, address_problem
from mailstore.views.common import MAX_ID, json_object, limit_of, records_json
from mailstore.views.sessions import MAX_SECRET_LENGTH, secret_hash

MAX_ACTOR = 320
# "default", or a size: 19 digits, a space, a unit, and some blanks around.
MAX_QUOTA_TEXT = 40  # RFC 5321 §4.5.3.1.3's path, the longest address
MAX_QUERY = 320
MAX_TARGETS = 50
# The gateway's message ids: a ULID, or a ULID and an account id (db.delivery.copy_id).
MAX_MESSAGE_ID = 64


def _actor(body: dict[str, Any]) -> str:
    actor = body.get("actor")
    if not isinstance(actor, str) or not 1 <= len(actor) <= MAX_ACTOR:
        raise InvalidRequest({"actor": f"is required: who acts (1-{MAX_ACTOR} characters)"})
    return actor


def _address(request: web.Request) -> str:
    # Not storable (NUL, a lone surrogate): admin.* answer AccountNotFound for it.
    return request.match_info["address"].lower()


async def overview(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    counts = await db.account_counts(pool)
    return web.json_response(
        {
            "accounts": counts["accounts"],
            "admins": counts["admins"],
            "disabled": counts["disabled"],
            "registration": await _registration(pool),
        }
    )


async def _registration(pool: db.Pool) -> dict[str, Any]:
    row = await db.get_setting(pool, name=admin.REGISTRATION)
    if row is None:
        return {"mode": None, "changed_at": None, "changed_by": None}
    return {
        "mode": row["value"],
        "changed_at": row["changed_at"].isoformat(),
        "changed_by": row["changed_by"],
    }


async def registration(request: web.Request) -> web.Response:
    """The mode an administrator chose, or null: then LOCALPOST_REGISTRATION (the web's
    environment) is in force."""
    return web.json_response(await _registration(request.app[POOL]))


async def set_registration(request: web.Request) -> web.Response:
    body = await json_object(request)
    actor, mode = _actor(body), body.get("mode")
    if mode not in admin.REGISTRATION_MODES:
        raise InvalidRequest({"mode": f"must be one of {', '.join(admin.REGISTRATION_MODES)}"})
    await admin.set_registration(request.app[POOL], mode, actor=actor)
    return web.json_response(await _registration(request.app[POOL]))


async def list_accounts(request: web.Request) -> web.Response:
    query, after = request.query.get("q", ""), request.query.get("after")
    if len(query) > MAX_QUERY or not db.storable(query):
        raise InvalidRequest({"q": f"at most {MAX_QUERY} characters, no NUL"})
    if after is not None and (len(after) > MAX_QUERY or not db.storable(after)):
        raise InvalidRequest({"after": "is not an address this API returned"})
    limit = limit_of(request)
    rows = await db.list_accounts(request.app[POOL], contains=query, after=after, limit=limit + 1)
    more = len(rows) > limit
    shown = rows[:limit]
    return web.json_response(
        {
            "accounts": records_json(shown),
            "next": shown[-1]["address"] if more else None,
            # An account whose quota is null follows it (0: no limit).
            "default_quota": request.app[CONFIG].default_quota,
        }
    )


async def create_account(request: web.Request) -> web.Response:
    body = await json_object(request)
    actor = _actor(body)
    address, name, password = _validated_account(body, request.app[CONFIG].domains)
    password_hash = await request.app[HASHER].hash(password)
    async with db.audited(
        request.app[POOL], actor=actor, action="create_account", target=address
    ) as tx:
        row = await db.create_account(tx, address=address, name=name, password_hash=password_hash)
    created = {"address": row["address"], "name": row["name"]}
    return web.json_response({**created, "created_at": row["created_at"].isoformat()}, status=201)


async def disable(request: web.Request) -> web.Response:
    return await _set_disabled(request, disabled=True)


async def enable(request: web.Request) -> web.Response:
    return await _set_disabled(request, disabled=False)


async def _set_disabled(request: web.Request, *, disabled: bool) -> web.Response:
    actor = _actor(await json_object(request))
    await admin.set_disabled(
        request.app[POOL], _address(request), disabled=disabled, actor=actor, keep_one=True
    )
    if disabled:
        await _end_sessions(request)
    return web.json_response({"address": _address(request), "disabled": disabled})


async def _end_sessions(request: web.Request) -> None:
    """Tell the IMAP gateways, after the commit, to end the account's open IMAP and POP3
    sessions (as ``python -m mailstore admin disable`` does; events.py). The web's own
    sessions and tokens were ended in the transaction."""
    await request.app[EVENTS].publish({"event": "disabled", "account": _address(request)})


async def set_admin(request: web.Request) -> web.Response:
    body = await json_object(request)
    actor, grant = _actor(body), body.get("admin")
    if not isinstance(grant, bool):
        raise InvalidRequest({"admin": "must be true or false"})
    await admin.set_admin(
        request.app[POOL], _address(request), admin=grant, actor=actor, keep_one=True
    )
    return web.json_response({"address": _address(request), "admin": grant})


async def delete_account(request: web.Request) -> web.Response:
    actor = _actor(await json_object(request))
    await admin.delete_account(request.app[POOL], _address(request), actor=actor)
    # A deleted account's sessions end as a disabled one's do.
    await _end_sessions(request)
    return web.Response(status=204)


async def set_quota(request: web.Request) -> web.Response:
    """{"quota": "500MiB" | "0" | "default"}: the account's own limit, parsed as
    LOCALPOST_DEFAULT_QUOTA is (quotas.parse_size), so the admin page and the setting
    read a size alike; "default" returns the account to LOCALPOST_DEFAULT_QUOTA."""
    body = await json_object(request)
    actor, text = _actor(body), body.get("quota")
    if not isinstance(text, str) or len(text) > MAX_QUOTA_TEXT or not db.storable(text):
        raise InvalidRequest({"quota": "is required: a size such as 500MiB, 0, or default"})
    quota = None
    if text.strip().lower() != "default":
        try:
            quota = parse_size(text)
        except ValueError as exc:
            raise InvalidRequest({"quota": str(exc)}) from None
    default = request.app[CONFIG].default_quota
    usage = await admin.set_quota(
        request.app[POOL], _address(request), quota, default=default, actor=actor
    )
    return web.json_response({"address": _address(request), "quota": quota, **usage.as_json()})


async def reset_link(request: web.Request) -> web.Response:
    actor = _actor(await json_object(request))
    link, expires_at = await admin.issue_reset(
        request.app[POOL], _address(request), base_url=request.app[CONFIG].web_url, actor=actor
    )
    return web.json_response({"link": link, "expires_at": expires_at.isoformat()})


async def list_aliases(request: web.Request) -> web.Response:
    aliases = await db.list_aliases(request.app[POOL])
    return web.json_response(
        {"aliases": [{"address": a, "targets": t} for a, t in aliases.items()]}
    )


async def add_alias(request: web.Request) -> web.Response:
    body = await json_object(request)
    actor, address, targets = _actor(body), body.get("address"), body.get("targets")
    fields = {}
    if not isinstance(address, str):
        fields["address"] = "is required (a string)"
    elif problem := address_problem(address.lower(), request.app[CONFIG].domains):
        fields["address"] = problem
    if (
        not isinstance(targets, list)
        or not 1 <= len(targets) <= MAX_TARGETS
        or not all(isinstance(t, str) and 0 < len(t) <= MAX_ACTOR for t in targets)
    ):
        fields["targets"] = f"must be a list of 1-{MAX_TARGETS} account addresses"
    if fields:
        raise InvalidRequest(fields)
    assert isinstance(address, str)
    assert isinstance(targets, list)
    try:
        found = await admin.add_alias(
            request.app[POOL], address.lower(), [t.lower() for t in targets], actor=actor
        )
    except AliasRefused as exc:
        field = "address" if "account's address" in exc.reason else "targets"
        raise InvalidRequest({field: exc.reason}) from None
    return web.json_response({"address": address.lower(), "targets": found})


async def remove_alias(request: web.Request) -> web.Response:
    actor = _actor(await json_object(request))
    address = _address(request)
    if not db.storable(address) or not await admin.remove_alias(
        request.app[POOL], address, actor=actor
    ):
        raise web.HTTPNotFound()
    return web.Response(status=204)


async def create_invitation(request: web.Request) -> web.Response:
    body = await json_object(request)
    actor, address, days = _actor(body), body.get("address"), body.get("days", admin.INVITE_DAYS)
    fields = {}
    if address is not None and not isinstance(address, str):
        fields["address"] = "must be an address or null"
    elif isinstance(address, str) and (
        problem := address_problem(address.lower(), request.app[CONFIG].domains)
    ):
        fields["address"] = problem
    if type(days) is not int or not 1 <= days <= admin.MAX_INVITE_DAYS:
        fields["days"] = f"must be a whole number 1-{admin.MAX_INVITE_DAYS}"
    if fields:
        raise InvalidRequest(fields)
    assert isinstance(days, int)
    link, row = await admin.create_invitation(
        request.app[POOL],
        address=address.lower() if isinstance(address, str) else None,
        days=days,
        actor=actor,
        base_url=request.app[CONFIG].web_url,
    )
    return web.json_response({"link": link, **records_json([row])[0]}, status=201)


async def list_invitations(request: web.Request) -> web.Response:
    rows = await db.list_invitations(request.app[POOL], limit=limit_of(request))
    return web.json_response({"invitations": records_json(rows)})


def _id(request: web.Request) -> int:
    value = int(request.match_info["id"])
    if value > MAX_ID:
        raise web.HTTPNotFound()
    return value


async def revoke_invitation(request: web.Request) -> web.Response:
    actor = _actor(await json_object(request))
    if not await admin.revoke_invitation(request.app[POOL], _id(request), actor=actor):
        raise web.HTTPNotFound()
    return web.Response(status=204)


async def invitation(request: web.Request) -> web.Response:
    """A live invitation by its secret (the sign-up page shows its address); 404 alike
    for unknown, used, revoked and expired."""
    token = request.match_info["token"]
    row = None
    if len(token) <= MAX_SECRET_LENGTH and db.storable(token):
        row = await db.invitation(request.app[POOL], token_hash=secret_hash(token))
    if row is None:
        raise InvitationNotFound()
    return web.json_response(
        {"address": row["address"], "expires_at": row["expires_at"].isoformat()}
    )


async def audit(request: web.Request) -> web.Response:
    before = _cursor(request, "before")
    limit = limit_of(request)
    rows = await db.list_audit(
        request.app[POOL], before=int(before) if before else None, limit=limit + 1
    )
    shown = rows[:limit]
    return web.json_response(
        {
            "entries": records_json(shown),
            "next": shown[-1]["id"] if len(rows) > limit else None,
        }
    )


def _cursor(request: web.Request, name: str, *, digits: bool = True) -> str | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    ok = raw.isascii() and (raw.isdigit() and int(raw) <= MAX_ID if digits else raw.isalnum())
    if not ok or len(raw) > MAX_MESSAGE_ID:
        raise InvalidRequest({name: "is not a position this API returned"})
    return raw


async def list_unclaimed(request: web.Request) -> web.Response:
    before = _cursor(request, "before", digits=False)
    limit = limit_of(request)
    rows = await db.list_unclaimed(request.app[POOL], before=before, limit=limit + 1)
    shown = rows[:limit]
    return web.json_response(
        {
            "messages": records_json(shown),
            "next": shown[-1]["id"] if len(rows) > limit else None,
        }
    )


def _message_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if len(value) > MAX_MESSAGE_ID or not value.isascii() or not db.storable(value):
        raise MessageNotFound(0)
    return value


async def unclaimed_raw(request: web.Request) -> web.Response:
    raw = await db.unclaimed_raw(request.app[POOL], message_id=_message_id(request))
    if raw is None:
        raise web.HTTPNotFound()
    return web.Response(body=raw, content_type="message/rfc822")


async def delete_unclaimed(request: web.Request) -> web.Response:
    actor = _actor(await json_object(request))
    if not await admin.delete_unclaimed(request.app[POOL], _message_id(request), actor=actor):
        raise web.HTTPNotFound()
    return web.Response(status=204)


async def deliver_unclaimed(request: web.Request) -> web.Response:
    body = await json_object(request)
    actor, address = _actor(body), body.get("address")
    if not isinstance(address, str) or not 0 < len(address) <= MAX_ACTOR:
        raise InvalidRequest({"address": "is required: the account to deliver to"})
    message_id, address = _message_id(request), address.lower()
    changes = await admin.deliver_unclaimed(request.app[POOL], message_id, address, actor=actor)
    # After COMMIT, as the consumer's: the account's open Inbox (web page, IMAP IDLE)
    # shows the message now rather than at its next refresh.
    await request.app[EVENTS].delivered(changes, address, message_id)
    return web.Response(status=204)
