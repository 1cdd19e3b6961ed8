"""The settings page: password, sessions, personal API tokens (issue 15).

Sessions and tokens are named by their ids, which give nobody a way in; the mail store
answers 404 for another account's id, as for one that does not exist. A new token is
shown once, on the page the POST redirects to: it rides there in a short-lived HttpOnly
cookie limited to /settings, deleted as it is shown (docs/security.md, "Web").
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from functools import cache
from typing import Any

from aiohttp import web

from webmail import auth, sessions
from webmail.controls import INVISIBLE, has_control
from webmail.errors import InvalidFields, RateLimited
from webmail.keys import MAILSTORE
from webmail.pages import render
from webmail.views.common import field, require_user, see_other

SETTINGS = "/settings"
CURRENT, NEW, CONFIRM = "current_password", "new_password", "confirm_password"
DELETE_PASSWORD = "delete_password"  # noqa: S105 - the form field's name
# The mail store's limit on a token's name.
MAX_TOKEN_NAME = 100
NEW_TOKEN_COOKIE = "lp_new_token"  # noqa: S105 - a cookie name, not a secret
# Long enough to follow the redirect, short enough that a token not shown is soon gone.
NEW_TOKEN_MAX_AGE = 300
# Query flags of the redirect after a change: what the page says happened.
DONE = {
    "profile": "Your name, signature and time zone are saved.",
    "reading": "Your reading settings are saved.",
    "password": "Your password is changed. Every other session has ended.",
    "ended": "The session has ended.",
    "others": "Every other session has ended.",
    "revoked": "The token is revoked.",
}


PROFILE = ("name", "signature", "time_zone")
# The mail store's limit; a signature is a few lines, not a letter.
MAX_SIGNATURE = 2000


@cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _when(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC") if iso else "never"


def checked_profile(values: dict[str, str]) -> dict[str, str]:
    """Name, signature and time zone as the form typed them, normalised; InvalidFields."""
    name = values["name"].strip()
    # Browsers send a textarea's line breaks as CR LF (HTML's form submission).
    signature = values["signature"].replace("\r\n", "\n").replace("\r", "\n").rstrip()
    zone = values["time_zone"]
    fields = {}
    if not name:
        fields["name"] = "Tell us your name."
    elif len(name) > auth.MAX_NAME or has_control(name, INVISIBLE):
        fields["name"] = f"At most {auth.MAX_NAME} characters, no control characters."
    if len(signature) > MAX_SIGNATURE:
        fields["signature"] = f"At most {MAX_SIGNATURE} characters."
    elif has_control(signature.replace("\n", "").replace("\t", ""), INVISIBLE):
        fields["signature"] = "Lines of text only: no control or invisible characters."
    if zone and zone not in time_zones():
        fields["time_zone"] = "Choose a time zone from the list."
    if fields:
        raise InvalidFields(fields)
    return {"name": name, "signature": signature, "time_zone": zone}


async def save_profile(request: web.Request) -> web.Response:
    user = require_user(request)
    form = await request.post()
    values = {name: field(form, name) for name in PROFILE}
    try:
        await request.app[MAILSTORE].update_profile(user.address, **checked_profile(values))
    except InvalidFields as exc:
        return await page(request, errors=exc.fields, values=values, status=422)
    return see_other(f"{SETTINGS}?done=profile#profile")


async def save_reading(request: web.Request) -> web.Response:
    """Conversations on or off: a checkbox, so an unchecked box sends nothing (off)."""
    user = require_user(request)
    form = await request.post()
    grouped = field(form, "conversations") == "1"
    await request.app[MAILSTORE].update_profile(user.address, conversations=grouped)
    return see_other(f"{SETTINGS}?done=reading#reading")


async def page(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    user = require_user(request)
    mailstore = request.app[MAILSTORE]
    profile = await mailstore.get_profile(user.address)
    listed = await mailstore.list_sessions(user.address)
    tokens = await mailstore.list_tokens(user.address)
    new_token = request.cookies.get(NEW_TOKEN_COOKIE)
    context: dict[str, Any] = {
        "sessions": [
            {**s, "current": s["id"] == user.session_id, "last_used": _when(s["last_used_at"])}
            for s in listed
        ],
        "tokens": [
            {**t, "created": _when(t["created_at"]), "last_used": _when(t["last_used_at"])}
            for t in tokens
        ],
        "new_token": new_token,
        "done": DONE.get(request.query.get("done", "")),
        "errors": errors or {},
        "values": values or {},
        "max_token_name": MAX_TOKEN_NAME,
        "profile": {**profile, **{k: v for k, v in (values or {}).items() if k in PROFILE}},
        "time_zones": sorted(time_zones()),
        "max_signature": MAX_SIGNATURE,
    }
    response = await render(request, "settings.html", context, status=status)
    if new_token is not None:
        response.del_cookie(NEW_TOKEN_COOKIE, path=SETTINGS)
    return response


async def show(request: web.Request) -> web.Response:
    return await page(request)


def _new_password(form: Any, address: str) -> tuple[str, str]:
    current, new, confirm = field(form, CURRENT), field(form, NEW), field(form, CONFIRM)
    fields = {}
    if not current:
        fields[CURRENT] = "Type your current password."
    if problem := auth.password_problem(new, address):
        fields[NEW] = problem
    elif new == current:
        fields[NEW] = "Choose a password other than the current one."
    if confirm != new:
        fields[CONFIRM] = "Type the new password again." if not confirm else "The two differ."
    if fields:
        raise InvalidFields(fields)
    return current, new


async def change_password(request: web.Request) -> web.Response:
    user = require_user(request)
    form = await request.post()
    # Passwords are never typed back into a page; only the checkbox is kept.
    values = {"revoke_tokens": "1" if field(form, "revoke_tokens") else ""}
    try:
        current, new = _new_password(form, user.address)
        changed = await request.app[MAILSTORE].change_password(
            user.address,
            current=current,
            new=new,
            client=request.remote or "unknown",
            keep_session=user.session_id,
            revoke_tokens=bool(values["revoke_tokens"]),
        )
    except InvalidFields as exc:
        return await page(request, errors=exc.fields, values=values, status=422)
    except RateLimited as exc:
        error = {CURRENT: f"Too many wrong passwords. Try again in {exc.retry_after} seconds."}
        response = await page(request, errors=error, values=values, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if not changed:
        error = {CURRENT: "That is not your current password."}
        return await page(request, errors=error, values=values, status=422)
    return see_other(f"{SETTINGS}?done=password#password")


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])  # the route admits digits only


async def end_session(request: web.Request) -> web.Response:
    user = require_user(request)
    await request.app[MAILSTORE].end_session_id(user.address, _id(request))
    if _id(request) == user.session_id:
        # Ending this browser's own session is logging out.
        response = see_other("/login")
        response.del_cookie(sessions.COOKIE, path="/")
        return response
    return see_other(f"{SETTINGS}?done=ended#sessions")


async def end_other_sessions(request: web.Request) -> web.Response:
    user = require_user(request)
    if user.session_id is None:
        raise InvalidFields({"sessions": "Only a browser session can keep itself."})
    await request.app[MAILSTORE].end_other_sessions(user.address, keep=user.session_id)
    return see_other(f"{SETTINGS}?done=others#sessions")


async def create_token(request: web.Request) -> web.Response:
    user = require_user(request)
    form = await request.post()
    name = field(form, "name").strip()
    values = {"token": field(form, "name")}
    try:
        if not name:
            raise InvalidFields({"name": "Give the token a name, to know it again."})
        if len(name) > MAX_TOKEN_NAME or has_control(name, INVISIBLE):
            raise InvalidFields({"name": f"At most {MAX_TOKEN_NAME} characters, no controls."})
        created = await request.app[MAILSTORE].create_token(user.address, name=name)
    except InvalidFields as exc:
        errors = {"token_name": exc.fields.get("name", "Letters, digits and punctuation only.")}
        return await page(request, errors=errors, values=values, status=422)
    response = see_other(f"{SETTINGS}#tokens")
    sessions.set_cookie(
        request,
        response,
        NEW_TOKEN_COOKIE,
        str(created["token"]),
        max_age=NEW_TOKEN_MAX_AGE,
        path=SETTINGS,
    )
    return response


async def revoke_token(request: web.Request) -> web.Response:
    user = require_user(request)
    await request.app[MAILSTORE].revoke_token(user.address, _id(request))
    return see_other(f"{SETTINGS}?done=revoked#tokens")


async def delete_account(request: web.Request) -> web.Response:
    """The account and its mail, for good, once the password is typed again."""
    user = require_user(request)
    form = await request.post()
    password = field(form, DELETE_PASSWORD)
    try:
        if not password:
            raise InvalidFields({DELETE_PASSWORD: "Type your password to delete the account."})
        deleted = await request.app[MAILSTORE].delete_account(
            user.address, password=password, client=request.remote or "unknown"
        )
    except InvalidFields as exc:
        return await page(request, errors=exc.fields, status=422)
    except RateLimited as exc:
        error = {DELETE_PASSWORD: f"Too many wrong passwords. Try again in {exc.retry_after} s."}
        response = await page(request, errors=error, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if not deleted:
        return await page(
            request, errors={DELETE_PASSWORD: "That is not your password."}, status=422
        )
    response = see_other("/login?deleted=1")
    response.del_cookie(sessions.COOKIE, path="/")
    return response
