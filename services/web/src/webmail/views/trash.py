"""Destructive actions and their safety nets: the notice after a move to Trash and its
Undo, the question before deleting forever, Empty Trash."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from webmail import notices
from webmail.controls import visible
from webmail.errors import InvalidFields
from webmail.keys import MAILSTORE
from webmail.pages import render
from webmail.views.common import field, require_user, safe_next, with_notice

# The mail store's bulk call takes up to 1000 ids; more go in chunks of this many.
BULK_CHUNK = 500


def chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BULK_CHUNK):
        yield ids[start : start + BULK_CHUNK]


def confirmed(form: object) -> bool:
    return field(form, "confirmed") == "1"


async def confirm_page(
    request: web.Request,
    *,
    question: str,
    detail: str,
    action: str,
    fields: list[tuple[str, str]],
    cancel: str,
) -> web.Response:
    """Ask before deleting forever: the same form again, with ``confirmed=1``. A page
    of its own, so that it works without JavaScript."""
    context = {
        "question": question,
        "detail": detail,
        "action": action,
        "fields": fields,
        "cancel": cancel,
    }
    return await render(request, "confirm.html", context)


async def confirm_delete(request: web.Request, msg: dict[str, Any], *, back: str) -> web.Response:
    """The question before one message is deleted forever; Cancel goes back to it."""
    entry, subject = msg["id"], visible(msg.get("subject") or "(no subject)")
    return await confirm_page(
        request,
        question="Delete this message forever?",
        detail=f"“{subject}” will be gone for good: this cannot be undone.",
        action=f"/messages/{entry}/delete",
        fields=[("next", back)],
        cancel=f"/messages/{entry}?back={quote(back, safe='')}",
    )


async def confirm_bulk_delete(
    request: web.Request, *, ids: list[int], scope: str, target: str, grouped: bool = False
) -> web.Response:
    """The question before the chosen messages (or a folder's "All") go forever;
    ``grouped``: the ids are conversation rows, each standing for its conversation."""
    fields = [("action", "delete"), ("next", target)]
    # "All N" is posted again as the scope, not as its ids: it may be thousands.
    fields += [("scope", scope)] if scope else [("ids", str(i)) for i in ids]
    if grouped:
        fields.append(("conversations", "1"))
    what = (
        f"{len(ids)} conversation{'' if len(ids) == 1 else 's'}"
        if grouped
        else notices.messages(len(ids))
    )
    return await confirm_page(
        request,
        question=f"Delete {what} forever?",
        detail="They will be gone for good: this cannot be undone.",
        action="/mail/actions",
        fields=fields,
        cancel=target,
    )


async def undo(request: web.Request) -> web.Response:
    """Back from Trash to where they were: the ids of the notice's Undo button. Those
    no longer in Trash (restored, deleted, or another account's) are left alone, and
    the notice says how many came back."""
    user = require_user(request)
    form = await request.post()
    ids = notices.undo_ids(field(form, "ids"))
    if ids is None:
        raise InvalidFields({"ids": "Nothing to undo: the list of messages is not valid."})
    mailstore, restored = request.app[MAILSTORE], 0
    for chunk in chunks(ids):
        restored += len(await mailstore.bulk(user.address, ids=chunk, action="restore"))
    target = safe_next(field(form, "next"))
    return with_notice(request, target, notices.restored(restored, len(ids)))


async def empty_trash(request: web.Request) -> web.Response:
    user = require_user(request)
    form = await request.post()
    if not confirmed(form):
        return await confirm_page(
            request,
            question="Empty Trash?",
            detail="Every message in Trash will be deleted forever. This cannot be undone.",
            action="/mail/trash/empty",
            fields=[],
            cancel="/mail/trash",
        )
    deleted = await request.app[MAILSTORE].empty_trash(user.address)
    return with_notice(request, "/mail/trash", notices.deleted(deleted))
