"""Live updates for open pages: server-sent events, and the state the fallback polls."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from webmail.controls import visible
from webmail.errors import MailstoreUnavailable, NotFound
from webmail.events import EventHub
from webmail.keys import EVENTS, MAILSTORE, METRICS
from webmail.mailstore_client import MailstoreClient
from webmail.pages import sender_label
from webmail.views.common import require_user

# A comment line this often keeps proxies and the browser from closing an idle stream.
KEEPALIVE = 25.0
# EventSource reconnects after this many milliseconds when the stream breaks.
RETRY_MS = 5000
# Inbox rows a page is sent at once: the newest, in the first event and the poll, and
# the newest of one batch of new mail.
LIVE_ROWS = 20


def row(msg: dict[str, Any]) -> dict[str, Any]:
    """What the Inbox script needs to draw one line; it inserts it as text, never HTML."""
    return {
        "id": msg["id"],
        "folder": msg.get("folder"),
        # As the server-rendered row shows it (templates/folder.html).
        "from": sender_label(msg.get("from")),
        "forged": msg.get("sender_check") == "fail",
        "subject": visible(msg.get("subject") or ""),
        "preview": visible(msg.get("preview") or ""),
        "date": msg.get("received_at") or msg.get("date"),
        "unread": not msg.get("read", False),
        "starred": bool(msg.get("flagged")),
        "has_attachments": bool(msg.get("has_attachments")),
        "url": f"/messages/{msg['id']}",
    }


async def _counts(mailstore: MailstoreClient, address: str) -> dict[str, int]:
    folders = await mailstore.folders(address, unread_only=True)
    return {name: int(f.get("unread", 0)) for name, f in folders.items()}


def _same_origin(request: web.Request) -> bool:
    # Browsers send Origin on cross-origin EventSource requests; a same-origin one may
    # omit it. Sec-Fetch-Site, when present, says the same thing more directly.
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        return False
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


async def events(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    if not _same_origin(request):
        raise web.HTTPForbidden()
    mailstore, hub, metrics = request.app[MAILSTORE], request.app[EVENTS], request.app[METRICS]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    queue = hub.subscribe(user.address)
    # Read before the first snapshot: a change after it wakes the loop below.
    told = hub.state
    metrics.live_clients.inc()
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        # The first event carries the newest Inbox rows too: mail stored between
        # rendering the page and opening this stream would otherwise be missed.
        await _send(response, "counts", await _snapshot(mailstore, user.address))
        if told is None:
            await _send(response, "down", {})
        while True:
            told = await _tell_channel_state(response, mailstore, user.address, hub, told)
            try:
                async with asyncio.timeout(KEEPALIVE):
                    event = await queue.get()
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if event.get("event") == "shutdown":
                break
            if event.get("event") == "stored":
                metrics.events.inc()
                await _send_stored(response, mailstore, user.address, event)
    except (ConnectionResetError, MailstoreUnavailable):
        pass  # the page went away, or will reconnect and poll meanwhile
    finally:
        hub.unsubscribe(user.address, queue)
        metrics.live_clients.dec()
    return response


async def _tell_channel_state(
    response: web.StreamResponse,
    mailstore: MailstoreClient,
    address: str,
    hub: EventHub,
    told: int | None,
) -> int | None:
    """Tell the page when the live channel went down or came back; returns what it knows.

    A keep-alive only proves this stream is open, not that events can arrive: without
    ``down`` the page would wait for them forever instead of polling. ``up`` carries a
    fresh snapshot, as events were lost while the channel was down or reconnecting.
    """
    state = hub.state
    if state == told:
        return told
    if state is None:
        await _send(response, "down", {})
    else:
        await _send(response, "up", await _snapshot(mailstore, address))
    return state


async def _send_stored(
    response: web.StreamResponse, mailstore: MailstoreClient, address: str, event: dict[str, Any]
) -> None:
    """One ``stored`` event per new entry (the newest LIVE_ROWS), counts read once."""
    unread = await _counts(mailstore, address)
    ids = [e["id"] for e in event.get("entries", ()) if isinstance(e.get("id"), int)]
    if not ids:
        await _send(response, "stored", {"unread": unread})
    for entry in ids[-LIVE_ROWS:]:
        payload: dict[str, Any] = {"unread": unread}
        # Deleted already: the counts still changed.
        with contextlib.suppress(NotFound):
            payload["message"] = row(await mailstore.get_message(address, entry))
        await _send(response, "stored", payload)


async def _send(response: web.StreamResponse, name: str, data: dict[str, Any]) -> None:
    # json.dumps escapes nothing that could end an SSE field: it emits no raw newline.
    await response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())


async def state(request: web.Request) -> web.Response:
    """The fallback poll: unread counts and the newest Inbox rows."""
    user = require_user(request)
    return web.json_response(await _snapshot(request.app[MAILSTORE], user.address))


async def _snapshot(mailstore: MailstoreClient, address: str) -> dict[str, Any]:
    """Unread counts and the newest Inbox rows."""
    listing = await mailstore.list_messages(address, folder="inbox", limit=LIVE_ROWS)
    return {
        "unread": await _counts(mailstore, address),
        "inbox": [row(m) for m in listing.get("messages", [])],
    }
