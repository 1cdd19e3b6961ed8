"""ENVELOPE, BODY, BODYSTRUCTURE and BODY[section] against Dovecot, over the whole corpus.

Each corpus message (as the mail store holds it: CRLF lines) goes into the
Maildir of a private Dovecot (tests/integration/dovecot.py) and through
``mailstore.imap_structure.describe`` and ``imap_gateway.structure``. For every
message the FETCH items and every part's BODY[n], BODY[n.MIME] (and
BODY[n.HEADER], BODY[n.TEXT] of message/rfc822 parts) must be equal, once the
differences listed in docs/imap.md "Differences from Dovecot" are accounted
for: :func:`dovecot_for_humans` for the whitespace Dovecot rewrites, and
``KNOWN`` for the rest, each entry naming the section of that document. An entry
in ``KNOWN`` that no longer differs fails too, so the list stays true.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imap_gateway import structure
from mailstore.imap_structure import describe
from tests.integration import dovecot
from tests.integration.dovecot import PreauthDovecot, Value, canonical, parse_values

# The shared corpus sits beside the repository: <root>/../shared/corpus.
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "emails"
FILES = sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []
NAMES = [str(path.relative_to(CORPUS)) for path in FILES]

# (message, item) -> the heading in docs/imap.md "Differences from Dovecot" that explains it.
FIRST_FIELD = "A repeated Date, Subject, Message-ID or In-Reply-To"
EMPTY_LIST_MEMBER = "An empty member of an address list"
LATER_DISPOSITION = "A repeated Content-Disposition"
RFC2231_ESCAPES = "RFC 2231 sections joined into one value"
NEWLINE_IN_CUT_HEADER = "A header that a boundary cuts short"
KNOWN: dict[tuple[str, str], str] = {
    ("mikel-mail/mime_emails__raw_email_with_binary_encoded.eml", "ENVELOPE"): FIRST_FIELD,
    (
        "mikel-mail/mime_emails__raw_email_with_multipart_mixed_quoted_boundary.eml",
        "ENVELOPE",
    ): FIRST_FIELD,
    ("spamassassin/nice__cjk__big5-base64.1.eml", "ENVELOPE"): FIRST_FIELD,
    ("stalwart-mail-parser/malformed__019.eml", "ENVELOPE"): FIRST_FIELD,
    ("mikel-mail/rfc2822__example11.eml", "ENVELOPE"): EMPTY_LIST_MEMBER,
    ("enmime/mail__inlinemultipart.eml", "BODYSTRUCTURE"): LATER_DISPOSITION,
    (
        "enmime/mail__malformed-multiple-address-header-values.eml",
        "BODYSTRUCTURE",
    ): LATER_DISPOSITION,
    ("cpython-email/msg_29.eml", "BODYSTRUCTURE"): RFC2231_ESCAPES,
    ("cpython-email/msg_29.eml", "BODY"): RFC2231_ESCAPES,
    **{
        (name, item): NEWLINE_IN_CUT_HEADER
        for name, items in {
            "cpython-email/msg_38.eml": ("BODY[1]",),
            "mikel-mail/attachment_emails__attachment_message_rfc822_inline_image.eml": (
                "BODYSTRUCTURE",
                "BODY",
                "BODY[2]",
            ),
            "spamassassin/spam__utf16.eml": ("BODY[1]",),
            "stalwart-mail-parser/malformed__020.eml": ("BODY[1]",),
            "stalwart-mail-parser/malformed__021.eml": ("BODY[1]",),
            "stalwart-mail-parser/malformed__022.eml": ("BODYSTRUCTURE", "BODY", "BODY[2]"),
            "stalwart-mail-parser/rfc__008.eml": ("BODYSTRUCTURE", "BODY", "BODY[2]"),
            "stalwart-mail-parser/thirdparty__015.eml": (
                "BODYSTRUCTURE",
                "BODY",
                "BODY[2]",
                "BODY[3]",
            ),
        }.items()
        for item in items
    },
}

pytestmark = [
    pytest.mark.skipif(not FILES, reason=f"no email corpus at {CORPUS.resolve()}"),
    pytest.mark.skipif(dovecot.available() is not None, reason=str(dovecot.available())),
]


@pytest.fixture(scope="module")
def messages() -> list[bytes]:
    return [canonical(path.read_bytes()) for path in FILES]


@pytest.fixture(scope="module")
def server(messages: list[bytes]) -> Iterator[PreauthDovecot]:
    with PreauthDovecot(messages) as running:
        yield running


def dovecot_for_humans(value: str) -> str:
    """Dovecot's rewrite of a subject or display name (docs/imap.md): each run
    of SP, TAB, CR and LF becomes one space, with none at either end."""
    return " ".join(re.split(r"[ \t\r\n]+", value.replace("\0", "\x80"))).strip(" ")


def _humanise(envelope: dict[str, Any]) -> None:
    if envelope["subject"] is not None:
        envelope["subject"] = dovecot_for_humans(envelope["subject"])
    for name in ("from", "sender", "reply_to", "to", "cc", "bcc"):
        for address in envelope[name] or []:
            if address[0] is not None:
                address[0] = dovecot_for_humans(address[0])


def as_dovecot_writes(description: dict[str, Any]) -> dict[str, Any]:
    """The description with every envelope's subject and names as Dovecot writes them."""
    out = copy.deepcopy(description)
    _humanise(out["envelope"])
    for _, part in sections(out["body"]):
        if "message" in part:
            _humanise(part["message"]["envelope"])
    return out


