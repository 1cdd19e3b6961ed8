"""Writing mail: the compose page (new, reply, reply all, forward), sending, autocomplete."""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import web

from webmail import drafts, notices
from webmail.bodies import quote_for_reply
from webmail.controls import INVISIBLE, has_control
from webmail.errors import (
    InvalidFields,
    NotFound,
    OverQuota,
    RateLimited,
    SubmissionUnavailable,
)
from webmail.htmltext import html_to_text
from webmail.keys import CONFIG, MAILSTORE, METRICS, SUBMITTER
from webmail.pages import person, render, utc_fallback
from webmail.typedefs import ComposeForm, Principal
from webmail.views import drafts as draft_views
from webmail.views.common import require_user, see_other, with_notice


def _addresses(people: list[dict[str, Any]]) -> list[str]:
    return [str(p.get("address")) for p in people if p.get("address")]


def _subject(prefix: str, subject: str) -> str:
    return subject if subject.lower().startswith(prefix.lower()) else f"{prefix} {subject}"


def prefill(msg: dict[str, Any], mode: str, user: Principal, zone: str = "") -> dict[str, str]:
    """The compose fields for replying to or forwarding ``msg``; dates in ``zone``."""
    author = person(msg.get("from")) or "someone"
    when = utc_fallback(msg.get("date") or msg.get("received_at"), "full", zone)
    # An HTML-only message is quoted as the text it shows, never as an empty quote.
    text = msg.get("text") or html_to_text(msg.get("html") or "")
    subject = msg.get("subject") or ""
    if mode == "forward":
        header = (
            f"\n\n---------- Forwarded message ----------\nFrom: {author}\nDate: {when}\n"
            f"Subject: {subject}\nTo: {', '.join(person(p) for p in msg.get('to', []))}\n\n"
        )
        return {"to": "", "cc": "", "subject": _subject("Fwd:", subject), "body": header + text}
    sender = (msg.get("from") or {}).get("address") or ""
    if msg.get("folder") == "sent":  # replying to one's own message goes to its recipients
        to = _addresses(msg.get("to", []))
    else:
        to = [sender] if sender else []
    cc: list[str] = []
    if mode == "reply_all":
        everyone = _addresses(msg.get("to", [])) + _addresses(msg.get("cc", []))
        mine = {user.address.lower(), *(a.lower() for a in to)}
        cc = [a for a in dict.fromkeys(everyone) if a.lower() not in mine]
    references = " ".join(
        part for part in (msg.get("references"), msg.get("message_id_header")) if part
    )
    return {
        "to": ", ".join(to),
        "cc": ", ".join(cc),
        "subject": _subject("Re:", subject),
        "body": quote_for_reply(text, author=author, date=when),
        "in_reply_to": msg.get("message_id_header") or "",
        "references": references,
    }


async def compose_form(request: web.Request) -> web.Response:
    user = require_user(request)
    if (draft := draft_views.draft_id(request.query.get("draft", ""))) is not None:
        return await _open_draft(request, user, draft)
    values: dict[str, str] = {
        "to": request.query.get("to", ""),
        "cc": "",
        "subject": "",
        "body": "",
    }
    attachments: list[dict[str, Any]] = []
    profile = await request.app[MAILSTORE].get_profile(user.address)
    for mode in ("reply", "reply_all", "forward"):
        source = request.query.get(mode, "")
        if source.isdigit():
            msg = await request.app[MAILSTORE].get_message(user.address, int(source))
            values = prefill(msg, mode, user, profile.get("time_zone") or "")
            # Sent, the original gets \\Answered or $Forwarded (issue 13: the web's
            # Reply and Forward are IMAP's flags, so every client shows them).
            values["source"] = str(msg.get("id", ""))
            values["source_flag"] = "forwarded" if mode == "forward" else "answered"
            if mode == "forward":
                attachments = draft_views.attachment_refs(
                    int(msg["id"]), msg.get("attachments", []), forward=True
                )
            break
    values["body"] = with_signature(values["body"], profile.get("signature") or "")
    errors = drafts.outside_fields(values, request.app[CONFIG].domains)
    context = {"values": values, "errors": errors, "attachments": attachments}
    return await render(request, "compose.html", context)


async def _open_draft(request: web.Request, user: Principal, draft: int) -> web.Response:
    """The compose form as the draft was saved; another account's draft is 404."""
    values, attachments = await draft_views.load(request, user.address, draft)
    notice = next((text for key, text in _DRAFT_NOTICES.items() if key in request.query), "")
    context = {"values": values, "attachments": attachments, "draft_notice": notice, "errors": {}}
    return await render(request, "compose.html", context)


_DRAFT_NOTICES = {
    "saved": "Draft saved.",
    "restored": "You are logged in again; what you wrote is here, saved as a draft.",
}


def with_signature(body: str, signature: str) -> str:
    """``body`` with the account's signature above it (above a quote or a forwarded
    message, where the person writes): an editable default, in the box like the rest.
    "-- " is the signature separator mail programs know (RFC 3676 §4.3)."""
    if not signature.strip():
        return body
    return f"\n\n-- \n{signature}\n{body}"


