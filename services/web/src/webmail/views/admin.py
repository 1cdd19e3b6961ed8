"""The administrators' pages under /admin (issue 16): overview and registration mode,
accounts, aliases, invitations, the audit log, and the mail that reached nobody.

Whether the user is an administrator comes from the session look-up, which the mail
store answers from the account at every request (never from the cookie): a revoked
administrator's next request is an ordinary user's. Anyone else, logged out or not an
administrator, gets exactly the 404 of a page that does not exist, so the pages'
existence is not revealed. The mail store does the work and records each action in the
audit log (mailstore/admin.py); every POST carries the CSRF token (middlewares.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from webmail import auth, registration
from webmail.controls import INVISIBLE, has_control
from webmail.errors import AddressTaken, InvalidFields, NotFound
from webmail.keys import CONFIG, MAILSTORE, PRINCIPAL
from webmail.mailstore_client import admin_path
from webmail.pages import render
from webmail.settings import REGISTRATION_MODES
from webmail.views.common import field, see_other

MAX_QUERY = 320
MAX_TARGETS = 50
PAGE = 50
INVITE_DAYS = (1, 90)
# The gateway's message ids (a ULID; a copy's adds ".<account id>").
MAX_MESSAGE_ID = 64
LAST_ADMIN = "This is the only administrator: make another one first."
# "default", or a size (mailstore/quotas.py: 19 digits and a unit) with some blanks.
MAX_QUOTA_TEXT = 40
QUOTA_HELP = "Type a size such as 500MiB or 2GiB, 0 for no limit, or default."


def admin_of(request: web.Request) -> str:
    """The administrator's address; the 404 of an unknown page for anyone else."""
    principal = request.get(PRINCIPAL)
    if principal is None or principal.via != "session" or not principal.account.is_admin:
        raise web.HTTPNotFound()
    return str(principal.account.address)


def _address(request: web.Request) -> str:
    return admin_path(request.match_info["address"].lower())