def sections(
    container: dict[str, Any], prefix: tuple[int, ...] = ()
) -> Iterator[tuple[tuple[int, ...], dict[str, Any]]]:
    """Every part number of a message and its part (RFC 9051 §6.4.5 numbering)."""
    children = container.get("parts", [container])
    for number, child in enumerate(children, start=1):
        path = (*prefix, number)
        yield path, child
        if "parts" in child:
            yield from sections(child, path)
        elif "message" in child:
            yield from sections(child["message"]["body"], path)


def value(encoded: bytes) -> Value:
    values = parse_values(encoded)
    assert len(values) == 1
    return values[0]


def our_answers(raw: bytes) -> dict[str, Value]:
    """What we answer to the same FETCH items, parsed as Dovecot's answer is."""
    description = describe(raw)
    written = as_dovecot_writes(description)
    ours: dict[str, Value] = {
        "RFC822.SIZE": len(raw),
        "ENVELOPE": value(structure.envelope(written["envelope"])),
        "BODYSTRUCTURE": value(structure.bodystructure(written)),
        "BODY": value(structure.body(written)),
    }
    for text in ("HEADER", "TEXT"):
        ours[f"BODY[{text}]"] = structure.section_bytes(raw, description, (), text)
    for path, part in sections(description["body"]):
        name = ".".join(map(str, path))
        ours[f"BODY[{name}]"] = structure.section_bytes(raw, description, path, None)
        ours[f"BODY[{name}.MIME]"] = structure.section_bytes(raw, description, path, "MIME")
        if "message" in part:
            for text in ("HEADER", "TEXT"):
                ours[f"BODY[{name}.{text}]"] = structure.section_bytes(raw, description, path, text)
    return ours


@pytest.mark.parametrize("name", NAMES)
def test_structure_and_sections_match_dovecot(
    server: PreauthDovecot, messages: list[bytes], name: str
) -> None:
    uid = NAMES.index(name) + 1
    ours = our_answers(messages[uid - 1])
    items = " ".join(
        item.replace("BODY[", "BODY.PEEK[") if item.startswith("BODY[") else item for item in ours
    )
    theirs = server.fetch(uid, items)
    differing = {item for item in ours if theirs.get(item) != ours[item]}
    explained = {item for item in differing if (name, item) in KNOWN}
    unexplained = {item: (theirs.get(item), ours[item]) for item in differing - explained}
    assert not unexplained, f"differences from Dovecot not in docs/imap.md: {unexplained!r}"
    stale = {item for (known, item) in KNOWN if known == name} - differing
    assert not stale, f"listed as differing from Dovecot but equal now: {stale}"
