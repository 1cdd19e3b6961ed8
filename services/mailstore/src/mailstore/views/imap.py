"""The IMAP-facing API: one call per operation of ``imap_gateway.backend``.

Folders are named by their full name (``/`` the delimiter) in the JSON body or the
``folder`` query parameter; messages by UID sets (mailstore.imap_sets). Every refusal
is a status with a ``code`` the gateway turns into an RFC 5530 response code
(mailstore.errors.FolderError).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import datetime
from typing import Any

from aiohttp import web

from mailstore import db
from mailstore.db import imap_folders, imap_messages, imap_search, subscriptions
from mailstore.errors import AccountNotFound, InvalidRequest, MessageNotFound
from mailstore.imap_search import validate
from mailstore.imap_sets import MAX_UID, compact, format_ranges, parse_uid_set
from mailstore.keys import EVENTS, POOL
from mailstore.views import messages as message_views
from mailstore.views.common import MAX_ID, account_of, json_object

log = logging.getLogger(__name__)

# RFC 6154 attributes a folder may carry (migration 0007's CHECK): one per folder.
SPECIAL_USES = ("\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive")
# A name's octets and levels: far more than mail programs make, and bounded so that a
# CREATE cannot make thousands of parents at once.
MAX_NAME_CHARS = 500
MAX_NAME_LEVELS = 30
# Keywords on one message, and the length of one (RFC 9051 §9 flag-keyword = atom).
MAX_KEYWORDS = 100
MAX_KEYWORD_CHARS = 100
_ATOM = re.compile(r"[!#$&'+\-.0-9:;<=>?@A-Z^_`a-z|~]+")
STORE_MODES = ("add", "remove", "replace")
RECENT = "\\recent"


def folder_name(value: object, field: str = "name") -> str:
    """A folder name the store can hold; 422 otherwise. Wildcards (RFC 9051 §6.3.9)
    and control characters never name a folder."""
    if not isinstance(value, str) or not value or len(value) > MAX_NAME_CHARS:
        raise InvalidRequest({field: f"must be a folder name of 1-{MAX_NAME_CHARS} characters"})
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch in "*%" for ch in value):
        raise InvalidRequest({field: "must not hold control characters, * or %"})
    parts = value.split(imap_folders.DELIMITER)
    if any(not part for part in parts):
        raise InvalidRequest({field: "has an empty level"})
    if len(parts) > MAX_NAME_LEVELS:
        raise InvalidRequest({field: f"has more than {MAX_NAME_LEVELS} levels"})
    return value


def _query_folder(request: web.Request) -> str:
    return folder_name(request.query.get("folder"), "folder")


def _number(value: object, field: str, *, top: int = MAX_ID, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 21:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
        raise InvalidRequest({field: f"must be a whole number 0-{top}"})
    return value


def split_flags(value: object) -> tuple[set[str], set[str]]:
    """(system flags, keywords) of a list of IMAP flags; \\Recent is the server's and
    is dropped (RFC 3501 §2.3.2); other backslash flags are 422."""
    if not isinstance(value, list) or len(value) > MAX_KEYWORDS + 6:
        raise InvalidRequest({"flags": "must be a list of IMAP flags"})
    system: set[str] = set()
    keywords: set[str] = set()
    canonical = {flag.lower(): flag for flag in imap_messages.FLAG_COLUMNS}
    for flag in value:
        if not isinstance(flag, str):
            raise InvalidRequest({"flags": "must be a list of IMAP flags"})
        if flag.startswith("\\"):
            if flag.lower() == RECENT:
                continue
            if flag.lower() not in canonical:
                raise InvalidRequest({"flags": f"{flag!r} is not a system flag"})
            system.add(canonical[flag.lower()])
        elif len(flag) <= MAX_KEYWORD_CHARS and _ATOM.fullmatch(flag):
            keywords.add(flag)
        else:
            raise InvalidRequest({"flags": "a keyword is an atom of at most 100 characters"})
    if len(keywords) > MAX_KEYWORDS:
        raise InvalidRequest({"flags": f"more than {MAX_KEYWORDS} keywords"})
    return system, keywords


async def _announce(request: web.Request, account: db.Record, changes: list[db.Change]) -> None:
    await request.app[EVENTS].changed(changes, {account["id"]: account["address"]})


# --- folders ------------------------------------------------------------------------------


def _folder_json(row: db.Record) -> dict[str, Any]:
    return {
        "name": row["name"],
        "special_use": [row["special_use"]] if row["special_use"] else [],
        "subscribed": row["subscribed"],
        "children": row["children"],
        "messages": row["messages"],
        "unseen": row["unseen"],
        "deleted": row["deleted"],
        "size": row["size"],
        "uidvalidity": row["uidvalidity"],
        "uidnext": row["uidnext"],
        "highestmodseq": row["highestmodseq"],
        "recent": row["recent"],
        "ready": not row["backfilling"],
    }


async def list_folders(request: web.Request) -> web.Response:
    account = await account_of(request)
    rows = await imap_folders.list_folders(request.app[POOL], account_id=account["id"])
    return web.json_response({"folders": [_folder_json(row) for row in rows]})


async def folder_status(request: web.Request) -> web.Response:
    account = await account_of(request)
    row = await imap_folders.folder_status(
        request.app[POOL], account_id=account["id"], name=_query_folder(request)
    )
    return web.json_response(_folder_json(row))


async def create_folder(request: web.Request) -> web.Response:
    account = await account_of(request)
    body = await json_object(request)
    name = folder_name(body.get("name"))
    uses = body.get("special_use", [])
    if not isinstance(uses, list) or len(uses) > 1 or any(u not in SPECIAL_USES for u in uses):
        raise InvalidRequest({"special_use": f"at most one of {', '.join(SPECIAL_USES)}"})
    await imap_folders.create_folder(
        request.app[POOL], account_id=account["id"], name=name, special_use=(uses or [None])[0]
    )
    return web.json_response({"name": imap_folders.normalise(name)}, status=201)


async def rename_folder(request: web.Request) -> web.Response:
    account = await account_of(request)
    body = await json_object(request)
    name, new_name = folder_name(body.get("name")), folder_name(body.get("new_name"), "new_name")
    changes = await imap_folders.rename_folder(
        request.app[POOL], account_id=account["id"], name=name, new_name=new_name
    )
    await _announce(request, account, changes)
    return web.Response(status=204)


async def delete_folder(request: web.Request) -> web.Response:
    account = await account_of(request)
    body = await json_object(request)
    changes = await imap_folders.delete_folder(
        request.app[POOL], account_id=account["id"], name=folder_name(body.get("name"))
    )
    await _announce(request, account, changes)
    return web.Response(status=204)


async def subscribe(request: web.Request) -> web.Response:
    """SUBSCRIBE or UNSUBSCRIBE a name, whether or not a folder has it (RFC 9051 §6.3.7:
    a server MAY validate; we do not, and DELETE leaves the subscription)."""
    account = await account_of(request)
    body = await json_object(request)
    subscribed = body.get("subscribed")
    if not isinstance(subscribed, bool):
        raise InvalidRequest({"subscribed": "is required (true or false)"})
    name = imap_folders.normalise(folder_name(body.get("name")))
    change = subscriptions.subscribe if subscribed else subscriptions.unsubscribe
    await change(request.app[POOL], account_id=account["id"], name=name)
    return web.Response(status=204)


async def list_subscriptions(request: web.Request) -> web.Response:
    """Every subscribed name, also those no folder has (LSUB, LIST (SUBSCRIBED))."""
    account = await account_of(request)
    names = await subscriptions.list_subscriptions(request.app[POOL], account_id=account["id"])
    return web.json_response({"names": names})


async def select(request: web.Request) -> web.Response:
    account = await account_of(request)
    found = await imap_folders.snapshot(
        request.app[POOL], account_id=account["id"], name=_query_folder(request)
    )
    return web.json_response(
        {
            "id": found.id,
            "uidvalidity": found.uidvalidity,
            "uidnext": found.uidnext,
            "highestmodseq": found.highestmodseq,
            "exists": found.exists,
            "uids": format_ranges(found.uid_ranges),
            "flags": [*imap_messages.FLAG_COLUMNS, *found.keywords],
            "first_unseen": found.first_unseen,
        }
    )


async def claim_recent(request: web.Request) -> web.Response:
    """RFC 3501 §2.3.2: the session calling is the first told of these messages;
    with ``claim`` false (EXAMINE), the messages no session claimed, left so."""
    account = await account_of(request)
    body = await json_object(request)
    claim = body.get("claim", True)
    if not isinstance(claim, bool):
        raise InvalidRequest({"claim": "must be true or false"})
    claimed = await imap_folders.claim_recent(
        request.app[POOL],
        account_id=account["id"],
        name=folder_name(body.get("folder"), "folder"),
        claim=claim,
    )
    ranges = [] if claimed is None else [(claimed[0], claimed[1] - 1)]
    return web.json_response({"recent": format_ranges(ranges)})


# --- messages -----------------------------------------------------------------------------


def _state_json(state: imap_messages.FlagState) -> dict[str, Any]:
    return {
        "uid": state.uid,
        "flags": state.flags,
        "keywords": state.keywords,
        "modseq": state.modseq,
    }


def _address(request: web.Request) -> str:
    """The path's account address, lower case; AccountNotFound for one no account can
    have (views.common.find_account)."""
    address = request.match_info["address"].lower()
    if not db.storable(address):
        raise AccountNotFound(address)
    return address


async def fetch(request: web.Request) -> web.StreamResponse:
    """NDJSON, one line per message, streamed as it is read."""
    # The account is found with the folder, in one round trip; a missing one is
    # still 404 before any complaint about the request (as account_of first gives).
    try:
        body = await json_object(request)
        name = folder_name(body.get("folder"), "folder")
        ranges = parse_uid_set(body.get("uids"))
        changed_since = _number(body.get("changed_since"), "changed_since", optional=True)
        structure = _structure(body.get("structure", False))
        octets = body.get("octets", False)
        if not isinstance(octets, bool):
            raise InvalidRequest({"octets": "must be true or false"})
    except InvalidRequest:
        await account_of(request)
        raise
    folder = await imap_folders.find_folder_of(
        request.app[POOL], address=_address(request), name=name
    )
    account_id, folder_id = folder["account_id"], folder["id"]
    response = web.StreamResponse()
    response.content_type = "application/x-ndjson"
    await response.prepare(request)
    rows = imap_messages.fetch(
        request.app[POOL],
        account_id=account_id,
        folder_id=folder_id,
        ranges=ranges,
        changed_since=changed_since,
        structure=structure,
        octets=octets,
    )
    async for row in rows:
        line: dict[str, Any] = {
            **_state_json(imap_messages.state_of(row)),
            "internaldate": row["created_at"].isoformat(),
            "size": row["size"],
        }
        if row["raw"] is not None:
            line["octets"] = base64.b64encode(row["raw"]).decode("ascii")
        text = json.dumps(line)
        if structure:
            # PostgreSQL's JSON text of the description, spliced in as it came.
            described = row["imap_structure"]
            text = f'{text[:-1]}, "structure": {"null" if described is None else described}}}'
        await response.write(text.encode() + b"\n")
    await response.write_eof()
    return response


def _structure(value: object) -> imap_messages.Structure:
    """``structure``: true (all of the description), "envelope" (its envelope alone),
    or false."""
    if value is True:
        return "all"
    if value is False or value == "envelope":
        return value
    raise InvalidRequest({"structure": 'must be true, false or "envelope"'})


async def raw(request: web.Request) -> web.StreamResponse:
    """One message's octets, or ``offset``/``length`` of them (BODY[]<partial>)."""
    try:
        name = _query_folder(request)
        uid = _number(request.query.get("uid"), "uid", top=MAX_UID)
        offset = _number(request.query.get("offset", "0"), "offset")
        length = _number(request.query.get("length"), "length", optional=True)
    except InvalidRequest:
        await account_of(request)  # a missing account is 404 first, as on every route
        raise
    found = await imap_messages.raw_of(
        request.app[POOL],
        address=_address(request),
        name=name,
        uid=uid,
        offset=offset,
        length=message_views.RAW_SLICE if length is None else min(message_views.RAW_SLICE, length),
    )
    if found is None:
        raise MessageNotFound(uid)
    start = min(offset, found["size"])
    end = found["size"] if length is None else min(found["size"], start + length)
    response = web.StreamResponse()
    response.content_type = "message/rfc822"
    response.headers["X-Message-Size"] = str(found["size"])
    head = found["head"][: end - start]
    return await message_views.stream_raw(
        request, response, found["gateway_id"], start, end, first=head
    )


