"""The web's folder calls: folders named by id (the web's URLs), managed by name.

The IMAP API names folders by their full name; the web's pages and forms use the ids
(migration 0007), which never change, so a link stays right across a rename. Creating,
renaming and deleting go through the same db functions as IMAP's, with two differences:
the six standard folders are neither renamed nor deleted here, and a delete refuses a
folder that holds messages (FolderNotEmpty) instead of deleting them with it.
"""

from __future__ import annotations

from aiohttp import web

from mailstore import db
from mailstore.db import imap_folders
from mailstore.errors import FolderNotFound, FolderRefused
from mailstore.keys import EVENTS, POOL
from mailstore.views.common import account_of, json_object
from mailstore.views.imap import folder_name


async def _name_of(request: web.Request, account: db.Record) -> str:
    folder_id = request.match_info["folder"]
    name: str | None = await request.app[POOL].fetchval(
        "SELECT name FROM folders WHERE account_id = $1 AND id = $2", account["id"], folder_id
    )
    if name is None:
        raise FolderNotFound(folder_id)
    if folder_id in imap_folders.STANDARD_IDS:
        raise FolderRefused(name)
    return name


async def create(request: web.Request) -> web.Response:
    account = await account_of(request)
    name = folder_name((await json_object(request)).get("name"))
    pool = request.app[POOL]
    await imap_folders.create_folder(
        pool, account_id=account["id"], name=name, special_use=None, subscribe=True
    )
    async with pool.acquire() as con:
        row = await imap_folders.find_folder(con, account["id"], name)
    return web.json_response({"id": row["id"], "name": row["name"]}, status=201)


async def rename(request: web.Request) -> web.Response:
    account = await account_of(request)
    new_name = folder_name((await json_object(request)).get("name"))
    name = await _name_of(request, account)
    changes = await imap_folders.rename_folder(
        request.app[POOL], account_id=account["id"], name=name, new_name=new_name
    )
    await request.app[EVENTS].changed(changes, {account["id"]: account["address"]})
    return web.Response(status=204)


async def delete(request: web.Request) -> web.Response:
    account = await account_of(request)
    name = await _name_of(request, account)
    await imap_folders.delete_folder(
        request.app[POOL], account_id=account["id"], name=name, empty_only=True
    )
    return web.Response(status=204)
