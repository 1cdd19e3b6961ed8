"""A message being written: fields from a form or JSON, validated, built into MIME."""

from __future__ import annotations

import email
import email.policy
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from smtplib_common.addresslist import parse_mailbox, split_entries
from webmail.controls import BREAKING, has_control, has_surrogate
from webmail.errors import InvalidFields
from webmail.htmltext import html_to_text
from webmail.mailstore_client import Account

MAX_RECIPIENTS = 100  # the gateway's per-transaction limit (RFC 5321 §4.5.3.1.8)
MAX_SUBJECT = 998  # RFC 5322 §2.1.1 line limit
# The gateway's SIZE (25 MiB) bounds the whole message; base64 grows attachments by a
# third, so the sum of raw attachments has to stay well below it.
MAX_ATTACHMENTS_BYTES = 18 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Draft:
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()
    in_reply_to: str | None = None
    references: str | None = None
    bcc: tuple[str, ...] = ()


def parse_addresses(value: str | list[str]) -> tuple[list[str], list[str]]:
    """(addresses, bad entries) from "a@x, Bob <b@y>", a pasted list, or a JSON list.

    Blank entries (an empty Cc, a trailing comma) are nothing, not errors; a bad entry is
    named whole. Not email.utils.getaddresses: with the CVE-2023-27043 fix it turns an
    empty field into one bad address (smtplib_common.addresslist).
    """
    items = value if isinstance(value, list) else [value]
    good: list[str] = []
    bad: list[str] = []
    for entry in (e for item in items for e in pasted_entries(str(item))):
        addresses = _entry_addresses(entry)
        if not addresses:
            bad.append(entry)
        for address in addresses:
            if address.lower() not in (a.lower() for a in good):
                good.append(address)
    return good, bad


# What people paste into a recipient field besides RFC 5322's commas: semicolons
# (Outlook's lists), line breaks and tabs (a column or rows copied from a spreadsheet).
# A ";" also ends an RFC 5322 group (§3.4); nobody types a group into a form.
PASTE_SEPARATORS = ",;"
_LINE_BREAKS = re.compile(r"[\r\n]+")


def pasted_entries(text: str) -> list[str]:
    """The entries of one recipient field as typed or pasted, in order."""
    entries: list[str] = []
    for line in _LINE_BREAKS.split(text):
        cells = [cell for cell in line.split("\t") if cell.strip()]
        if len(cells) > 1 and any("@" in cell for cell in cells):
            # Spreadsheet rows: the name and other columns beside the address. The words
            # with an "@", as browsers join the rows of a paste into a one-line field
            # with spaces ("Ann<TAB>a@x Bob<TAB>b@x").
            cells = [word for cell in cells for word in cell.split() if "@" in word]
        for cell in cells:
            entries.extend(split_entries(cell, separators=PASTE_SEPARATORS))
    return entries


def _entry_addresses(entry: str) -> list[str]:
    """The addresses of one entry: one mailbox, or several bare addresses separated by
    spaces (browsers turn the line breaks of a list pasted into a one-line field into
    spaces); [] when it is neither."""
    single = _address(entry)
    if single:
        return [single]
    words = entry.split()
    if len(words) < 2 or any(c in entry for c in '"<>()'):
        return []
    found = [_address(word) for word in words]
    return [a for a in found if a] if all(found) else []


def _address(entry: str) -> str | None:
    parsed = parse_mailbox(entry)
    if not parsed:
        return None
    name, address = parsed
    domain = address.rpartition("@")[2]
    # The display name as decoded: encoded words may hide a CR LF (=?q?a=0D=0Ab?=).
    if (
        ("." not in domain and domain != "localhost")
        or " " in address
        or has_control(name + address)
    ):
        return None
    return address


def delivers_only_to(domains: tuple[str, ...]) -> str:
    return "Localpost delivers only to addresses " + " or ".join(f"@{d}" for d in domains)


def outside_fields(values: dict[str, str], domains: tuple[str, ...]) -> dict[str, str]:
    """Field errors for the recipients of a pre-filled form (a reply to mail from
    outside) that Send would refuse: said before the person writes, not after."""
    fields: dict[str, str] = {}
    for name in ("to", "cc"):
        outside = _outside(parse_addresses(values.get(name, ""))[0], domains)
        if outside:
            fields[name] = f"{delivers_only_to(domains)}, not: {', '.join(outside)}"
    return fields


def _outside(addresses: list[str], domains: tuple[str, ...]) -> list[str]:
    local = {d.lower() for d in domains}
    return [a for a in addresses if a.rpartition("@")[2].lower() not in local]


CONTROL_IN_ADDRESSES = "Line breaks and control characters are not allowed here."


