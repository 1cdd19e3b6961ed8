"""/v1/admin/lists and /v1/admin/catchalls (issue 16): the web's /admin/lists pages'
calls, each change named by its ``actor`` and audited (lists_admin.py).

As for every /v1/admin route the web checks that its user is an administrator; the
mail store trusts the service token (middlewares.py). A refusal is a 422 naming the
field (``address``, ``members``, ``policy``, ``target``) with db/lists.py's words; a
list or catch-all that is not there is a 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailstore import db, lists_admin
from mailstore.errors import CatchallRefused, InvalidRequest, ListRefused
from mailstore.keys import CONFIG, POOL
from mailstore.recipients import POLICIES
from mailstore.views.accounts import address_problem
from mailstore.views.admin import MAX_ACTOR, MAX_TARGETS, _actor, _address
from mailstore.views.common import json_object

# An address of ours: RFC 5321 §4.5.3.1.3's path, the longest.
MAX_ADDRESS = MAX_ACTOR


def _list_json(found: db.ListInfo) -> dict[str, Any]:
    return {"address": found.address, "policy": found.policy, "members": found.members}


def _policy(body: dict[str, Any]) -> str:
    policy = body.get("policy")
    if policy not in POLICIES:
        raise InvalidRequest({"policy": f"must be one of {', '.join(POLICIES)}"})
    assert isinstance(policy, str)
    return policy


def _addresses(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_TARGETS
        or not all(isinstance(v, str) and 0 < len(v) <= MAX_ADDRESS for v in value)
        or not all(db.storable(v) for v in value)
    ):
        raise InvalidRequest({name: f"must be a list of 1-{MAX_TARGETS} addresses"})
    return [v.lower() for v in value]


def _refused(exc: ListRefused | CatchallRefused, field: str) -> Exception:
    if exc.reason in (lists_admin.NO_SUCH_LIST, lists_admin.NO_CATCHALL):
        return web.HTTPNotFound()
    return InvalidRequest({field: exc.reason})


async def list_lists(request: web.Request) -> web.Response:
    found = await db.list_lists(request.app[POOL])
    return web.json_response({"lists": [_list_json(f) for f in found]})


async def create_list(request: web.Request) -> web.Response:
    body = await json_object(request)
    actor, address = _actor(body), body.get("address")
    fields = {}
    if not isinstance(address, str) or not 0 < len(address) <= MAX_ADDRESS:
        fields["address"] = "is required (an address)"
    elif problem := address_problem(address.lower(), request.app[CONFIG].domains):
        fields["address"] = problem
    if body.get("policy") not in POLICIES:
        fields["policy"] = f"must be one of {', '.join(POLICIES)}"
    if fields:
        raise InvalidRequest(fields)
    assert isinstance(address, str)
    try:
        await lists_admin.create_list(
            request.app[POOL], address.lower(), _policy(body), actor=actor
        )
    except ListRefused as exc:
        raise _refused(exc, "address") from None
    return web.json_response({"address": address.lower(), "policy": body["policy"]}, status=201)


async def get_list(request: web.Request) -> web.Response:
    address = _address(request)
    found = await db.get_list(request.app[POOL], address=address) if db.storable(address) else None
    if found is None:
        raise web.HTTPNotFound()
    return web.json_response(_list_json(found))


async def delete_list(request: web.Request) -> web.Response:
    actor = _actor(await json_object(request))
    address = _address(request)
    if not db.storable(address):
        raise web.HTTPNotFound()
    try:
        await lists_admin.delete_list(request.app[POOL], address, actor=actor)
    except ListRefused as exc:
        raise _refused(exc, "address") from None
    return web.Response(status=204)


async def add_members(request: web.Request) -> web.Response:
    return await _members(request, add=True)


async def remove_members(request: web.Request) -> web.Response:
    return await _members(request, add=False)


async def _members(request: web.Request, *, add: bool) -> web.Response:
    body = await json_object(request)
    actor, members, address = _actor(body), _addresses(body, "members"), _address(request)
    if not db.storable(address):
        raise web.HTTPNotFound()
    try:
        await lists_admin.change_members(request.app[POOL], address, members, add=add, actor=actor)
    except ListRefused as exc:
        raise _refused(exc, "members") from None
    return await get_list(request)


async def set_policy(request: web.Request) -> web.Response:
    body = await json_object(request)
    actor, policy, address = _actor(body), _policy(body), _address(request)
    if not db.storable(address):
        raise web.HTTPNotFound()
    try:
        await lists_admin.set_policy(request.app[POOL], address, policy, actor=actor)
    except ListRefused as exc:
        raise _refused(exc, "policy") from None
    return await get_list(request)


async def list_catchalls(request: web.Request) -> web.Response:
    """Every local domain with its catch-all target, null when off."""
    found = await db.list_catchalls(request.app[POOL])
    domains = request.app[CONFIG].domains
    return web.json_response(
        {"catchalls": [{"domain": d, "target": found.get(d)} for d in domains]}
    )


def _domain(request: web.Request) -> str:
    domain = request.match_info["domain"].lower()
    if domain not in request.app[CONFIG].domains:
        raise web.HTTPNotFound()
    return domain


async def set_catchall(request: web.Request) -> web.Response:
    body = await json_object(request)
    actor, target, domain = _actor(body), body.get("target"), _domain(request)
    if not isinstance(target, str) or not 0 < len(target) <= MAX_ADDRESS or not db.storable(target):
        raise InvalidRequest({"target": "is required: an account's, alias's or list's address"})
    try:
        await lists_admin.set_catchall(request.app[POOL], domain, target.lower(), actor=actor)
    except CatchallRefused as exc:
        raise _refused(exc, "target") from None
    return web.json_response({"domain": domain, "target": target.lower()})


async def unset_catchall(request: web.Request) -> web.Response:
    actor, domain = _actor(await json_object(request)), _domain(request)
    try:
        await lists_admin.unset_catchall(request.app[POOL], domain, actor=actor)
    except CatchallRefused as exc:
        raise _refused(exc, "target") from None
    return web.Response(status=204)