async def send(request: web.Request) -> web.Response:
    user = require_user(request)
    form = await draft_views.form_of(request)
    if form.values.get("save"):  # the form's "Save draft" button, not Send
        return await draft_views.save_and_answer(request, user.account, form)
    values = {name: form.values.get(name, "") for name in FORM_FIELDS}
    try:
        if form.too_large:
            raise InvalidFields({"attachments": draft_views.TOO_LARGE})
        kept, missing = await draft_views.kept_attachments(request, user.address, form.keep)
        if missing:
            raise InvalidFields({"attachments": draft_views.GONE})
        draft = drafts.make_draft(
            to=values["to"],
            cc=values["cc"],
            bcc=values["bcc"],
            domains=request.app[CONFIG].domains,
            subject=values["subject"],
            body=values["body"],
            attachments=(*kept, *form.files),
            in_reply_to=values["in_reply_to"] or None,
            references=values["references"] or None,
        )
        msg = drafts.build_message(draft, sender=user.account)
        await request.app[MAILSTORE].require_room(user.address, len(bytes(msg)))
        sent = await request.app[SUBMITTER].send(
            msg, sender=user.address, cc=draft.cc, bcc=draft.bcc
        )
    except InvalidFields as exc:
        request.app[METRICS].sent.labels(outcome="refused").inc()
        return await _form_again(request, user, form, values, exc.fields, status=422)
    except SubmissionUnavailable:
        # Not sent: the message waits in Drafts rather than being lost with the page.
        errors = {"form": NOT_SENT}
        return await _form_again(request, user, form, values, errors, status=503)
    request.app[METRICS].sent.labels(outcome="sent").inc()
    await _forget_draft(request, user.address, form.values.get("draft", ""))
    await _mark_source(request, user.address, values["source"], values["source_flag"])
    if sent.refused:
        # Sent to the others: the page leaves the form, so that sending again cannot
        # give them a second copy, and says who did not get it (in the notice cookie, not
        # the URL: a link must not be able to make the page say so).
        return with_notice(request, "/mail/sent", notices.undelivered(sent.refused))
    return see_other("/mail/sent?sent=1")


FORM_FIELDS = (*drafts.DRAFT_FIELDS, "source", "source_flag", "draft")
NOT_SENT = "Sending is unavailable right now: nothing was sent. Your message is saved as a draft."


async def _form_again(
    request: web.Request,
    user: Principal,
    form: ComposeForm,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status: int,
) -> web.Response:
    """The form again with ``errors``: what was typed, and what was attached, saved into
    the draft first (browsers never let a page pre-fill a file input)."""
    saved = None
    if draft_views.worth_saving(form):
        try:
            saved = await draft_views.save(request, user.account, form)
        except OverQuota as exc:
            # No room for the draft either: what was typed is still in the form.
            errors = {**errors, "form": errors.get("form") or exc.fields["form"]}
    attachments = [] if saved else await draft_views.describe(request, user.address, form.keep)
    context = draft_views.compose_context(values, saved, attachments, errors)
    return await render(request, "compose.html", context, status=status)


async def _forget_draft(request: web.Request, address: str, draft: str) -> None:
    """The sent draft leaves Drafts; one deleted meanwhile, or an id someone edited, is
    left alone (the message is sent either way)."""
    if (entry := draft_views.draft_id(draft)) is not None:
        with contextlib.suppress(NotFound):
            await request.app[MAILSTORE].delete_draft(address, entry)


SOURCE_FLAGS = ("answered", "forwarded")


async def _mark_source(request: web.Request, address: str, source: str, flag: str) -> None:
    """Flag the message replied to or forwarded; one deleted meanwhile, or a field
    someone edited, is left alone (the message is sent either way)."""
    if not (source.isascii() and source.isdigit() and len(source) < 20) or flag not in SOURCE_FLAGS:
        return
    with contextlib.suppress(NotFound):
        await request.app[MAILSTORE].set_flags(address, int(source), **{flag: True})


# Autocomplete suggests people to write to; it must not list everyone. A suggestion
# needs DIRECTORY_MIN_PREFIX characters of an address or name, shows at most
# DIRECTORY_RESULTS, and an account may ask DIRECTORY_PER_ACCOUNT times per window
# (plenty for typing, debounced, a few dozen recipients; a sweep of every three-letter
# prefix would take days). docs/security.md, "Directory".
DIRECTORY_MIN_PREFIX = 3
DIRECTORY_RESULTS = 5
DIRECTORY_MAX_PREFIX = 100
DIRECTORY_PER_ACCOUNT = (120, 10 * 60)


async def directory(request: web.Request) -> web.Response:
    user = require_user(request)
    prefix = request.query.get("prefix", "").strip()
    if has_control(prefix, INVISIBLE) or len(prefix) > DIRECTORY_MAX_PREFIX:
        # NUL and the like: never passed on to the mail store (PostgreSQL refuses NUL).
        return web.json_response(
            {"error": "invalid", "fields": {"prefix": "Letters, digits and punctuation only."}},
            status=422,
        )
    if len(prefix) < DIRECTORY_MIN_PREFIX:
        return web.json_response({"accounts": []})
    mailstore = request.app[MAILSTORE]
    limit, window = DIRECTORY_PER_ACCOUNT
    counted = await mailstore.throttle(
        f"directory:account:{user.address}", limit=limit, window=window
    )
    if not counted.allowed:
        raise RateLimited(max(1, counted.retry_after))
    accounts = await mailstore.directory(prefix=prefix, limit=DIRECTORY_RESULTS)
    return web.json_response(
        {"accounts": [{"address": a.address, "name": a.name} for a in accounts]}
    )
