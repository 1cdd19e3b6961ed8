"""The administrators' /admin/lists pages (issue 16): mailing lists (address, posting
policy, members) and each domain's catch-all, a section of the same page.

The guard, the page frame and the error sentences are views/admin.py's: anyone but an
administrator gets the 404 of a page that does not exist; every POST carries the CSRF
token (middlewares.py). The mail store checks and does each change and records it in
the audit log (mailstore/lists_admin.py); its refusals (address taken, a member that is
no address here) come back as the field's error, what was typed kept.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from webmail import auth
from webmail.controls import INVISIBLE, has_control
from webmail.errors import InvalidFields, NotFound
from webmail.keys import CONFIG, MAILSTORE
from webmail.views.admin import MAX_QUERY, MAX_TARGETS, _address, _page, _sentence, admin_of
from webmail.views.common import field, see_other

# mailstore/recipients.py's posting policies, as the page names them.
POLICIES = {
    "members": "Members only",
    "local": "Any local sender",
    "anyone": "Anyone",
}
NO_LIST = "There is no such list."


def _typed(text: str) -> bool:
    return 0 < len(text) <= MAX_QUERY and not has_control(text, INVISIBLE)


def _many(text: str, domains: tuple[str, ...]) -> list[str] | None:
    """Addresses separated by spaces or commas, bare local parts in the first domain;
    None unless 1-MAX_TARGETS plain ones."""
    found = text.replace(",", " ").split()
    if not 1 <= len(found) <= MAX_TARGETS or not all(_typed(a) for a in found):
        return None
    return [auth.full_address(a, domains) for a in found]


async def lists(request: web.Request) -> web.Response:
    admin_of(request)
    return await _lists(request, {"policy": "members"}, {})


async def _lists(
    request: web.Request, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> web.Response:
    mailstore = request.app[MAILSTORE]
    context = {
        "lists": (await mailstore.admin_get("/lists")).get("lists", []),
        "catchalls": (await mailstore.admin_get("/catchalls")).get("catchalls", []),
        "policies": POLICIES,
        "values": values,
        "errors": errors,
    }
    return await _page(request, "admin/lists.html", context, status)


async def create_list(request: web.Request) -> web.Response:
    actor = admin_of(request)
    form = await request.post()
    values = {name: field(form, name) for name in ("address", "policy")}
    errors = {}
    address = values["address"].strip()
    if not _typed(address):
        errors["address"] = f"Enter the list's address (at most {MAX_QUERY} characters)."
    if values["policy"] not in POLICIES:
        errors["policy"] = "Choose who may post."
    if errors:
        return await _lists(request, values, errors, 422)
    address = auth.full_address(address, request.app[CONFIG].domains)
    try:
        await request.app[MAILSTORE].admin_post(
            "/lists", actor, {"address": address, "policy": values["policy"]}
        )
    except InvalidFields as exc:
        fields = {k: _sentence(v) for k, v in exc.fields.items()}
        return await _lists(request, values, fields, 422)
    return see_other("/admin/lists/" + quote(address, safe="@"))


async def set_catchall(request: web.Request) -> web.Response:
    """One domain's catch-all: a target turns it on, an empty one off."""
    actor = admin_of(request)
    form = await request.post()
    domain, target = field(form, "domain"), field(form, "target").strip()
    values = {"catchall_domain": domain, "target": target}
    mailstore = request.app[MAILSTORE]
    if domain not in request.app[CONFIG].domains:
        # A domain not ours came from no form of this page: the page's alert.
        return await _lists(request, values, {"form": "There is no such domain here."}, 422)
    try:
        if not target:
            await mailstore.admin_post(f"/catchalls/{quote(domain)}/delete", actor)
        elif not _typed(target):
            raise InvalidFields({"target": f"at most {MAX_QUERY} characters"})
        else:
            full = auth.full_address(target, request.app[CONFIG].domains)
            await mailstore.admin_post(f"/catchalls/{quote(domain)}", actor, {"target": full})
    except NotFound:
        pass  # turning off a catch-all that was off: it is off
    except InvalidFields as exc:
        problem = _sentence(exc.fields.get("target") or "not an address")
        return await _lists(request, values, {"target": problem}, 422)
    return see_other("/admin/lists#catchall")


# -- one list -------------------------------------------------------------------------


async def one_list(request: web.Request) -> web.Response:
    admin_of(request)
    return await _one(request, {}, {})


async def _one(
    request: web.Request, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> web.Response:
    try:
        found = await request.app[MAILSTORE].admin_get("/lists" + _address(request))
    except (NotFound, InvalidFields):  # InvalidFields: a NUL in the path, never sent
        raise web.HTTPNotFound() from None
    context = {"list": found, "policies": POLICIES, "values": values, "errors": errors}
    return await _page(request, "admin/list.html", context, status)


async def list_action(request: web.Request) -> web.Response:
    """members (add), members/remove, policy, delete on one list."""
    actor = admin_of(request)
    action, path = request.match_info["action"], "/lists" + _address(request)
    form = await request.post()
    domains = request.app[CONFIG].domains
    values: dict[str, str] = {}
    try:
        if action == "members":
            values["members"] = field(form, "members")
            members = _many(values["members"], domains)
            if members is None:
                raise InvalidFields(
                    {"members": f"name 1-{MAX_TARGETS} addresses, separated by spaces or commas"}
                )
            await request.app[MAILSTORE].admin_post(path + "/members", actor, {"members": members})
        elif action == "members/remove":
            member = field(form, "member")
            if not _typed(member):
                raise InvalidFields({"member": "no such member"})
            gone = {"members": [member.lower()]}
            await request.app[MAILSTORE].admin_post(path + "/members/delete", actor, gone)
        elif action == "policy":
            values["policy"] = field(form, "policy")
            if values["policy"] not in POLICIES:
                raise InvalidFields({"policy": "choose who may post"})
            chosen = {"policy": values["policy"]}
            await request.app[MAILSTORE].admin_post(path + "/policy", actor, chosen)
        else:
            await request.app[MAILSTORE].admin_post(path + "/delete", actor)
            return see_other("/admin/lists")
    except NotFound:
        return await _lists(request, {"policy": "members"}, {"form": NO_LIST}, 404)
    except InvalidFields as exc:
        fields = {k: _sentence(v) for k, v in exc.fields.items()}
        if "members" in fields and action == "members/remove":
            fields = {"member": fields.pop("members")}
        return await _one(request, values, fields, 422)
    return see_other("/admin/lists" + _address(request))