async def _page(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    response = await render(
        request, template, {"errors": {}, "values": {}, **context}, status=status
    )
    # Reset and invitation links are shown once: no copy in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# -- overview and registration mode -------------------------------------------------


async def overview(request: web.Request) -> web.Response:
    admin_of(request)
    return await _overview(request, {})


async def _overview(
    request: web.Request, errors: dict[str, str], status: int = 200
) -> web.Response:
    data = await request.app[MAILSTORE].admin_get("")
    mode = await registration.in_force(request)
    context = {
        "counts": data,
        "mode": mode,
        "chosen": data.get("registration") or {},
        "environment_mode": request.app[CONFIG].registration,
        "modes": REGISTRATION_MODES,
        "errors": errors,
    }
    return await _page(request, "admin/overview.html", context, status)


async def set_registration(request: web.Request) -> web.Response:
    actor = admin_of(request)
    mode = field(await request.post(), "mode")
    if mode not in REGISTRATION_MODES:
        return await _overview(request, {"mode": "Choose open, invite or closed."}, 422)
    await request.app[MAILSTORE].set_registration(mode, actor)
    return see_other("/admin")


# -- accounts -----------------------------------------------------------------------


def _query(request: web.Request, name: str) -> str:
    value = request.query.get(name, "")
    if len(value) > MAX_QUERY or has_control(value, INVISIBLE):
        raise InvalidFields({name: f"At most {MAX_QUERY} characters, no control characters."})
    return value


async def accounts(request: web.Request) -> web.Response:
    admin_of(request)
    return await _accounts(request, {}, {})


async def _accounts(
    request: web.Request,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
    search: str | None = None,
    **extra: Any,
) -> web.Response:
    """``search``: the listing's query when not the request's (a form's account shown)."""
    try:
        query, after = _query(request, "q"), _query(request, "after")
    except InvalidFields as exc:
        query, after, errors, status = "", "", {**errors, **exc.fields}, 422
    if search is not None:
        query, after = search, ""
    params = {"q": query, "limit": str(PAGE)}
    if after:
        params["after"] = after
    data = await request.app[MAILSTORE].admin_get("/accounts", params)
    context = {
        "accounts": data.get("accounts", []),
        "next": data.get("next"),
        "default_quota": data.get("default_quota") or 0,
        "query": query,
        "values": values,
        "errors": errors,
        "min_password": auth.MIN_PASSWORD,
        "me": admin_of(request),
        **extra,
    }
    return await _page(request, "admin/accounts.html", context, status)


async def create_account(request: web.Request) -> web.Response:
    actor = admin_of(request)
    form = await request.post()
    values = {name: field(form, name) for name in ("name", "address")}
    try:
        name, address, password = auth.check_registration(
            name=values["name"],
            address=values["address"],
            password=field(form, "password"),
            domains=request.app[CONFIG].domains,
        )
        await request.app[MAILSTORE].admin_post(
            "/accounts", actor, {"address": address, "name": name, "password": password}
        )
    except InvalidFields as exc:
        return await _accounts(request, values, exc.fields, 422)
    except AddressTaken:
        return await _accounts(request, values, {"address": "This address is taken."}, 409)
    return see_other("/admin/accounts?q=" + quote(address.partition("@")[0], safe=""))


_ACCOUNT_ACTIONS = {
    "disable": ("/disable", {}),
    "enable": ("/enable", {}),
    "grant": ("/admin", {"admin": True}),
    "revoke": ("/admin", {"admin": False}),
}


async def account_action(request: web.Request) -> web.Response:
    """disable, enable, grant, revoke, reset-link on one account."""
    actor = admin_of(request)
    action, address = request.match_info["action"], _address(request)
    shown = request.match_info["address"]
    mailstore = request.app[MAILSTORE]
    try:
        if action == "reset-link":
            data = await mailstore.admin_post("/accounts" + address + "/reset-link", actor)
            return await _page(
                request,
                "admin/link.html",
                {"title": f"Password-reset link for {shown}", "link": data.get("link", ""),
                 "expires_at": data.get("expires_at", ""), "back": "/admin/accounts"},
            )  # fmt: skip
        path, body = _ACCOUNT_ACTIONS[action]
        await mailstore.admin_post("/accounts" + address + path, actor, body)
    except NotFound:
        return await _accounts(request, {}, {"form": f"No account {shown}."}, 404)
    except AddressTaken:
        return await _accounts(request, {}, {"form": LAST_ADMIN}, 409)
    return see_other("/admin/accounts")


async def set_quota(request: web.Request) -> web.Response:
    """An account's storage quota: a size as LOCALPOST_DEFAULT_QUOTA is written (the mail
    store parses it, so both read alike), 0 for no limit, or "default"."""
    actor = admin_of(request)
    shown = request.match_info["address"]
    typed = field(await request.post(), "quota")
    values = {"quota_for": shown.lower(), "quota": typed}
    plain = len(shown) <= MAX_QUERY and not has_control(shown, INVISIBLE)
    search = shown.lower() if plain else ""

    async def refused(problem: str) -> web.Response:
        # The page lists the account again, the error by its field keeping what was typed.
        return await _accounts(request, values, {"quota": problem}, 422, search=search)

    if not typed.strip() or len(typed) > MAX_QUOTA_TEXT or has_control(typed, INVISIBLE):
        return await refused(QUOTA_HELP)
    try:
        await request.app[MAILSTORE].admin_post(
            "/accounts" + _address(request) + "/quota", actor, {"quota": typed}
        )
    except NotFound:
        return await _accounts(request, {}, {"form": f"No account {shown}."}, 404)
    except InvalidFields as exc:
        return await refused(str(exc.fields.get("quota") or QUOTA_HELP))
    return see_other("/admin/accounts?q=" + quote(shown.lower().partition("@")[0], safe=""))


async def delete_form(request: web.Request) -> web.Response:
    """The confirm page (a form: it works without JavaScript)."""
    admin_of(request)
    shown = request.match_info["address"]
    found = await request.app[MAILSTORE].admin_get("/accounts", {"q": shown.lower()})
    if not any(a.get("address") == shown.lower() for a in found.get("accounts", [])):
        raise web.HTTPNotFound()
    context = {
        "question": f"Delete {shown} and all its mail?",
        "detail": "Every message, folder, session and token of the account goes, for good;"
        " its address can never be registered again.",
        "action": request.path,
        "fields": [],
        "cancel": "/admin/accounts",
    }
    return await _page(request, "confirm.html", context)


async def delete_account(request: web.Request) -> web.Response:
    actor = admin_of(request)
    form = await request.post()
    if field(form, "confirmed") != "1":
        return see_other(request.path)
    try:
        await request.app[MAILSTORE].admin_post("/accounts" + _address(request) + "/delete", actor)
    except NotFound:
        raise web.HTTPNotFound() from None
    except AddressTaken:
        return await _accounts(request, {}, {"form": LAST_ADMIN}, 409)
    return see_other("/admin/accounts")


# -- aliases ------------------------------------------------------------------------


async def aliases(request: web.Request) -> web.Response:
    admin_of(request)
    return await _aliases(request, {}, {})


async def _aliases(
    request: web.Request, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> web.Response:
    data = await request.app[MAILSTORE].admin_get("/aliases")
    context = {"aliases": data.get("aliases", []), "values": values, "errors": errors}
    return await _page(request, "admin/aliases.html", context, status)


async def add_alias(request: web.Request) -> web.Response:
    actor = admin_of(request)
    form = await request.post()
    values = {name: field(form, name) for name in ("address", "targets")}
    domains = request.app[CONFIG].domains
    address = auth.full_address(values["address"], domains) if values["address"] else ""
    targets = [
        auth.full_address(t, domains)
        for t in values["targets"].replace(",", " ").split()
        if t and len(t) <= MAX_QUERY
    ]
    errors: dict[str, str] = {}
    # Not the sign-up's rules: postmaster@ and the other reserved names are what an
    # alias is for. The mail store checks the form (a dot-atom in a local domain).
    if not address or len(address) > MAX_QUERY or has_control(address, INVISIBLE):
        errors["address"] = "Enter the alias's address (at most 320 characters)."
    if not 1 <= len(targets) <= MAX_TARGETS or len(values["targets"]) > MAX_TARGETS * MAX_QUERY:
        errors["targets"] = f"Name 1-{MAX_TARGETS} accounts, separated by spaces or commas."
    if errors:
        return await _aliases(request, values, errors, 422)
    try:
        await request.app[MAILSTORE].admin_post(
            "/aliases", actor, {"address": address, "targets": targets}
        )
    except InvalidFields as exc:
        fields = {k: _sentence(v) for k, v in exc.fields.items()}
        return await _aliases(request, values, fields, 422)
    return see_other("/admin/aliases")


def _sentence(reason: object) -> str:
    """The mail store's reason ("no account x@y") as the page's sentence."""
    text = str(reason)
    return text[:1].upper() + text[1:] + "."


async def remove_alias(request: web.Request) -> web.Response:
    actor = admin_of(request)
    try:
        await request.app[MAILSTORE].admin_post("/aliases" + _address(request) + "/delete", actor)
    except NotFound:
        return await _aliases(request, {}, {"form": "There is no such alias."}, 404)
    return see_other("/admin/aliases")


# -- invitations ----------------------------------------------------------------------


async def invitations(request: web.Request) -> web.Response:
    admin_of(request)
    return await _invitations(request, {"days": "7"}, {})


async def _invitations(
    request: web.Request, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> web.Response:
    data = await request.app[MAILSTORE].admin_get("/invitations", {"limit": str(PAGE)})
    mode = await registration.in_force(request)
    context = {
        "invitations": data.get("invitations", []),
        "values": values,
        "errors": errors,
        "mode": mode,
        "max_days": INVITE_DAYS[1],
    }
    return await _page(request, "admin/invitations.html", context, status)


async def create_invitation(request: web.Request) -> web.Response:
    actor = admin_of(request)
    form = await request.post()
    values = {name: field(form, name).strip() for name in ("address", "days")}
    domains = request.app[CONFIG].domains
    errors = {}
    address = auth.full_address(values["address"], domains) if values["address"] else None
    if address is not None and (problem := auth.address_problem(address, domains)):
        errors["address"] = problem
    days = values["days"]
    low, high = INVITE_DAYS
    if not (days.isascii() and days.isdigit() and low <= int(days) <= high):
        errors["days"] = f"A whole number of days, {low}-{high}."
    if errors:
        return await _invitations(request, values, errors, 422)
    try:
        data = await request.app[MAILSTORE].admin_post(
            "/invitations", actor, {"address": address, "days": int(days)}
        )
    except InvalidFields as exc:
        return await _invitations(request, values, exc.fields, 422)
    title = f"Invitation for {address}" if address else "Invitation"
    context = {
        "title": title,
        "link": data.get("link", ""),
        "expires_at": data.get("expires_at", ""),
        "back": "/admin/invitations",
    }
    return await _page(request, "admin/link.html", context, 201)


async def revoke_invitation(request: web.Request) -> web.Response:
    actor = admin_of(request)
    try:
        await request.app[MAILSTORE].admin_post(
            f"/invitations/{int(request.match_info['id'])}/revoke", actor
        )
    except NotFound:
        error = {"form": "That invitation is not live (used, revoked, expired or unknown)."}
        return await _invitations(request, {"days": "7"}, error, 404)
    return see_other("/admin/invitations")


# -- audit log and the mail that reached nobody ---------------------------------------


def _before(request: web.Request, *, digits: bool) -> str | None:
    raw = request.query.get("before")
    if raw is None:
        return None
    ok = raw.isascii() and (raw.isdigit() if digits else raw.isalnum())
    if not ok or len(raw) > MAX_MESSAGE_ID:
        raise InvalidFields({"before": "That is not a position these pages made."})
    return raw


async def audit(request: web.Request) -> web.Response:
    admin_of(request)
    return await _newest_first(request, "/audit", "entries", digits=True)


async def unclaimed(request: web.Request) -> web.Response:
    admin_of(request)
    return await _newest_first(request, "/unclaimed", "messages", digits=False)


async def _newest_first(request: web.Request, path: str, key: str, *, digits: bool) -> web.Response:
    """One page of a listing the mail store pages by ``before`` (an id)."""
    params = {"limit": str(PAGE)}
    if (before := _before(request, digits=digits)) is not None:
        params["before"] = before
    data = await request.app[MAILSTORE].admin_get(path, params)
    context = {key: data.get(key, []), "next": data.get("next")}
    return await _page(request, f"admin{path}.html", context)


def _message(request: web.Request) -> str:
    value = request.match_info["id"]
    if len(value) > MAX_MESSAGE_ID or not value.isascii() or not value.replace(".", "").isalnum():
        raise web.HTTPNotFound()
    return value


async def unclaimed_raw(request: web.Request) -> web.Response:
    admin_of(request)
    try:
        raw = await request.app[MAILSTORE].admin_raw(f"/unclaimed/{_message(request)}/raw")
    except NotFound:
        raise web.HTTPNotFound() from None
    # As text, never rendered: the message is hostile input (the raw view's rule).
    response = web.Response(body=raw, content_type="text/plain", charset="utf-8")
    response.headers["Content-Disposition"] = "inline"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def deliver_unclaimed(request: web.Request) -> web.Response:
    """Into an account's Inbox (a field error, next to that message's field, for no
    such account)."""
    actor = admin_of(request)
    message = _message(request)
    typed = field(await request.post(), "address").strip()
    domains = request.app[CONFIG].domains
    address = auth.full_address(typed, domains) if typed else ""
    error = None
    if not address or len(address) > MAX_QUERY or has_control(address, INVISIBLE):
        error = "Enter the address of an account."
    else:
        try:
            await request.app[MAILSTORE].admin_post(
                f"/unclaimed/{message}/deliver", actor, {"address": address}
            )
        except NotFound:
            error = f"No account {address}, or the message is gone."
    if error is None:
        return see_other("/admin/unclaimed")
    params = {"limit": str(PAGE)}
    data = await request.app[MAILSTORE].admin_get("/unclaimed", params)
    context = {
        "messages": data.get("messages", []),
        "next": data.get("next"),
        "errors": {f"deliver-{message}": error},
        "values": {f"deliver-{message}": typed},
    }
    return await _page(request, "admin/unclaimed.html", context, 422)


async def delete_unclaimed(request: web.Request) -> web.Response:
    actor = admin_of(request)
    try:
        await request.app[MAILSTORE].admin_post(f"/unclaimed/{_message(request)}/delete", actor)
    except NotFound:
        raise web.HTTPNotFound() from None
    return see_other("/admin/unclaimed")
