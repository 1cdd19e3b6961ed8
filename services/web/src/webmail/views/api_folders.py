"""The JSON API's folders, moves and flags (the pages' folders, move and star)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from webmail.errors import InvalidFields
from webmail.keys import MAILSTORE
from webmail.views.api import _json_body, _summary, _text
from webmail.views.common import entry_id, folder_field, require_user
from webmail.views.folders import create_in, rename_to

# The API's names of the flags the web sets: unread is not \Seen, starred \Flagged.
FLAGS = {"unread": "read", "starred": "flagged"}


def _folder(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row.get("name"),
        "special_use": row.get("special_use"),
        "unread": row.get("unread", 0),
        "total": row.get("total", 0),
    }


async def list_folders(request: web.Request) -> web.Response:
    user = require_user(request)
    folders = await request.app[MAILSTORE].folders(user.address)
    return web.json_response({"folders": [_folder(f) for f in folders.values()]})


async def create_folder(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await _json_body(request)
    mailstore = request.app[MAILSTORE]
    folders = await mailstore.folders(user.address, unread_only=True)
    created = await create_in(
        mailstore, user.address, folders, name=_text(body, "name"), parent=_text(body, "parent")
    )
    return web.json_response({"id": created["id"], "name": created["name"]}, status=201)


async def rename_folder(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await _json_body(request)
    folder_id = request.match_info["folder"]
    mailstore = request.app[MAILSTORE]
    folders = await mailstore.folders(user.address, unread_only=True)
    name = await rename_to(mailstore, user.address, folders, folder_id, _text(body, "name"))
    return web.json_response({"id": folder_id, "name": name})


async def delete_folder(request: web.Request) -> web.Response:
    user = require_user(request)
    await request.app[MAILSTORE].delete_folder(user.address, request.match_info["folder"])
    return web.Response(status=204)


async def move_message(request: web.Request) -> web.Response:
    user = require_user(request)
    entry = entry_id(request)
    mailstore = request.app[MAILSTORE]
    await mailstore.get_message(user.address, entry)  # not the user's: 404, whatever the body
    body = await _json_body(request)
    await mailstore.move(user.address, entry, folder=folder_field(_text(body, "folder")))
    return web.json_response(_summary(await mailstore.get_message(user.address, entry)))


async def update_message(request: web.Request) -> web.Response:
    """Set ``unread`` and/or ``starred`` (true or false)."""
    user = require_user(request)
    entry = entry_id(request)
    mailstore = request.app[MAILSTORE]
    await mailstore.get_message(user.address, entry)  # not the user's: 404, whatever the body
    body = await _json_body(request)
    wanted = {name: body[name] for name in FLAGS if name in body}
    if not wanted or not all(isinstance(v, bool) for v in wanted.values()):
        raise InvalidFields({"body": "set unread and/or starred, each true or false"})
    flags = {FLAGS[name]: (not v if name == "unread" else v) for name, v in wanted.items()}
    await mailstore.set_flags(user.address, entry, **flags)
    return web.json_response(_summary(await mailstore.get_message(user.address, entry)))
