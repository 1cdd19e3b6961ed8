"""The JSON API under /api/v1 (a contract: the paths and shapes are in issue 4 and in
openapi.py). Every call but registering and creating a token takes a bearer token
or the browser session; another account's message id is 404, as on the pages."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import web

from webmail import auth, drafts, registration
from webmail.bodies import sanitize
from webmail.errors import BadCredentials, InvalidFields, MalformedBody, NotAuthenticated
from webmail.keys import CONFIG, MAILSTORE, METRICS, SUBMITTER
from webmail.openapi import OPENAPI
from webmail.views.common import entry_id, folder_field, require_user
from webmail.views.mail import attachment_url, stream_raw

MAX_JSON_BYTES = 1024 * 1024
MAX_LIMIT = 200


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise InvalidFields({"body": "must be application/json"})
    raw = await _read_at_most(request, MAX_JSON_BYTES)
    try:
        body = json.loads(raw)
    except RecursionError:
        # [[[[...: the parser gives up before the stack does; the client sent nonsense.
        raise MalformedBody("The JSON is nested too deeply.") from None
    except ValueError:  # UnicodeDecodeError included
        raise InvalidFields({"body": "is not JSON"}) from None
    if not isinstance(body, dict):
        raise InvalidFields({"body": "must be a JSON object"})
    return body


async def _read_at_most(request: web.Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to exceed ``limit``."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
    chunks, size = [], 0
    # content.read(n) returns what has arrived, up to n: read until the end.
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        chunks.append(chunk)
    return b"".join(chunks)


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise InvalidFields({name: "must be a string"})
    return value


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "folder": row.get("folder"),
        "from": row.get("from"),
        "to": row.get("to", []),
        "cc": row.get("cc", []),
        "subject": row.get("subject"),
        "preview": row.get("preview"),
        "date": row.get("date") or row.get("received_at"),
        "unread": not row.get("read", False),
        "starred": bool(row.get("flagged")),
        "answered": bool(row.get("answered")),
        "forwarded": bool(row.get("forwarded")),
        "has_attachments": bool(row.get("has_attachments")),
    }


def _listing(listing: dict[str, Any]) -> dict[str, Any]:
    messages = [_summary(row) for row in listing.get("messages", [])]
    return {"messages": messages, "next_cursor": listing.get("next_cursor")}


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidFields({"limit": f"must be a whole number 1-{MAX_LIMIT}"})
    return int(raw)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


async def create_account(request: web.Request) -> web.Response:
    # An invitation is a link for a person's browser: the API signs up only when open.
    auth.check_registration_open((await registration.in_force(request)).mode)
    body = await _json_body(request)
    account = await auth.register(
        request.app[MAILSTORE],
        ip=request.remote or "unknown",
        name=_text(body, "name"),
        address=_text(body, "address"),
        password=_text(body, "password"),
        domains=request.app[CONFIG].domains,
    )
    return web.json_response({"address": account.address, "name": account.name}, status=201)


def _basic(request: web.Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise NotAuthenticated()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise NotAuthenticated() from None
    address, colon, password = decoded.partition(":")
    if not colon:
        raise NotAuthenticated()
    return address, password


async def create_token(request: web.Request) -> web.Response:
    address, password = _basic(request)
    name = "api"
    if request.content_type == "application/json" and request.can_read_body:
        name = _text(await _json_body(request), "name") or name
    mailstore = request.app[MAILSTORE]
    try:
        account = await auth.login(
            mailstore,
            ip=request.remote or "unknown",
            channel="api",
            address=address,
            password=password,
            domains=request.app[CONFIG].domains,
        )
    except BadCredentials:
        raise NotAuthenticated() from None
    token = await mailstore.create_token(account.address, name=name[:100])
    return web.json_response(
        {"token": token["token"], "id": token.get("id"), "name": token.get("name")}, status=201
    )


async def revoke_token(request: web.Request) -> web.Response:
    # The issue promises revocable tokens; another account's token id is 404, as
    # message ids are.
    user = require_user(request)
    await request.app[MAILSTORE].revoke_token(user.address, entry_id(request))
    return web.Response(status=204)


async def list_messages(request: web.Request) -> web.Response:
    user = require_user(request)
    folder = folder_field(request.query.get("folder", "inbox"))
    listing = await request.app[MAILSTORE].list_messages(
        user.address, folder=folder, limit=_limit(request), cursor=request.query.get("cursor")
    )
    return web.json_response(_listing(listing))


async def search(request: web.Request) -> web.Response:
    user = require_user(request)
    listing = await request.app[MAILSTORE].search(
        user.address,
        q=request.query.get("q", ""),
        limit=_limit(request),
        cursor=request.query.get("cursor"),
    )
    return web.json_response(_listing(listing))


async def get_message(request: web.Request) -> web.Response:
    user = require_user(request)
    entry = entry_id(request)
    msg = await request.app[MAILSTORE].get_message(user.address, entry)
    attachments = msg.get("attachments", [])
    html = None
    if msg.get("html"):
        html = sanitize(
            msg["html"],
            attachments=attachments,
            attachment_url=attachment_url(entry),
            remote_images=True,
        ).html
    return web.json_response(
        {
            **_summary(msg),
            "text": msg.get("text"),
            "html": html,
            "attachments": [
                {
                    "index": a.get("index"),
                    "filename": a.get("filename"),
                    "content_type": a.get("content_type"),
                    "size": a.get("size"),
                    "url": f"/messages/{entry}/attachments/{a.get('index')}",
                }
                for a in attachments
            ],
        }
    )


async def get_raw(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    return await stream_raw(request, user.address, content_type="message/rfc822")


def address_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list):
        raise InvalidFields({name: "must be a list of addresses"})
    return [str(a) for a in value]


async def send_message(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await _json_body(request)
    to, cc, bcc = (address_list(body, name) for name in ("to", "cc", "bcc"))
    try:
        draft = drafts.make_draft(
            to=to,
            cc=cc,
            bcc=bcc,
            subject=_text(body, "subject"),
            body=_text(body, "text"),
            domains=request.app[CONFIG].domains,
        )
    except InvalidFields as exc:
        # The API calls the body "text": name the field the client sent.
        fields = {"text" if name == "body" else name: why for name, why in exc.fields.items()}
        raise InvalidFields(fields) from None
    msg = drafts.build_message(draft, sender=user.account)
    # Its Sent copy must fit the sender's quota (issue 16): 422 with "form" otherwise.
    await request.app[MAILSTORE].require_room(user.address, len(bytes(msg)))
    sent = await request.app[SUBMITTER].send(msg, sender=user.address, cc=draft.cc, bcc=draft.bcc)
    request.app[METRICS].sent.labels(outcome="sent").inc()
    return web.json_response(
        {"id": sent.queue_id, "message_id": sent.message_id, "refused": list(sent.refused)},
        status=202,
    )


async def delete_message(request: web.Request) -> web.Response:
    user = require_user(request)
    entry = entry_id(request)
    mailstore = request.app[MAILSTORE]
    msg = await mailstore.get_message(user.address, entry)
    if msg.get("folder") == "trash":
        await mailstore.delete_forever(user.address, entry)
        return web.json_response({"id": entry, "deleted": True})
    await mailstore.trash(user.address, entry)
    return web.json_response({"id": entry, "folder": "trash"})