UNENCODABLE = "Holds a character that cannot be sent (an unpaired surrogate)."


def _has_control(value: str | list[str]) -> bool:
    # A line break inside an address field would start a new header or, parsed, a new
    # recipient (RFC 5322 §2.2); other controls have no business there either, nor do
    # Unicode's line and paragraph separators (U+2028/9), NEL (U+0085) or surrogates.
    # Line breaks and tabs separate the entries of a pasted list (pasted_entries); a
    # form's field may hold them, a JSON list's item (one address each) may not.
    if isinstance(value, list):
        return any(has_control(str(item)) for item in value)
    return has_control(value.replace("\r", " ").replace("\n", " ").replace("\t", " "))


def _clean_header(value: str) -> str:
    """``value`` on one line: a header value never holds a line break (header injection,
    RFC 5322 §2.2), nor another control or a Unicode line or paragraph separator, which
    email.policy folds as one. Lone surrogates are left for make_draft to refuse."""
    spaced = "".join(" " if unicodedata.category(c) in _HEADER_BREAKS else c for c in value)
    return " ".join(spaced.split())


_HEADER_BREAKS = BREAKING - {"Cs"}


def make_draft(
    *,
    to: str | list[str],
    cc: str | list[str],
    subject: str,
    body: str,
    attachments: tuple[Attachment, ...] = (),
    in_reply_to: str | None = None,
    references: str | None = None,
    bcc: str | list[str] = "",
    domains: tuple[str, ...] = (),
) -> Draft:
    """The draft, or InvalidFields naming each bad field. With ``domains``, recipients
    outside them are refused: Localpost has no outbound mail yet, and the gateway's
    "Relaying denied" would otherwise come back as "Unknown recipient"."""
    fields: dict[str, str] = {}
    to_list, bad_to = parse_addresses(to)
    cc_list, bad_cc = parse_addresses(cc)
    bcc_list, bad_bcc = parse_addresses(bcc)
    if _has_control(to):
        fields["to"] = CONTROL_IN_ADDRESSES
    elif bad_to:
        fields["to"] = f"Not an address: {', '.join(bad_to)}"
    elif not to_list:
        fields["to"] = "Add at least one recipient."
    for name, value, bad in (("cc", cc, bad_cc), ("bcc", bcc, bad_bcc)):
        if _has_control(value):
            fields[name] = CONTROL_IN_ADDRESSES
        elif bad:
            fields[name] = f"Not an address: {', '.join(bad)}"
    lists = {"to": to_list, "cc": cc_list, "bcc": bcc_list}
    for name, addresses in lists.items():
        if domains and name not in fields and (outside := _outside(addresses, domains)):
            fields[name] = f"{delivers_only_to(domains)}, not: {', '.join(outside)}"
    if len(to_list) + len(cc_list) + len(bcc_list) > MAX_RECIPIENTS:
        fields["to"] = f"At most {MAX_RECIPIENTS} recipients per message."
    texts = {"subject": subject, "body": body, "in_reply_to": in_reply_to or "",
             "references": references or ""}  # fmt: skip
    fields.update({name: UNENCODABLE for name, text in texts.items() if has_surrogate(text)})
    subject = _clean_header(subject)
    if len(subject) > MAX_SUBJECT:
        fields["subject"] = f"At most {MAX_SUBJECT} characters."
    if sum(len(a.data) for a in attachments) > MAX_ATTACHMENTS_BYTES:
        limit = MAX_ATTACHMENTS_BYTES // (1024 * 1024)
        fields["attachments"] = f"Attachments are too large (at most {limit} MB in all)."
    if fields:
        raise InvalidFields(fields)
    return Draft(
        to=tuple(to_list),
        cc=tuple(cc_list),
        bcc=tuple(bcc_list),
        subject=subject,
        body=body.replace("\r\n", "\n"),
        attachments=attachments,
        in_reply_to=_clean_header(in_reply_to) if in_reply_to else None,
        references=_clean_header(references) if references else None,
    )


def attachment(filename: str, content_type: str | None, data: bytes) -> Attachment:
    # A name that was not UTF-8 arrives with surrogate escapes (aiohttp): they become "_",
    # as path separators do, rather than a UnicodeEncodeError in build_message.
    name = "".join("_" if has_surrogate(c) else c for c in _clean_header(filename))
    name = name.replace("/", "_").replace("\\", "_") or "attachment"
    guessed = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if guessed.count("/") != 1:
        guessed = "application/octet-stream"
    return Attachment(name, guessed, data)


