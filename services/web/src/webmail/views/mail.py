"""Reading mail: folder lists, search, the message page and its parts, Trash, the
plain-text font."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from aiohttp import web

from webmail import notices
from webmail.bodies import linkify, sanitize
from webmail.errors import InvalidFields, NotFound
from webmail.highlight import search_marks
from webmail.keys import MAILSTORE, PRINCIPAL
from webmail.mailstore_client import STARRED, MailstoreClient
from webmail.pages import render
from webmail.sessions import set_cookie
from webmail.views import trash
from webmail.views.common import (
    PAGE_SIZE,
    TEXT_FONT_COOKIE,
    entry_id,
    field,
    folder_field,
    require_user,
    safe_next,
    see_other,
    with_notice,
)
from webmail.views.conversations import conversation_row
from webmail.views.neighbours import neighbours

BULK_ACTIONS = ("read", "unread", "trash", "restore", "delete", "move", "star", "unstar")
# The frame's own policy: nothing runs, nothing loads but our attachment routes (cid:
# images) and, after "show images", remote images. Only our pages may frame it.
# ``sandbox`` repeats the message page's iframe attribute, so that the body opened on
# its own (a link, a new tab) is as sandboxed as framed: no scripts, forms, plugins or
# top-level navigation. allow-same-origin lets the page read the frame's height; with
# no script in the frame it lends the mail nothing.
BODY_SANDBOX = "allow-same-origin allow-popups allow-popups-to-escape-sandbox"
BODY_CSP = (
    "default-src 'none'; img-src 'self'{remote}; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; "
    f"sandbox {BODY_SANDBOX}"
)


async def home(request: web.Request) -> web.Response:
    return see_other("/mail/inbox" if request.get(PRINCIPAL) else "/login")


async def folder(request: web.Request) -> web.Response:
    """A folder by id, or the starred messages (``/mail/starred``); an id that is not
    one of the user's folders is 404 (the mail store's answer)."""
    user = require_user(request)
    name = request.match_info.get("folder", STARRED)
    cursor = request.query.get("cursor") or None
    mailstore = request.app[MAILSTORE]
    # Folders by conversation unless turned off in the settings; starred mail is a list
    # of messages picked one by one, and each draft is opened to go on writing it: never
    # grouped.
    grouped = user.account.conversations and name not in (STARRED, "drafts")
    try:
        listing = await mailstore.list_messages(
            user.address, folder=name, limit=PAGE_SIZE, cursor=cursor, conversations=grouped
        )
    except InvalidFields:  # a cursor someone typed: start from the newest
        return see_other(f"/mail/{name}")
    folders, quota = await mailstore.folders_and_quota(user.address, unread_only=True)
    messages = listing.get("messages", [])
    context = {
        "folders": folders,
        "quota": quota,
        "folder": name,
        "folder_info": folders.get(name),
        "grouped": grouped,
        "messages": [conversation_row(m) for m in messages] if grouped else messages,
        "next_cursor": listing.get("next_cursor"),
        "cursor": cursor,
        "position": position(listing, f"/mail/{name}"),
        "purge_days": listing.get("purge_days"),
        "sent": request.query.get("sent") == "1",
        "query": "",
        "search_error": None,
    }
    return await render(request, "folder.html", context)


# The folder selector's values: a folder id (migration 0007's CHECK) or "all".
_SEARCH_IN = re.compile(r"[a-z][a-z0-9]{0,19}")


def position(listing: dict[str, Any], path: str) -> dict[str, Any] | None:
    """Where a folder's page stands ("1-50 of 203" in the page) and its Newer link,
    from the mail store's ``total``, ``offset`` and ``prev_cursor``; None when it did
    not say."""
    total, offset = listing.get("total"), listing.get("offset")
    if not isinstance(total, int) or not isinstance(offset, int):
        return None
    shown = len(listing.get("messages", []))
    prev = listing.get("prev_cursor")
    newer = None
    if offset > 0:
        newer = f"{path}?cursor={quote(prev, safe='')}" if prev else path
    return {"first": offset + 1 if shown else offset, "last": offset + shown, "total": total,
            "newer": newer}  # fmt: skip


async def search(request: web.Request) -> web.Response:
    user = require_user(request)
    q = request.query.get("q", "").strip()
    search_in = request.query.get("in", "")
    cursor = request.query.get("cursor") or None
    messages: list[dict[str, Any]] = []
    next_cursor, error = None, None
    if search_in and _SEARCH_IN.fullmatch(search_in) is None:
        error, search_in = "Pick a folder from the list.", ""
    elif q:
        # Last, so that the selector wins over an in: typed in the box.
        scoped = f"{q} in:{search_in}" if search_in else q
        try:
            listing = await request.app[MAILSTORE].search(
                user.address, q=scoped, limit=PAGE_SIZE, cursor=cursor
            )
            messages, next_cursor = listing.get("messages", []), listing.get("next_cursor")
        except InvalidFields as exc:
            error = "; ".join(exc.fields.values())
    context = {
        "folder": "search",
        "folder_info": None,
        "messages": messages,
        "next_cursor": next_cursor,
        "cursor": cursor,
        "position": None,  # a search has no exact count yet
        "sent": False,
        "grouped": False,  # search results are messages, each on its own row
        "query": q,
        "search_in": search_in,
        "marks": search_marks(q) if messages else None,
        "search_error": error,
    }
    return await render(request, "folder.html", context, status=422 if error else 200)


async def bulk_action(request: web.Request) -> web.Response:
    user = require_user(request)
    form = await request.post()
    action = field(form, "action")
    target = safe_next(field(form, "next"))
    ids = [int(v) for v in form.getall("ids", []) if isinstance(v, str) and v.isdigit()]
    # A row's star toggle is a submit button of the list form, named star or unstar with
    # the row's id as its value: one message, whatever the checkboxes say.
    scope = field(form, "scope")
    for toggle in ("star", "unstar"):
        row = field(form, toggle)
        if row.isascii() and row.isdigit() and len(row) < 20:
            action, ids, scope = toggle, [int(row)], ""
    if action not in BULK_ACTIONS:
        raise InvalidFields({"action": "Choose what to do with the selected messages."})
    folder = folder_field(field(form, "folder")) if action == "move" else None
    # The rows were conversations: each id stands for its conversation in the folder.
    grouped = field(form, "conversations") == "1"
    mailstore = request.app[MAILSTORE]
    if scope:
        # "All 203": every message of the folder the list shows, not only this page's.
        ids = await every_id(mailstore, user.address, folder_field(scope, "scope"))
        grouped = False
    if action == "delete" and ids and not trash.confirmed(form):
        return await trash.confirm_bulk_delete(
            request, ids=ids, scope=scope, target=target, grouped=grouped
        )
    changed: list[int] = []
    for chunk in trash.chunks(ids):
        changed += await mailstore.bulk(
            user.address, ids=chunk, action=action, folder=folder, conversations=grouped
        )
    if action == "trash":
        return with_notice(request, target, notices.moved(changed))
    if action == "delete":
        return with_notice(request, target, notices.deleted(len(changed)))
    return see_other(target)


# A folder's "All" goes to the mail store in chunks, up to ALL_PAGES_MAX messages (more
# is a job for a mail program, not one web request).
ALL_PAGES_MAX = 10_000
LISTING_MAX = 200


async def every_id(mailstore: MailstoreClient, address: str, folder: str) -> list[int]:
    ids: list[int] = []
    cursor = None
    while len(ids) < ALL_PAGES_MAX:
        listing = await mailstore.list_messages(
            address, folder=folder, limit=LISTING_MAX, cursor=cursor
        )
        ids += [m["id"] for m in listing.get("messages", [])]
        cursor = listing.get("next_cursor")
        if not cursor:
            break
    return ids[:ALL_PAGES_MAX]


def attachment_url(entry: int) -> Any:
    return lambda n: f"/messages/{entry}/attachments/{n}"


async def message(request: web.Request) -> web.Response:
    user = require_user(request)
    entry = entry_id(request)
    mailstore = request.app[MAILSTORE]
    msg = await mailstore.get_message(user.address, entry)
    if not msg.get("read"):
        # Opening marks read, as every mail client does.
        await mailstore.set_read(user.address, entry, read=True)
    attachments = msg.get("attachments", [])
    blocked, shown = False, set()
    if msg.get("html"):
        clean = sanitize(
            msg["html"],
            attachments=attachments,
            attachment_url=attachment_url(entry),
            remote_images=False,
        )
        blocked, shown = clean.blocked_images, clean.shown_attachments
    images = request.query.get("images") == "1"
    folder = msg.get("folder", "inbox")
    # The list page the message was opened from (its folder, page and search): the
    # forms that leave the message go back there. Only a local path is taken.
    back = safe_next(request.query.get("back"), f"/mail/{folder}")
    context = {
        "msg": msg,
        "folder": folder,
        "back": back,
        "around": await neighbours(
            mailstore, user.address, entry, back, grouped=user.account.conversations
        ),
        "text": linkify(msg["text"]) if msg.get("text") else None,
        "fixed_width": request.cookies.get(TEXT_FONT_COOKIE) == "fixed",
        "body_url": f"/messages/{entry}/body" + ("?images=1" if images else ""),
        "blocked_images": blocked and not images,
        # Images the body shows (cid:) are not files to list again below it.
        "attachments": [a for a in attachments if a.get("index") not in shown],
        "undelivered": undelivered(msg),
    }
    return await render(request, "message.html", context)


def undelivered(msg: dict[str, Any]) -> list[str]:
    """Who in To and Cc of one's own sent message the gateway did not accept (a partial
    delivery, views.compose.send): said on the message, so nobody sends it again to all."""
    accepted = msg.get("delivered_to")
    if not isinstance(accepted, list):
        return []
    got = {str(a).lower() for a in accepted}
    named = [str(p.get("address") or "") for p in (*msg.get("to", []), *msg.get("cc", []))]
    return [a for a in dict.fromkeys(named) if a and a.lower() not in got]


TEXT_FONTS = ("proportional", "fixed")
PREFERENCE_MAX_AGE = 365 * 24 * 3600


async def text_font(request: web.Request) -> web.Response:
    """Remember the plain-text font; back to ``next``. A form, so that it works without
    JavaScript; app.js sends the same form in the background and switches in place."""
    require_user(request)
    form = await request.post()
    font = field(form, "font")
    if font not in TEXT_FONTS:
        raise InvalidFields({"font": "Choose proportional or fixed."})
    response = see_other(safe_next(field(form, "next")))
    set_cookie(request, response, TEXT_FONT_COOKIE, font, max_age=PREFERENCE_MAX_AGE)
    return response


async def message_body(request: web.Request) -> web.Response:
    """The sanitised HTML body, as its own document for the sandboxed frame."""
    user = require_user(request)
    entry = entry_id(request)
    msg = await request.app[MAILSTORE].get_message(user.address, entry)
    if not msg.get("html"):
        raise NotFound("no HTML body")
    images = request.query.get("images") == "1"
    clean = sanitize(
        msg["html"],
        attachments=msg.get("attachments", []),
        attachment_url=attachment_url(entry),
        remote_images=images,
    )
    document = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer">'
        "<style>body{font-family:system-ui,sans-serif;margin:0;padding:8px;"
        "overflow-wrap:anywhere}img{max-width:100%;height:auto}</style>"
        f'</head><body dir="auto">{clean.html}</body></html>'
    )
    response = web.Response(text=document, content_type="text/html")
    response.headers["Content-Security-Policy"] = BODY_CSP.format(
        remote=" https: http:" if images else ""
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


async def raw(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    # text/plain with nosniff: the source is shown, never interpreted. The bytes go as
    # they are; a browser shows invalid UTF-8 as U+FFFD, as decoding here did.
    return await stream_raw(request, user.address, content_type="text/plain", charset="utf-8")


RAW_CHUNK = 64 * 1024


async def stream_raw(
    request: web.Request, address: str, *, content_type: str, charset: str | None = None
) -> web.StreamResponse:
    """The raw message, passed through from the mail store a chunk at a time."""
    async with request.app[MAILSTORE].open_raw(address, entry_id(request)) as body:
        response = web.StreamResponse(headers={"Cache-Control": "no-store"})
        response.content_type = content_type
        if charset is not None:
            response.charset = charset
        await response.prepare(request)
        async for chunk in body.iter_chunked(RAW_CHUNK):
            await response.write(chunk)
    await response.write_eof()
    return response


def content_disposition(filename: str | None, n: int) -> str:
    """``attachment`` with an ASCII fallback and the RFC 6266 §4.3 UTF-8 form."""
    name = (filename or f"attachment-{n}").replace("\r", "").replace("\n", "")
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._- ") else "_" for c in name)
    return (
        f"attachment; filename=\"{ascii_name[:150] or 'attachment'}\"; filename*=UTF-8''"
        + quote(name, safe="")
    )


async def attachment(request: web.Request) -> web.Response:
    user = require_user(request)
    entry, n = entry_id(request), int(request.match_info["n"])
    mailstore = request.app[MAILSTORE]
    msg = await mailstore.get_message(user.address, entry)
    meta = next((a for a in msg.get("attachments", []) if a.get("index") == n), None)
    if meta is None:
        raise NotFound("no such attachment")
    data, content_type = await mailstore.get_attachment(user.address, entry, n)
    response = web.Response(body=data)
    response.headers["Content-Type"] = content_type or "application/octet-stream"
    response.headers["Content-Disposition"] = content_disposition(meta.get("filename"), n)
    # Even opened directly, an attachment runs nothing (an HTML or SVG file included).
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; sandbox; frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def action(request: web.Request) -> web.Response:
    """One message's action; back to ``next`` when the form names one (a star toggled
    on a list row), else to the folder the message was in."""
    user = require_user(request)
    entry, verb = entry_id(request), request.match_info["action"]
    form = await request.post()
    mailstore = request.app[MAILSTORE]
    msg = await mailstore.get_message(user.address, entry)
    back = safe_next(field(form, "next"), f"/mail/{msg.get('folder', 'inbox')}")
    if verb in ("read", "unread"):
        await mailstore.set_read(user.address, entry, read=verb == "read")
    elif verb in ("star", "unstar"):
        await mailstore.set_flags(user.address, entry, flagged=verb == "star")
    elif verb == "move":
        await mailstore.move(user.address, entry, folder=folder_field(field(form, "folder")))
    elif verb == "trash":
        await mailstore.trash(user.address, entry)
        # One already in Trash (a page left open) is no move to undo.
        moved = [entry] if msg.get("folder") != "trash" else []
        return with_notice(request, back, notices.moved(moved))
    elif verb == "restore":
        await mailstore.restore(user.address, entry)
    elif not trash.confirmed(form):
        return await trash.confirm_delete(request, msg, back=back)
    else:
        await mailstore.delete_forever(user.address, entry)
        return with_notice(request, back, notices.deleted(1))
    return see_other(back)
