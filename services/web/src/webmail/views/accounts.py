"""Registration, login and logout pages."""

from __future__ import annotations

from aiohttp import web

from webmail import auth, registration, sessions
from webmail.errors import (
    AddressTaken,
    BadCredentials,
    InvalidFields,
    NotFound,
    OverQuota,
    RateLimited,
)
from webmail.keys import CONFIG, MAILSTORE, PRINCIPAL
from webmail.mailstore_client import Account, Json
from webmail.pages import render
from webmail.typedefs import ComposeForm, Principal
from webmail.views import drafts
from webmail.views.common import field, safe_next, see_other

INVITATION_REFUSED = (
    "This invitation cannot create this address: it was used, or is for another address."
)


def _ip(request: web.Request) -> str:
    return request.remote or "unknown"


async def _invitation(request: web.Request) -> tuple[str | None, Json | None]:
    """The path's invitation secret (``/invite/<token>``) and its live invitation, after
    checking that sign-up is possible: RegistrationClosed when the mode in force is
    "closed", or "invite" and no invitation came; NotFound for a dead invitation."""
    mode = (await registration.in_force(request)).mode
    token = request.match_info.get("token")
    if mode == "closed" or (mode == "invite" and token is None):
        auth.check_registration_open(mode)
    if token is None:
        return None, None
    found = await request.app[MAILSTORE].invitation(token)
    if found is None:
        raise NotFound("invitation")
    return token, found


async def register_form(request: web.Request) -> web.Response:
    if request.get(PRINCIPAL) is not None:
        return see_other("/mail/inbox")
    _, invitation = await _invitation(request)
    values = {}
    if invitation is not None and invitation.get("address"):
        values["address"] = str(invitation["address"])
    return await _register_again(request, values, {}, 200, invitation=invitation)


async def register(request: web.Request) -> web.Response:
    token, invitation = await _invitation(request)
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
            invitation=token,
        )
    except InvalidFields as exc:
        return await _register_again(request, values, exc.fields, 422, invitation=invitation)
    except AddressTaken:
        taken = {"address": "This address is taken."}
        return await _register_again(request, values, taken, 409, invitation=invitation)
    except NotFound:
        # Used meanwhile (another tab), or bound to another address than the one typed.
        error = {"address": INVITATION_REFUSED}
        return await _register_again(request, values, error, 422, invitation=invitation)
    except RateLimited as exc:
        message = f"Too many sign-ups from here. Try again in {_minutes(exc.retry_after)}."
        return await _register_again(
            request, values, {"form": message}, 429, exc.retry_after, invitation=invitation
        )
    response = see_other("/mail/inbox")
    await sessions.start(request, response, account)
    return response


async def _register_again(
    request: web.Request,
    values: dict[str, str],
    errors: dict[str, str],
    status: int,
    retry_after: int | None = None,
    *,
    invitation: Json | None = None,
) -> web.Response:
    context = {
        "values": values,
        "errors": errors,
        # The form posts back to where it came from: /register or the invitation's link.
        "action": request.path,
        "invited_address": (invitation or {}).get("address") or "",
    }
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
    context["registration_open"] = await registration.offers_sign_up(request)
    return await render(request, "login.html", context)


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    address, target = field(form, "address"), safe_next(field(form, "next"))
    stashed = drafts.stashed_form(form)
    context: dict[str, object] = {"values": {"address": address}, "next": target}
    context["registration_open"] = await registration.offers_sign_up(request)
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
        try:
            target = await drafts.restore(request, account, stashed)
        except OverQuota as exc:
            return await _write_on(request, account, stashed, exc)
    response = see_other(target)
    await sessions.start(request, response, account)
    return response


async def _write_on(
    request: web.Request, account: Account, stashed: ComposeForm, full: OverQuota
) -> web.Response:
    """Logged in, the stashed form could not become a draft (the mailbox is full): the
    compose form again, as the new session, with what was typed and why it was not
    saved, so that nothing typed is lost."""
    secret = await sessions.open_session(request, account)
    request[PRINCIPAL] = Principal(account, via="session", session=secret)
    context = drafts.compose_context(stashed.values, None, [], full.fields)
    response = await render(request, "compose.html", context, status=422)
    sessions.give(request, response, account, secret)
    return response


async def logout(request: web.Request) -> web.Response:
    response = see_other("/login")
    await sessions.end(request, response)
    return response


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"
