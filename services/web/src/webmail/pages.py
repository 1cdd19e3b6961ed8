"""Rendering HTML pages: the Jinja2 environment and the context every page shares."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from aiohttp import web

from webmail import assets, csrf, notices
from webmail.compose_page import compose_focus, compose_title
from webmail.controls import visible
from webmail.drafts import MAX_ATTACHMENTS_BYTES
from webmail.errors import MailstoreUnavailable
from webmail.highlight import highlight
from webmail.keys import CONFIG, MAILSTORE, NONCE, PRINCIPAL, TEMPLATES
from webmail.sessions import set_cookie

# The standard folders' titles by id, in the sidebar's fixed order (migration 0007).
FOLDER_TITLES = {
    "inbox": "Inbox",
    "drafts": "Drafts",
    "sent": "Sent",
    "archive": "Archive",
    "junk": "Junk",
    "trash": "Trash",
}
DELIMITER = "/"


@dataclass(frozen=True, slots=True)
class NavFolder:
    """A folder as the sidebar and the pickers show it: user folders by their last
    level, indented by depth (the tree by "/"), the full name kept for titles."""

    id: str
    title: str
    name: str
    depth: int
    unread: int
    standard: bool


def folder_nav(folders: dict[str, Any]) -> list[NavFolder]:
    """The standard folders in FOLDER_TITLES' order, then the user folders as a tree.

    Sorted by level, not by the whole name: "A b" sorts before "A/B" by characters
    (" " < "/"), which would put it between a folder and its child.
    """
    standard = [
        NavFolder(fid, title, title, 0, int(folders[fid].get("unread") or 0), True)
        for fid, title in FOLDER_TITLES.items()
        if fid in folders
    ]
    users = sorted(
        (f for fid, f in folders.items() if fid not in FOLDER_TITLES),
        key=lambda f: str(f.get("name", "")).split(DELIMITER),
    )
    return standard + [
        NavFolder(
            str(f["id"]),
            str(f.get("name", "")).rsplit(DELIMITER, 1)[-1],
            str(f.get("name", "")),
            str(f.get("name", "")).count(DELIMITER),
            int(f.get("unread") or 0),
            False,
        )
        for f in users
    ]


def create_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("webmail", "templates"),
        # Every template is HTML: mail is hostile input and must always be escaped.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = human_size
    env.filters["utc"] = utc_fallback
    env.filters["person"] = person
    env.filters["sender"] = sender_label
    env.filters["visible"] = visible
    env.filters["highlight"] = highlight
    env.globals["forgery_warning"] = forgery_warning
    env.globals["compose_title"] = compose_title
    env.globals["compose_focus"] = compose_focus
    # The compose form states the attachments' limit next to the file input.
    env.globals["max_attachments_bytes"] = MAX_ATTACHMENTS_BYTES
    env.globals["max_attachments_mb"] = MAX_ATTACHMENTS_BYTES // (1024 * 1024)
    return env


def nonce(request: web.Request) -> str:
    """The CSP nonce of this response; created on first use."""
    value = request.get(NONCE)
    if value is None:
        value = request[NONCE] = secrets.token_urlsafe(16)
    return value


async def render(
    request: web.Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    nav: bool = True,
) -> web.Response:
    """``nav=False``: the sidebar's folders only if ``context`` brings them (no call)."""
    principal = request.get(PRINCIPAL)
    folders: dict[str, Any] = (context or {}).get("folders", {})
    # A page that asked for the folders itself brings the quota of the same answer.
    quota: dict[str, Any] = (context or {}).get("quota") or {}
    if principal is not None and not folders and nav:
        try:
            folders, quota = await request.app[MAILSTORE].folders_and_quota(
                principal.address, unread_only=True
            )
        except MailstoreUnavailable:
            folders = {}  # the page itself may still be useful (an error page)
    page = {
        "user": principal.account if principal is not None else None,
        "folders": folders,
        "nav": folder_nav(folders),
        # The tab title starts with it, "(3) Inbox", as every webmail's; app.js keeps it
        # current from the live counts.
        "inbox_unread": int((folders.get("inbox") or {}).get("unread") or 0),
        "quota": storage(quota),
        "folder_titles": FOLDER_TITLES,
        "csrf_token": csrf.token(request),
        "nonce": nonce(request),
        "path": request.path,
        # Where a form on this page returns to: the same page, folder and search
        # (views.common.safe_next checks it again when it comes back).
        "here": request.path_qs,
        "static": assets.url,
        "domains": request.app[CONFIG].domains,
        # Whether to offer "Create an account" (LOCALPOST_REGISTRATION).
        "registration_open": request.app[CONFIG].registration == "open",
        "time_zone": principal.account.time_zone if principal is not None else "",
        # What the action before the redirect to this page did (webmail.notices).
        "notice": notices.read(request.cookies.get(notices.COOKIE)) if principal else None,
        **{k: v for k, v in (context or {}).items() if k not in ("folders", "quota")},
    }
    html = request.app[TEMPLATES].get_template(template).render(page)
    response = web.Response(text=html, content_type="text/html", status=status)
    # Pages show private mail: never from a shared cache, never stale after logout.
    response.headers["Cache-Control"] = "no-store"
    # Here, not in on_response_prepare: aiohttp has serialised cookies by then.
    csrf.set_cookie_if_new(request, response)
    if notices.COOKIE in request.cookies:  # shown once; the attributes it was set with
        set_cookie(request, response, notices.COOKIE, "", max_age=0)
    return response


