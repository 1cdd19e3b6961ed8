"""The password-reset page: ``/reset/<token>``, a one-time link an administrator printed
with ``python -m mailstore reset-password`` (issue 15).

The token is the mail store's business: it finds the link by the token's SHA-256 and
answers 404 alike for an unknown, a used and an expired one, so this page says the same
for all three. Every request here counts under a per-client limit, as sign-ups do: the
token has 256 bits, so the limit is against load, not guessing. The new password follows
the sign-up's rules; success signs the person in and ends every other session.
"""

from __future__ import annotations

from aiohttp import web

from webmail import auth, sessions
from webmail.errors import InvalidFields, RateLimited
from webmail.keys import MAILSTORE
from webmail.mailstore_client import Account
from webmail.pages import render
from webmail.views.common import field, see_other

NEW, CONFIRM = "new_password", "confirm_password"
# (limit, window seconds) of requests to reset pages per client (an IPv4 address or an
# IPv6 /64; the mail store spares LOCALPOST_TRUSTED_NETWORKS unless told otherwise).
RESET_PER_IP = (20, 15 * 60)


def _token(request: web.Request) -> str:
    return request.match_info["token"]


async def _account(request: web.Request) -> Account | None:
    """The account of the path's link, after counting the request; RateLimited."""
    limit, window = RESET_PER_IP
    result = await request.app[MAILSTORE].throttle(
        "reset:ip", limit=limit, window=window, client=request.remote or "unknown"
    )
    if not result.allowed:
        raise RateLimited(max(1, result.retry_after))
    return await request.app[MAILSTORE].password_reset(_token(request))


async def _page(
    request: web.Request,
    account: Account,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    context = {
        "address": account.address,
        # The link itself, for the form to post back to (never logged: see access_log.py).
        "action": request.path,
        "errors": errors or {},
        "values": values or {},
        "min_password": auth.MIN_PASSWORD,
    }
    response = await render(request, "reset.html", context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _gone(request: web.Request) -> web.Response:
    response = await render(request, "reset_gone.html", {}, status=404)
    response.headers["Cache-Control"] = "no-store"
    return response


def _new_password(form: object, address: str) -> str:
    new, confirm = field(form, NEW), field(form, CONFIRM)
    fields = {}
    if problem := auth.password_problem(new, address):
        fields[NEW] = problem
    if confirm != new:
        fields[CONFIRM] = "Type the new password again." if not confirm else "The two differ."
    if fields:
        raise InvalidFields(fields)
    return new


async def reset_form(request: web.Request) -> web.Response:
    account = await _account(request)
    if account is None:
        return await _gone(request)
    return await _page(request, account)


async def reset(request: web.Request) -> web.Response:
    account = await _account(request)
    if account is None:
        return await _gone(request)
    form = await request.post()
    values = {"revoke_tokens": "1" if field(form, "revoke_tokens") else ""}
    try:
        new = _new_password(form, account.address)
    except InvalidFields as exc:
        return await _page(request, account, errors=exc.fields, values=values, status=422)
    done = await request.app[MAILSTORE].use_password_reset(
        _token(request), new_password=new, revoke_tokens=bool(values["revoke_tokens"])
    )
    if done is None:  # used or expired while the form was open
        return await _gone(request)
    response = see_other("/mail/inbox")
    await sessions.start(request, response, done)
    return response
