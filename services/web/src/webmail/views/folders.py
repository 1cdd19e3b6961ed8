"""Managing folders: the folders page, create (name, parent), rename, delete.

Folders are named by id in URLs and forms; the user types one level's name, and the
full name ("/" between levels, as IMAP shows it) is the parent's name and that. A
delete is refused while the folder holds messages ("move or delete them first"): the
mail store decides that under the folder's lock, so nothing is lost to a race, and the
user chooses where the messages go instead of a silent move to Trash.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from webmail.controls import INVISIBLE, has_control
from webmail.errors import InvalidFields, NotFound
from webmail.keys import MAILSTORE
from webmail.mailstore_client import MailstoreClient
from webmail.pages import DELIMITER, FOLDER_TITLES, render
from webmail.views.common import field, require_user, see_other

# One level's characters; the mail store takes 500 for the whole name.
MAX_LEVEL_CHARS = 100
MAX_NAME_CHARS = 500
# IMAP's LIST wildcards (RFC 9051 §6.3.9) never name a folder.
WILDCARDS = "*%"


def level_name(value: str) -> str:
    """One level of a folder name as typed; InvalidFields({"name": ...}) otherwise."""
    name = value.strip()
    if not name:
        raise InvalidFields({"name": "Give the folder a name."})
    if len(name) > MAX_LEVEL_CHARS:
        raise InvalidFields({"name": f"At most {MAX_LEVEL_CHARS} characters."})
    if has_control(name, INVISIBLE):
        raise InvalidFields({"name": "Letters, digits, spaces and punctuation only."})
    if DELIMITER in name or any(c in WILDCARDS for c in name):
        raise InvalidFields({"name": "A folder name cannot hold / * or %."})
    if name in (".", ".."):
        # Harmless to us (ids name folders), but mail programs that keep folders as
        # directories trip over them.
        raise InvalidFields({"name": "Choose another name."})
    return name


def _full_name(parent: str | None, name: str) -> str:
    full = f"{parent}{DELIMITER}{name}" if parent else name
    if len(full) > MAX_NAME_CHARS:
        raise InvalidFields({"name": f"The whole name is at most {MAX_NAME_CHARS} characters."})
    return full


async def create_in(
    mailstore: MailstoreClient, address: str, folders: dict[str, Any], *, name: str, parent: str
) -> dict[str, Any]:
    """Create ``name`` (one level, as typed) inside the folder ``parent`` (an id, or "" for
    the top); the new folder's id and name. InvalidFields for the user to correct."""
    above = folders.get(parent) if parent else None
    if parent and above is None:
        raise InvalidFields({"parent": "Choose a folder of yours, or none."})
    full = _full_name(above["name"] if above else None, level_name(name))
    return await mailstore.create_folder(address, name=full)


async def rename_to(
    mailstore: MailstoreClient, address: str, folders: dict[str, Any], folder_id: str, name: str
) -> str:
    """Rename a user folder's last level, keeping its place in the tree; the new name."""
    current = folders.get(folder_id)
    if current is None:
        raise NotFound(folder_id)
    if folder_id in FOLDER_TITLES:
        raise InvalidFields({"name": "Standard folders cannot be renamed or deleted."})
    parent = str(current["name"]).rpartition(DELIMITER)[0] or None
    full = _full_name(parent, level_name(name))
    await mailstore.rename_folder(address, folder_id, name=full)
    return full


async def _page(
    request: web.Request,
    folders: dict[str, Any] | None = None,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    user = require_user(request)
    quota: dict[str, object] = {}
    if folders is None:
        folders, quota = await request.app[MAILSTORE].folders_and_quota(user.address)
    context = {
        "folders": folders,
        "quota": quota,
        "errors": errors or {},
        "values": values or {},
        "standard_ids": tuple(FOLDER_TITLES),
    }
    return await render(request, "folders.html", context, status=status)


async def manage(request: web.Request) -> web.Response:
    return await _page(request)


async def create(request: web.Request) -> web.Response:
    user = require_user(request)
    form = await request.post()
    values = {"name": field(form, "name"), "parent": field(form, "parent")}
    mailstore = request.app[MAILSTORE]
    folders = await mailstore.folders(user.address)
    try:
        created = await create_in(
            mailstore, user.address, folders, name=values["name"], parent=values["parent"]
        )
    except InvalidFields as exc:
        return await _page(request, folders, errors=exc.fields, values=values, status=422)
    return see_other(f"/mail/{created['id']}")


async def rename(request: web.Request) -> web.Response:
    user = require_user(request)
    folder_id = request.match_info["folder"]
    form = await request.post()
    values = {"rename": folder_id, "new_name": field(form, "name")}
    mailstore = request.app[MAILSTORE]
    folders = await mailstore.folders(user.address)
    try:
        await rename_to(mailstore, user.address, folders, folder_id, values["new_name"])
    except InvalidFields as exc:
        return await _page(request, folders, errors=exc.fields, values=values, status=422)
    return see_other(f"/mail/{folder_id}")


async def delete(request: web.Request) -> web.Response:
    user = require_user(request)
    folder_id = request.match_info["folder"]
    mailstore = request.app[MAILSTORE]
    try:
        await mailstore.delete_folder(user.address, folder_id)
    except InvalidFields as exc:
        values = {"delete": folder_id}
        return await _page(request, errors=exc.fields, values=values, status=422)
    return see_other("/folders")
