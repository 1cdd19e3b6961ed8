"""Drafts: saved into the account's Drafts folder as real messages (drafts.unsent_message),
with the attachments chosen so far, so that a form error, a closed tab or an ended
session never loses what a person typed or attached.

Attachments already stored travel in the form as references "<message id>:<index>"
(``keep``), read through the mail store as the signed-in account: another account's
message is simply not there. A save builds the whole message again from the typed
fields, the kept attachments and the files chosen now, and the mail store swaps it for
the previous save in one transaction.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from webmail import compose_form, drafts
from webmail.errors import InvalidFields, NotFound, OverQuota
from webmail.keys import COMPOSE_FORM, MAILSTORE, PRINCIPAL
from webmail.mailstore_client import Account
from webmail.pages import render
from webmail.typedefs import ComposeForm
from webmail.views import api
from webmail.views.common import require_user, see_other

DRAFTS = "drafts"
_REF = re.compile(r"([0-9]{1,19}):([0-9]{1,9})")
# References one form may keep: far more files than 18 MB would take in practice.
MAX_KEPT = 100
MAX_ID = 2**63 - 1  # the mail store's ids are bigint
TOO_LARGE = (
    f"Attachments are too large (at most {drafts.MAX_ATTACHMENTS_BYTES // (1024 * 1024)} MB"
    " in all): the files just chosen were not attached."
)
GONE = "An attachment is no longer there (its message was deleted)."
# What the page says when a form comes back without its session (form_expired).
SESSION_ENDED = "Your session ended. Log in again: what you wrote is kept and saved as a draft."
FORM_EXPIRED = "The form expired: nothing was sent or saved. Check the message and try again."


@dataclass(frozen=True, slots=True)
class Saved:
    id: int
    attachments: list[dict[str, Any]]
    errors: dict[str, str]


async def form_of(request: web.Request) -> ComposeForm:
    """The compose form, as csrf_middleware read it (or read now: a token-authenticated
    call skips that middleware's reading)."""
    form = request.get(COMPOSE_FORM)
    return form if form is not None else await compose_form.read(request)


def worth_saving(form: ComposeForm) -> bool:
    return bool(
        form.keep or form.files or any(form.values.get(n, "").strip() for n in drafts.DRAFT_FIELDS)
    )


def attachment_refs(
    entry: int, listed: list[dict[str, Any]], *, forward: bool = False
) -> list[dict[str, Any]]:
    """The form's view of a stored message's attachments. For a forward, not the inline
    images its text already showed (a part with a Content-ID that is not an attachment)."""
    return [
        {
            "ref": f"{entry}:{a['index']}",
            "filename": a.get("filename") or f"attachment-{a['index']}",
            "size": a.get("size") or 0,
        }
        for a in listed
        if not (forward and a.get("content_id") and a.get("disposition") != "attachment")
    ]


async def describe(request: web.Request, address: str, refs: list[str]) -> list[dict[str, Any]]:
    """The kept references a form brought, as the page lists them (gone ones left out)."""
    wanted = _parse_refs(refs)
    described: list[dict[str, Any]] = []
    for entry, indexes in wanted.items():
        with contextlib.suppress(NotFound):
            msg = await request.app[MAILSTORE].get_message(address, entry)
            described += [
                a for a in attachment_refs(entry, msg.get("attachments", []))
                if int(a["ref"].partition(":")[2]) in indexes
            ]  # fmt: skip
    return described


def _parse_refs(refs: list[str]) -> dict[int, list[int]]:
    wanted: dict[int, list[int]] = {}
    for ref in dict.fromkeys(refs[:MAX_KEPT]):
        if match := _REF.fullmatch(ref):
            wanted.setdefault(int(match[1]), []).append(int(match[2]))
    return wanted


async def kept_attachments(
    request: web.Request, address: str, refs: list[str]
) -> tuple[list[drafts.Attachment], bool]:
    """The kept attachments' bytes, and whether some were not found."""
    mailstore = request.app[MAILSTORE]
    found: list[drafts.Attachment] = []
    missing = False
    for entry, indexes in _parse_refs(refs).items():
        try:
            msg = await mailstore.get_message(address, entry)
        except NotFound:
            missing = True
            continue
        listed = {a["index"]: a for a in msg.get("attachments", [])}
        for n in indexes:
            if n not in listed:
                missing = True
                continue
            data, _ = await mailstore.get_attachment(address, entry, n)
            item = listed[n]
            found.append(
                drafts.attachment(
                    item.get("filename") or f"attachment-{n}", item.get("content_type"), data
                )
            )
    return found, missing


async def save(request: web.Request, account: Account, form: ComposeForm) -> Saved:
    """Save ``form`` as the account's draft (replacing the draft it came from)."""
    kept, missing = await kept_attachments(request, account.address, form.keep)
    errors: dict[str, str] = {"attachments": GONE} if missing else {}
    files = form.files
    total = sum(len(a.data) for a in (*kept, *files))
    if form.too_large or total > drafts.MAX_ATTACHMENTS_BYTES:
        files, errors = [], {"attachments": TOO_LARGE}
    msg = drafts.unsent_message(form.values, (*kept, *files), sender=account)
    raw = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    mailstore = request.app[MAILSTORE]
    replaces = draft_id(form.values.get("draft", ""))
    try:
        entry = await mailstore.save_draft(account.address, raw, replaces=replaces)
    except NotFound:
        # Sent or deleted meanwhile (another tab, a mail program), or not this account's:
        # a new draft rather than lost text.
        entry = await mailstore.save_draft(account.address, raw, replaces=None)
    stored = await mailstore.get_message(account.address, entry)
    return Saved(entry, attachment_refs(entry, stored.get("attachments", [])), errors)


def draft_id(value: str) -> int | None:
    """A form's draft id, or None: what is not a message id names no draft."""
    if value.isascii() and value.isdigit() and len(value) < 20 and int(value) <= MAX_ID:
        return int(value)
    return None


async def load(
    request: web.Request, address: str, entry: int
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """A draft's form fields and attachments; NotFound unless it is in the account's Drafts."""
    mailstore = request.app[MAILSTORE]
    msg = await mailstore.get_message(address, entry)
    if msg.get("folder") != DRAFTS:
        raise NotFound(str(entry))
    values = drafts.unsent_fields(await mailstore.get_raw(address, entry))
    values["draft"] = str(entry)
    return values, attachment_refs(entry, msg.get("attachments", []))


def compose_context(
    form_values: dict[str, str],
    saved: Saved | None,
    attachments: list[dict[str, Any]],
    errors: dict[str, str],
) -> dict[str, Any]:
    values = dict(form_values)
    if saved is not None:
        values["draft"] = str(saved.id)
        attachments = saved.attachments
        errors = {**saved.errors, **errors}
    return {"values": values, "attachments": attachments, "errors": errors}


async def save_draft(request: web.Request) -> web.Response:
    """POST /compose/draft: "Save draft", and the page script's autosave and uploads
    (JSON answers); an attachment whose box is unticked is left out."""
    user = require_user(request)
    return await save_and_answer(request, user.account, await form_of(request))


async def save_and_answer(
    request: web.Request, account: Account, form: ComposeForm
) -> web.Response:
    """Save ``form`` and answer: JSON for the script, else the draft's page (or the form
    with its field errors)."""
    try:
        saved = await save(request, account, form)
    except OverQuota as exc:
        # The mailbox is full: nothing saved, the form again with what was typed.
        if _wants_json(request):
            refused: dict[str, Any] = {"draft": None, "attachments": [], "errors": exc.fields}
            return web.json_response(refused, status=422)
        context = compose_context(form.values, None, [], exc.fields)
        return await render(request, "compose.html", context, status=422)
    if _wants_json(request):
        status = 422 if saved.errors else 200
        body = {"draft": saved.id, "attachments": saved.attachments, "errors": saved.errors}
        return web.json_response(body, status=status)
    if saved.errors:
        context = compose_context(form.values, saved, [], {})
        return await render(request, "compose.html", context, status=422)
    return see_other(f"/compose?draft={saved.id}&saved=1")


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


async def api_save(request: web.Request) -> web.Response:
    """POST /api/v1/drafts: save a draft (text only) into Drafts, replacing ``replaces``
    (one of the account's drafts; any other id saves a new one)."""
    user = require_user(request)
    body = await api._json_body(request)
    replaces = body.get("replaces")
    if replaces is not None and (not isinstance(replaces, int) or isinstance(replaces, bool)):
        raise InvalidFields({"replaces": "must be a draft's id or null"})
    form = ComposeForm()
    form.values = {name: ", ".join(api.address_list(body, name)) for name in ("to", "cc", "bcc")}
    for name, field_name in (("subject", "subject"), ("body", "text")):
        form.values[name] = api._text(body, field_name)
    form.values["draft"] = "" if replaces is None else str(replaces)
    saved = await save(request, user.account, form)
    return web.json_response({"id": saved.id}, status=201)


async def form_expired(request: web.Request, form: ComposeForm) -> web.Response:
    """A compose form whose CSRF token no longer holds. Signed in (a token from before a
    new login): the form again, nothing done, since a forged request looks the same.
    Signed out (the session ended while writing): the login form, carrying what was
    typed in hidden fields; logging in saves it as a draft and opens it (restore)."""
    principal = request.get(PRINCIPAL)
    if _wants_json(request):  # the script's autosave: Save draft takes it from here
        if principal is None:
            return web.json_response({"error": "session ended"}, status=401)
        return web.json_response({"error": "form expired"}, status=403)
    if principal is not None:
        attachments = await describe(request, principal.address, form.keep)
        context = compose_context(form.values, None, attachments, {"form": FORM_EXPIRED})
        return await render(request, "compose.html", context, status=403)
    context = {"values": {}, "next": "/compose", "error": SESSION_ENDED, "stash": stash(form)}
    return await render(request, "login.html", context, status=401)


STASHED = (*drafts.DRAFT_FIELDS, "source", "source_flag", "draft")
STASH_PREFIX = "stash_"


def stash(form: ComposeForm) -> list[tuple[str, str]]:
    """The hidden fields of the login form that carry ``form`` (stashed_form reads them)."""
    fields = [(name, form.values.get(name, "")) for name in STASHED]
    return fields + [("keep", ref) for ref in form.keep[:MAX_KEPT]]


def stashed_form(fields: Any) -> ComposeForm | None:
    """The compose form a login form carried (form_expired), or None."""
    if not any(key.startswith(STASH_PREFIX) for key in fields):
        return None
    form = ComposeForm()
    for name in STASHED:
        value = fields.get(STASH_PREFIX + name)
        if isinstance(value, str):
            form.values[name] = value
    form.keep = [v for v in fields.getall(STASH_PREFIX + "keep", []) if isinstance(v, str)]
    return form


async def restore(request: web.Request, account: Account, form: ComposeForm) -> str:
    """After logging in again: the stashed form saved as the account's draft, and where
    to go on writing it. A draft id or attachment of another account names nothing."""
    saved = await save(request, account, form)
    return f"/compose?draft={saved.id}&restored=1"