async def store(request: web.Request) -> web.Response:
    account = await account_of(request)
    body = await json_object(request)
    name = folder_name(body.get("folder"), "folder")
    ranges = parse_uid_set(body.get("uids"))
    mode = body.get("mode")
    if mode not in STORE_MODES:
        raise InvalidRequest({"mode": f"must be one of {', '.join(STORE_MODES)}"})
    flags, keywords = split_flags(body.get("flags"))
    unchanged = _number(body.get("unchanged_since"), "unchanged_since", optional=True)
    outcome = await imap_messages.store(
        request.app[POOL],
        account_id=account["id"],
        name=name,
        ranges=ranges,
        mode=mode,
        flags=flags,
        keywords=keywords,
        unchanged_since=unchanged,
    )
    await _announce(request, account, outcome.changes)
    return web.json_response(
        {
            "updated": [_state_json(state) for state in outcome.updated],
            "modified": compact(outcome.modified),
        }
    )


async def _copy(request: web.Request, *, move: bool) -> web.Response:
    account = await account_of(request)
    body = await json_object(request)
    name = folder_name(body.get("folder"), "folder")
    target = folder_name(body.get("target"), "target")
    ranges = parse_uid_set(body.get("uids"))
    outcome = await imap_messages.copy(
        request.app[POOL],
        account_id=account["id"],
        name=name,
        ranges=ranges,
        target=target,
        move=move,
    )
    await _announce(request, account, outcome.changes)
    return web.json_response(
        {"uidvalidity": outcome.uidvalidity, "pairs": [list(pair) for pair in outcome.pairs]}
    )


