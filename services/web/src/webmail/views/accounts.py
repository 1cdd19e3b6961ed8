"""Registration, login and logout pages."""

from __future__ import annotations

from aiohttp import web

from webmail import auth, sessions
from webmail.errors import AddressTaken, BadCredentials, InvalidFields, RateLimited
from webmail.keys import CONFIG, MAILSTORE, PRINCIPAL
from webmail.pages import render
from webmail.views import drafts
from webmail.views.common import field, safe_next, see_other


def _ip(request: web.Request) -> str:
    return request.remote or "unknown"


async def register_form(request: web.Request) -> web.Response:
    if request.get(PRINCIPAL) is not None:
        return see_other("/mail/inbox")
    auth.check_registration_open(request.app[CONFIG].registration)
    return await render(request, "register.html", {"values": {}, "errors": {}})


async def register(request: web.Request) -> web.Response:
    auth.check_registration_open(request.app[CONFIG].registration)
    form = await request.post()
    values = {name: field(form, name) for name in ("name", "address")}
    password = field(form, "password")
    try:
        account = await auth.register(
            request.app[MAILSTORE],
            ip=_ip(request),
            name=values["name"],
            address=values["address"],
            password=password,
            domains=request.app[CONFIG].domains,
            # A form without the field (an old page, a script) is a mismatch too.
            confirm=field(form, auth.CONFIRM),
        )
    except InvalidFields as exc:
        return await _register_again(request, values, exc.fields, 422)
    except AddressTaken:
        return await _register_again(request, values, {"address": "This address is taken."}, 409)
    except RateLimited as exc:
        message = f"Too many sign-ups from here. Try again in {_minutes(exc.retry_after)}."
        return await _register_again(request, values, {"form": message}, 429, exc.retry_after)
    response = see_other("/mail/inbox")
    await sessions.start(request, response, account)
    return response


async def _register_again(
    request: web.Request,
    values: dict[str, str],
    errors: dict[str, str],
    status: int,
    retry_after: int | None = None,
) -> web.Response:
    context = {"values": values, "errors": errors}
    response = await render(request, "register.html", context, status=status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def login_form(request: web.Request) -> web.Response:
    target = safe_next(request.query.get("next"))
    if request.get(PRINCIPAL) is not None:
        return see_other(target)
    # /settings/delete comes here: say that it worked.
    deleted = request.query.get("deleted") == "1"
    context: dict[str, object] = {"values": {}, "error": None, "next": target}
    context["deleted"] = deleted
    return await render(request, "login.html", context)


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    address, target = field(form, "address"), safe_next(field(form, "next"))
    stashed = drafts.stashed_form(form)
    context: dict[str, object] = {"values": {"address": address}, "next": target}
    if stashed is not None:  # a mistyped password must not lose it either
        context["stash"] = drafts.stash(stashed)
    domains = request.app[CONFIG].domains
    try:
        account = await auth.login(
            request.app[MAILSTORE],
            ip=_ip(request),
            channel="web",
            address=address,
            password=field(form, "password"),
            domains=domains,
            known_device=sessions.is_known_device(request, auth.full_address(address, domains)),
        )
    except BadCredentials:
        return await render(
            request, "login.html", {**context, "error": "Wrong address or password."}, status=401
        )
    except RateLimited as exc:
        error = f"Too many attempts. Try again in {_minutes(exc.retry_after)}."
        response = await render(request, "login.html", {**context, "error": error}, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if stashed is not None:
        # The session had ended while writing: what was typed becomes a draft of the
        # account that logged in, and the person goes on writing it.
        target = await drafts.restore(request, account, stashed)
    response = see_other(target)
    await sessions.start(request, response, account)
    return response


async def logout(request: web.Request) -> web.Response:
    response = see_other("/login")
    await sessions.end(request, response)
    return response


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"