def build_message(draft: Draft, *, sender: Account) -> EmailMessage:
    msg = EmailMessage()
    # Names registered before controls and separators were refused in them still send.
    msg["From"] = formataddr((_clean_header(sender.name), sender.address))
    msg["To"] = ", ".join(draft.to)
    if draft.cc:
        msg["Cc"] = ", ".join(draft.cc)
    if draft.bcc:
        # Envelope only: the submission client takes Bcc into RCPT TO and deletes the
        # header from what it transmits (RFC 5322 §3.6.3), so no recipient sees it and
        # the Sent copy (the gateway's, of what it received) does not list them either.
        msg["Bcc"] = ", ".join(draft.bcc)
    msg["Subject"] = draft.subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=Address(addr_spec=sender.address).domain)
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        msg["References"] = draft.references
    msg.set_content(draft.body or "\n")
    for item in draft.attachments:
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.filename)
    return msg


# -- drafts kept in the Drafts folder -----------------------------------------------------

# The form fields a draft keeps. ``source`` and ``source_flag`` (the message replied to or
# forwarded, flagged once sent) travel in a header of our own.
DRAFT_FIELDS = ("to", "cc", "bcc", "subject", "body", "in_reply_to", "references")
SOURCE_HEADER = "X-Localpost-Source"
TYPED_HEADER = "X-Localpost-Typed-"
_ADDRESS_HEADERS = (("to", "To"), ("cc", "Cc"), ("bcc", "Bcc"))


def unsent_message(
    values: dict[str, str], attachments: tuple[Attachment, ...], *, sender: Account
) -> EmailMessage:
    """A draft as it stands, for the Drafts folder: what was typed, mistakes included (a
    bad address is what a form error gives back), minus what MIME cannot carry (lone
    surrogates become "?", line breaks in headers spaces)."""
    text = {name: _storable(values.get(name, "")) for name in (*DRAFT_FIELDS, "source")}
    draft = Draft(
        to=(),
        cc=(),
        subject=_clean_header(text["subject"]),
        body=text["body"].replace("\r\n", "\n"),
        attachments=attachments,
        in_reply_to=_clean_header(text["in_reply_to"]) or None,
        references=_clean_header(text["references"]) or None,
    )
    msg = build_message(draft, sender=sender)
    del msg["To"]
    for name, header in _ADDRESS_HEADERS:
        typed = _clean_header(text[name])
        good = parse_addresses(typed)[0]
        if good:
            msg[header] = ", ".join(good)
        if typed != ", ".join(good):
            # What the person typed, mistakes included, beside the addresses a mail
            # program can use: the header parser fails on much of it ("bob@").
            msg[TYPED_HEADER + header] = typed
    source, flag = text["source"], values.get("source_flag", "")
    if source.isascii() and source.isdigit() and len(source) < 20 and flag.isalpha():
        msg[SOURCE_HEADER] = f"{flag[:20]} {source}"
    return msg


def unsent_fields(raw: bytes) -> dict[str, str]:
    """The compose form's fields of a draft ``unsent_message`` built (or a mail program
    saved): each address field as written, the first text/plain part as the body, or
    the text of its HTML when it has none (a mail program's HTML-only draft would
    otherwise open empty, and Send would replace it with nothing)."""
    # The address fields as written: the default policy would quote a bad entry.
    written = email.message_from_bytes(raw, policy=email.policy.compat32)
    values = {
        name: _decoded(written.get(TYPED_HEADER + header) or written.get(header))
        for name, header in _ADDRESS_HEADERS
    }
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    values["subject"] = str(msg.get("Subject", ""))
    values["in_reply_to"] = str(msg.get("In-Reply-To", ""))
    values["references"] = str(msg.get("References", ""))
    flag, _, source = str(msg.get(SOURCE_HEADER, "")).partition(" ")
    values["source"], values["source_flag"] = source, flag
    part = msg.get_body(preferencelist=("plain", "html"))
    body = ""
    if isinstance(part, EmailMessage):
        try:
            body = str(part.get_content())
        except (LookupError, ValueError):  # an unknown charset, a broken encoding
            body = ""
        if part.get_content_subtype() == "html":
            body = html_to_text(body)
    body = body.replace("\r\n", "\n")  # stored with CRLF (RFC 5322 §2.1)
    # set_content ends a body with a line break; the one typed did not need to.
    values["body"] = body[:-1] if body.endswith("\n") else body
    return values


def _decoded(value: object) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return _clean_header(str(make_header(decode_header(value))))
    except (LookupError, ValueError):  # an unknown charset, a broken encoded word
        return _clean_header(value)


def _storable(value: str) -> str:
    return value.encode("utf-8", "replace").decode("utf-8") if has_surrogate(value) else value