async def copy(request: web.Request) -> web.Response:
    return await _copy(request, move=False)


async def move(request: web.Request) -> web.Response:
    return await _copy(request, move=True)


async def expunge(request: web.Request) -> web.Response:
    account = await account_of(request)
    body = await json_object(request)
    name = folder_name(body.get("folder"), "folder")
    ranges = parse_uid_set(body["uids"]) if body.get("uids") is not None else None
    uids, changes = await imap_messages.expunge_deleted(
        request.app[POOL], account_id=account["id"], name=name, ranges=ranges
    )
    await _announce(request, account, changes)
    return web.json_response({"expunged": compact(uids)})


async def changes(request: web.Request) -> web.Response:
    # The account is found by the query itself: one round trip for the call that
    # every session of a folder makes after each change there, and at NOOP and IDLE.
    try:
        name = _query_folder(request)
        modseq = _number(request.query.get("modseq"), "modseq")
    except InvalidRequest:
        await account_of(request)  # a missing account is 404 first, as on every route
        raise
    highest, vanished, changed = await imap_messages.changes_since(
        request.app[POOL], address=_address(request), name=name, modseq=modseq
    )
    return web.json_response(
        {
            "highestmodseq": highest,
            "vanished": compact(vanished),
            "changed": [_state_json(state) for state in changed],
        }
    )


async def search(request: web.Request) -> web.Response:
    """SEARCH: the UIDs matching a program (mailstore.imap_search has its JSON form)."""
    account = await account_of(request)
    body = await json_object(request)
    name = folder_name(body.get("folder"), "folder")
    program = validate(body.get("program"))
    uids = await imap_search.search(
        request.app[POOL], account_id=account["id"], name=name, program=program
    )
    return web.json_response({"uids": compact(uids)})


def internal_date(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        found = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        found = None
    if found is None or found.tzinfo is None:
        raise InvalidRequest({"internal_date": "must be an ISO 8601 time with its offset"})
    return found
