"""Conversations in the webmail (issue 15): a folder's rows grouped by References /
In-Reply-To when the person's setting says so, and a conversation opened on one page.

The grouping is the mail store's (migration 0018); the web shapes its rows so that the
folder template treats a conversation row as a message row: unread if any of its
messages is, starred if any is, and linked to the conversation when it holds more than
one message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from webmail.bodies import linkify
from webmail.keys import MAILSTORE
from webmail.pages import render
from webmail.views.common import TEXT_FONT_COOKIE, entry_id, require_user, safe_next

# Senders a conversation row names (the newest ones), as Gmail's "Ann, Bob, me (4)".
ROW_PEOPLE = 3
# Messages of an opened conversation shown with their bodies (the newest); older ones
# are listed as links, so that a conversation of hundreds stays one quick page.
OPEN_BODIES = 20


def conversation_row(message: dict[str, Any]) -> dict[str, Any]:
    """A listing row of the mail store's ``conversations=true`` answer, for folder.html."""
    conversation = message.get("conversation") or {}
    count = int(conversation.get("messages") or 1)
    people: list[dict[str, Any]] = []
    for person in reversed(conversation.get("senders") or [message.get("from") or {}]):
        key = (person.get("address") or person.get("name") or "").lower()
        if key and all((p.get("address") or p.get("name") or "").lower() != key for p in people):
            people.insert(0, person)
    return {
        **message,
        "read": not conversation.get("unread", not message.get("read")),
        "flagged": bool(conversation.get("flagged", message.get("flagged"))),
        "count": count,
        "people": people[-ROW_PEOPLE:],
        "url": f"/conversations/{message['id']}" if count > 1 else f"/messages/{message['id']}",
    }


async def conversation(request: web.Request) -> web.Response:
    """The conversation of a message, oldest first; opening it marks its messages read.
    Another account's message is 404 (the mail store's answer)."""
    user = require_user(request)
    entry = entry_id(request)
    mailstore = request.app[MAILSTORE]
    summaries = await mailstore.conversation(user.address, entry)
    shown = summaries[-OPEN_BODIES:]
    full = await asyncio.gather(*(mailstore.get_message(user.address, m["id"]) for m in shown))
    unread = [m["id"] for m in summaries if not m.get("read")]
    if unread:
        await mailstore.bulk(user.address, ids=unread[:1000], action="read")
    head = next((m for m in summaries if m["id"] == entry), summaries[-1])
    folder = head.get("folder", "inbox")
    context = {
        "folder": folder,
        "subject": head.get("subject") or "",
        "back": safe_next(request.query.get("back"), f"/mail/{folder}"),
        "older": summaries[: len(summaries) - len(shown)],
        "messages": [
            {**msg, "text_html": linkify(msg["text"]) if msg.get("text") else None} for msg in full
        ],
        "fixed_width": request.cookies.get(TEXT_FONT_COOKIE) == "fixed",
    }
    return await render(request, "conversation.html", context)
