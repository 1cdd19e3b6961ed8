"""Previous / next message on the message page, in the order of the list it was opened
from: a folder (or Starred) newest first, or a search's results."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from webmail.errors import InvalidFields, NotFound
from webmail.mailstore_client import STARRED, MailstoreClient
from webmail.views.common import FOLDER_ID, PAGE_SIZE

_FOLDER_PATH = re.compile(rf"/mail/({FOLDER_ID})")


def _link(row: dict[str, Any], back: str) -> str:
    # A conversation row of more than one message leads to the conversation.
    many = int((row.get("conversation") or {}).get("messages") or 1) > 1
    return f"/{'conversations' if many else 'messages'}/{row['id']}?back={quote(back, safe='/')}"


async def _page(mailstore: MailstoreClient, address: str, path: str, query: dict[str, str],
                cursor: str | None, limit: int = PAGE_SIZE) -> dict[str, Any]:  # fmt: skip
    if path == "/search":
        return await mailstore.search(address, q=query["q"], limit=limit, cursor=cursor)
    return await mailstore.list_messages(
        address,
        folder=query["folder"],
        limit=limit,
        cursor=cursor,
        conversations=query["grouped"] == "1",
    )


def _with_cursor(path: str, query: dict[str, str], cursor: str) -> str:
    q = f"q={quote(query['q'], safe='')}&" if path == "/search" else ""
    return f"{path}?{q}cursor={quote(cursor, safe='')}"


async def neighbours(
    mailstore: MailstoreClient, address: str, entry: int, back: str, *, grouped: bool = False
) -> dict[str, str | None]:
    """Links to the newer and the older message around ``entry`` in the list ``back``
    names (its page, found again); none when ``back`` is no list or no longer holds it.
    Each link carries the list page its message is on, so that Delete there returns to
    that page. ``grouped``: the folder lists conversations (the person's setting)."""
    none: dict[str, str | None] = {"newer": None, "older": None}
    parts = urlsplit(back)
    fields = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query: dict[str, str] = {}
    if parts.path == "/search" and fields.get("q", "").strip():
        query["q"] = fields["q"].strip()
    elif (match := _FOLDER_PATH.fullmatch(parts.path)) is not None:
        query["folder"] = match.group(1) if match.group(1) != "starred" else STARRED
        query["grouped"] = "1" if grouped else ""
    else:
        return none
    cursor = fields.get("cursor") or None
    try:
        listing = await _page(mailstore, address, parts.path, query, cursor)
    except (InvalidFields, NotFound):  # a cursor, search or folder it refuses now
        return none
    rows = listing.get("messages", [])
    ids = [m["id"] for m in rows]
    if entry not in ids:
        return none
    at = ids.index(entry)
    links = dict(none)
    if at > 0:
        links["newer"] = _link(rows[at - 1], back)
    elif isinstance(listing.get("offset"), int) and listing["offset"] > 0:
        # The last message of the page before: a folder's (prev_cursor null: the first
        # page). A search's page says no offset: it cannot page back.
        prev = listing.get("prev_cursor")
        before = _with_cursor(parts.path, query, prev) if prev else parts.path
        page = await _page(mailstore, address, parts.path, query, prev)
        if page.get("messages"):
            links["newer"] = _link(page["messages"][-1], before)
    if at + 1 < len(ids):
        links["older"] = _link(rows[at + 1], back)
    elif listing.get("next_cursor"):
        after = _with_cursor(parts.path, query, listing["next_cursor"])
        page = await _page(mailstore, address, parts.path, query, listing["next_cursor"], 1)
        if page.get("messages"):
            links["older"] = _link(page["messages"][0], after)
    return links
