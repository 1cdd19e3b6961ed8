"""The admin JSON API under /api/v1/admin/ (issue 16): what the /admin pages do, for an
administrator's personal API token only (``Authorization: Bearer``). Anyone else, a
session cookie included, gets the 404 of a path that does not exist. Each change is
recorded in the audit log with the administrator as its actor (mailstore/admin.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from webmail import auth
from webmail.errors import AddressTaken, InvalidFields
from webmail.keys import CONFIG, MAILSTORE, PRINCIPAL
from webmail.mailstore_client import admin_path
from webmail.settings import REGISTRATION_MODES
from webmail.views.admin import _message
from webmail.views.api import _json_body, _limit, _text

MAX_QUERY = 320
_ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "disable": ("/disable", {}),
    "enable": ("/enable", {}),
    "grant": ("/admin", {"admin": True}),
    "revoke": ("/admin", {"admin": False}),
    "reset-link": ("/reset-link", {}),
}


def _last_admin() -> web.Response:
    return web.json_response(
        {"error": "the only administrator: make another one first"}, status=409
    )


def _admin(request: web.Request) -> str:
    principal = request.get(PRINCIPAL)
    if principal is None or principal.via != "token" or not principal.account.is_admin:
        raise web.HTTPNotFound()
    return str(principal.account.address)


def _query(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    if value is not None and (len(value) > MAX_QUERY or "\x00" in value):
        raise InvalidFields({name: f"at most {MAX_QUERY} characters, no NUL"})
    return value


async def list_accounts(request: web.Request) -> web.Response:
    _admin(request)
    params = {"q": _query(request, "q") or "", "limit": str(_limit(request))}
    if after := _query(request, "after"):
        params["after"] = after
    data = await request.app[MAILSTORE].admin_get("/accounts", params)
    return web.json_response({"accounts": data.get("accounts", []), "next": data.get("next")})


async def create_account(request: web.Request) -> web.Response:
    actor = _admin(request)
    body = await _json_body(request)
    name, address, password = auth.check_registration(
        name=_text(body, "name"),
        address=_text(body, "address"),
        password=_text(body, "password"),
        domains=request.app[CONFIG].domains,
    )
    created = {"address": address, "name": name, "password": password}
    data = await request.app[MAILSTORE].admin_post("/accounts", actor, created)
    return web.json_response({"address": data["address"], "name": data["name"]}, status=201)


async def account_action(request: web.Request) -> web.Response:
    actor = _admin(request)
    path, body = _ACTIONS[request.match_info["action"]]
    address = request.match_info["address"].lower()
    try:
        data = await request.app[MAILSTORE].admin_post(
            "/accounts" + admin_path(address) + path, actor, body
        )
    except AddressTaken:
        return _last_admin()
    return web.json_response(data)


async def delete_account(request: web.Request) -> web.Response:
    actor = _admin(request)
    address = request.match_info["address"].lower()
    try:
        await request.app[MAILSTORE].admin_post(
            "/accounts" + admin_path(address) + "/delete", actor
        )
    except AddressTaken:
        return _last_admin()
    return web.Response(status=204)


async def set_registration(request: web.Request) -> web.Response:
    actor = _admin(request)
    mode = (await _json_body(request)).get("mode")
    if mode not in REGISTRATION_MODES:
        raise InvalidFields({"mode": f"must be one of {', '.join(REGISTRATION_MODES)}"})
    await request.app[MAILSTORE].set_registration(mode, actor)
    return web.json_response({"mode": mode})


async def audit(request: web.Request) -> web.Response:
    _admin(request)
    params = {"limit": str(_limit(request))}
    before = request.query.get("before")
    if before is not None:
        if not (before.isascii() and before.isdigit() and len(before) <= 19):
            raise InvalidFields({"before": "must be an id this API returned"})
        params["before"] = before
    data = await request.app[MAILSTORE].admin_get("/audit", params)
    return web.json_response({"entries": data.get("entries", []), "next": data.get("next")})


# -- quotas, aliases, invitations, unclaimed mail: the pages' mail store calls ---------


def _string(body: dict[str, Any], name: str) -> str:
    value = _text(body, name)
    if not value or len(value) > MAX_QUERY or "\x00" in value:
        raise InvalidFields({name: f"is required: 1-{MAX_QUERY} characters, no NUL"})
    return value


async def set_quota(request: web.Request) -> web.Response:
    """{"quota": "500MiB" | "0" | "default"}, read as LOCALPOST_DEFAULT_QUOTA is."""
    actor = _admin(request)
    quota = _string(await _json_body(request), "quota")
    address = request.match_info["address"].lower()
    data = await request.app[MAILSTORE].admin_post(
        "/accounts" + admin_path(address) + "/quota", actor, {"quota": quota}
    )
    return web.json_response(data)


async def list_aliases(request: web.Request) -> web.Response:
    _admin(request)
    data = await request.app[MAILSTORE].admin_get("/aliases")
    return web.json_response({"aliases": data.get("aliases", [])})


async def add_alias(request: web.Request) -> web.Response:
    actor = _admin(request)
    body = await _json_body(request)
    address, targets = _string(body, "address").lower(), body.get("targets")
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise InvalidFields({"targets": "must be a list of account addresses"})
    data = await request.app[MAILSTORE].admin_post(
        "/aliases", actor, {"address": address, "targets": targets}
    )
    return web.json_response(data)


async def remove_alias(request: web.Request) -> web.Response:
    actor = _admin(request)
    address = request.match_info["address"].lower()
    await request.app[MAILSTORE].admin_post("/aliases" + admin_path(address) + "/delete", actor)
    return web.Response(status=204)


async def list_invitations(request: web.Request) -> web.Response:
    _admin(request)
    data = await request.app[MAILSTORE].admin_get("/invitations", {"limit": str(_limit(request))})
    return web.json_response({"invitations": data.get("invitations", [])})


async def create_invitation(request: web.Request) -> web.Response:
    """{"address": optional, "days": optional}: the link is in the answer, once."""
    actor = _admin(request)
    body = await _json_body(request)
    # The mail store checks both, and gives an invitation its default life without days.
    invited: dict[str, Any] = {n: body[n] for n in ("address", "days") if n in body}
    data = await request.app[MAILSTORE].admin_post("/invitations", actor, invited)
    return web.json_response(data, status=201)


async def revoke_invitation(request: web.Request) -> web.Response:
    actor = _admin(request)
    invitation = request.match_info["id"]
    await request.app[MAILSTORE].admin_post(f"/invitations/{invitation}/revoke", actor)
    return web.Response(status=204)


async def list_unclaimed(request: web.Request) -> web.Response:
    _admin(request)
    params = {"limit": str(_limit(request))}
    if (before := _query(request, "before")) is not None:
        if not before.isascii() or not before.isalnum():
            raise InvalidFields({"before": "must be an id this API returned"})
        params["before"] = before
    data = await request.app[MAILSTORE].admin_get("/unclaimed", params)
    return web.json_response({"messages": data.get("messages", []), "next": data.get("next")})


async def delete_unclaimed(request: web.Request) -> web.Response:
    actor = _admin(request)
    await request.app[MAILSTORE].admin_post(f"/unclaimed/{_message(request)}/delete", actor)
    return web.Response(status=204)


async def deliver_unclaimed(request: web.Request) -> web.Response:
    """{"address"}: into that account's Inbox; it leaves the unclaimed."""
    actor = _admin(request)
    message = _message(request)
    address = _string(await _json_body(request), "address").lower()
    await request.app[MAILSTORE].admin_post(
        f"/unclaimed/{message}/deliver", actor, {"address": address}
    )
    return web.Response(status=204)


