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