# At or above this share of its limit a mailbox is "nearly full": the sidebar and Settings
# say so in words (issue 16), before mail starts to be refused.
QUOTA_WARNING = 0.9


def storage(quota: dict[str, Any]) -> dict[str, Any] | None:
    """What the sidebar and Settings show of the quota: used, limit, percent and whether
    to warn; None when the mail store said nothing (a page without the sidebar call)."""
    used, limit = quota.get("used"), quota.get("limit")
    if not isinstance(used, int):
        return None
    if not isinstance(limit, int) or limit <= 0:
        return {"used": used, "limit": None, "percent": None, "warn": False, "full": False}
    percent = min(100, used * 100 // limit)
    return {
        "used": used,
        "limit": limit,
        "percent": percent,
        "warn": used >= limit * QUOTA_WARNING,
        "full": used >= limit,
    }


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size = size / 1024  # type: ignore[assignment]
    return ""


def utc_fallback(iso: str | None, style: str = "auto", zone: str = "") -> str:
    """The server's rendering of a timestamp (UTC), shown until the script localises it.

    ``zone``: the account's time zone (settings), for text the script never sees again,
    such as the "On ..., ... wrote:" line of a reply; "" or an unknown name is UTC.
    """
    if not iso:
        return ""
    try:
        when = datetime.fromisoformat(iso).astimezone(UTC)
    except ValueError:
        return ""
    if style == "full":
        try:
            local = when.astimezone(ZoneInfo(zone)) if zone else when
        except (ValueError, ZoneInfoNotFoundError):
            local = when
        return local.strftime("%Y-%m-%d %H:%M %Z")
    if when.date() == datetime.now(UTC).date():
        return when.strftime("%H:%M")
    return when.strftime("%Y-%m-%d")


def person(value: Any) -> str:
    """A ``{"name", "address"}`` as "Name <address>" (or just the address)."""
    if not isinstance(value, dict):
        return ""
    name, address = visible(value.get("name") or ""), visible(value.get("address") or "")
    if name and address:
        return f"{name} <{address}>"
    return str(name or address)


def sender_label(value: Any) -> str:
    """How a list shows who a message is from: the name, or the address without one.

    A name with an "@" in it (``bob@localpost.test (IT Security)``, or a fullwidth at sign,
    U+FF20, that NFKC folds to one) reads as an address, so the real address goes beside it.
    """
    if not isinstance(value, dict):
        return ""
    name, address = visible(value.get("name") or ""), visible(value.get("address") or "")
    if name and "@" in unicodedata.normalize("NFKC", name):
        return person(value)
    return str(name or address)


def forgery_warning(msg: Any) -> str | None:
    """The warning for a message whose From: the gateway could not vouch for
    (its ``localpost-sender=fail``, smtp_gateway.identity), else None."""
    if not isinstance(msg, dict) or msg.get("sender_check") != "fail":
        return None
    claimed = str(msg.get("sender_claimed") or "")
    who = claimed if "@" in claimed else f"an address at {claimed or 'this domain'}"
    return f"This message claims to be from {who} but was not sent by that account."