# -- lists and catch-alls --------------------------------------------------------------


async def list_lists(request: web.Request) -> web.Response:
    _admin(request)
    data = await request.app[MAILSTORE].admin_get("/lists")
    return web.json_response({"lists": data.get("lists", [])})


async def create_list(request: web.Request) -> web.Response:
    """{"address", "policy"}: a list with no members."""
    actor = _admin(request)
    body = await _json_body(request)
    made = {"address": _string(body, "address").lower(), "policy": body.get("policy")}
    data = await request.app[MAILSTORE].admin_post("/lists", actor, made)
    return web.json_response(data, status=201)


def _list_path(request: web.Request) -> str:
    return "/lists" + admin_path(request.match_info["address"].lower())


async def get_list(request: web.Request) -> web.Response:
    _admin(request)
    return web.json_response(await request.app[MAILSTORE].admin_get(_list_path(request)))


async def delete_list(request: web.Request) -> web.Response:
    actor = _admin(request)
    await request.app[MAILSTORE].admin_post(_list_path(request) + "/delete", actor)
    return web.Response(status=204)


async def change_list(request: web.Request) -> web.Response:
    """PATCH {"policy"?, "add"?: [...], "remove"?: [...]}: each part one audited change,
    in that order; the list as it is then."""
    actor = _admin(request)
    body, path = await _json_body(request), _list_path(request)
    mailstore = request.app[MAILSTORE]
    if "policy" in body:
        await mailstore.admin_post(path + "/policy", actor, {"policy": body["policy"]})
    for name, suffix in (("add", "/members"), ("remove", "/members/delete")):
        if name in body:
            await mailstore.admin_post(path + suffix, actor, {"members": body[name]})
    return web.json_response(await mailstore.admin_get(path))


async def list_catchalls(request: web.Request) -> web.Response:
    _admin(request)
    data = await request.app[MAILSTORE].admin_get("/catchalls")
    return web.json_response({"catchalls": data.get("catchalls", [])})


async def set_catchall(request: web.Request) -> web.Response:
    """PUT {"target": address}: on; {"target": null}: off."""
    actor = _admin(request)
    target = (await _json_body(request)).get("target")
    domain = admin_path(request.match_info["domain"].lower())
    mailstore = request.app[MAILSTORE]
    if target is None:
        await mailstore.admin_post("/catchalls" + domain + "/delete", actor)
        return web.Response(status=204)
    data = await mailstore.admin_post("/catchalls" + domain, actor, {"target": target})
    return web.json_response(data)
