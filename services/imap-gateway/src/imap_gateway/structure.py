"""ENVELOPE, BODY and BODYSTRUCTURE from the mail store's structure description.

The mail store describes each message once, at delivery
(``mailstore.imap_structure.describe``: the envelope fields, the MIME tree and
the byte offsets of every part). This module only writes that description in
the grammar of RFC 3501 §7.4.2 / RFC 9051 §7.5.2 (``envelope``, ``body``), with
the wire encoder's value encoders, and finds the byte range a ``BODY[section]``
names (RFC 9051 §6.4.5). The output depends on the description alone, so a
client asking twice gets the same octets (clients cache BODYSTRUCTURE).

Strings in the description hold one code point per octet (ISO-8859-1); they
go out as those octets: quoted when that is allowed, else as literals
(``utf8`` tells whether the client accepts UTF-8 in quoted strings, RFC 9051
§9 / RFC 6855).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from imap_gateway.wire.encoder import NIL, QUOTED_MAX, number, paren_list, string

__all__ = [
    "SectionNotFound",
    "body",
    "bodystructure",
    "envelope",
    "section_bytes",
    "section_range",
]

Description = Mapping[str, Any]

_ADDRESS_FIELDS = ("from", "sender", "reply_to", "to", "cc", "bcc")


def _octets(value: str) -> bytes:
    return value.encode("latin-1")


def _nstring(value: str | None, utf8: bool) -> bytes:
    if value is None:
        return NIL
    # The common case first, on the str: ASCII without NUL, CR, LF, a quote or a
    # backslash is quoted as it is (str.isascii reads a flag CPython keeps). A page of 50
    # envelopes holds some 700 such values, and encoder.string's general checks on
    # each were a sixth of the gateway's CPU under the mixed load (py-spy). Anything
    # else goes through encoder.string, so the octets are the same either way.
    if (
        value.isascii()
        and len(value) <= QUOTED_MAX
        and '"' not in value
        and "\\" not in value
        and "\r" not in value
        and "\n" not in value
        and "\x00" not in value
    ):
        return b'"' + value.encode("ascii") + b'"'
    return string(_octets(value), utf8=utf8)


def _string(value: str, utf8: bool) -> bytes:
    return string(_octets(value), utf8=utf8)


# --- ENVELOPE ----------------------------------------------------------------------------------


def envelope(description: Description, *, utf8: bool = False) -> bytes:
    """``envelope`` (RFC 9051 §9): date, subject, six address lists, in-reply-to, message-id.

    ``description`` is the ``"envelope"`` member of a message's description.
    """
    items = [_nstring(description["date"], utf8), _nstring(description["subject"], utf8)]
    items += [_addresses(description[name], utf8) for name in _ADDRESS_FIELDS]
    items += [_nstring(description["in_reply_to"], utf8)]
    items += [_nstring(description["message_id"], utf8)]
    return paren_list(items)


def _addresses(addresses: Sequence[Sequence[str | None]] | None, utf8: bool) -> bytes:
    """NIL or ``(address ...)``; group markers are addresses with a NIL host."""
    if not addresses:
        return NIL
    return (
        b"("
        + b"".join([b"(" + b" ".join([_nstring(v, utf8) for v in a]) + b")" for a in addresses])
        + b")"
    )


# --- BODY and BODYSTRUCTURE --------------------------------------------------------------------


def bodystructure(description: Description, *, utf8: bool = False) -> bytes:
    """``body`` with the extension data (FETCH BODYSTRUCTURE); ``description["body"]``."""
    return _part(description["body"], extensible=True, utf8=utf8)


def body(description: Description, *, utf8: bool = False) -> bytes:
    """``body`` without extension data (FETCH BODY, RFC 9051 §7.5.2)."""
    return _part(description["body"], extensible=False, utf8=utf8)


def _part(part: Description, *, extensible: bool, utf8: bool) -> bytes:
    if "parts" in part:
        return _multipart(part, extensible=extensible, utf8=utf8)
    items = [
        _string(part["type"], utf8),
        _string(part["subtype"], utf8),
        _params(part["params"], utf8),
        _nstring(part["id"], utf8),
        _nstring(part["description"], utf8),
        _string(part["encoding"], utf8),
        number(part["body"][1] - part["body"][0]),
    ]
    if "message" in part:
        # body-type-msg: the embedded message's envelope, its body, its lines.
        message = part["message"]
        items.append(envelope(message["envelope"], utf8=utf8))
        items.append(_part(message["body"], extensible=extensible, utf8=utf8))
        items.append(number(part["lines"]))
    elif part["type"].lower() == "text":
        items.append(number(part["lines"]))  # body-type-text
    if extensible:
        items.append(_nstring(part["md5"], utf8))
        items += _extension(part, utf8)
    return paren_list(items)


def _multipart(part: Description, *, extensible: bool, utf8: bool) -> bytes:
    # body-type-mpart = 1*body SP media-subtype: the bodies are not separated.
    children = b"".join(_part(c, extensible=extensible, utf8=utf8) for c in part["parts"])
    items = [children, _string(part["subtype"], utf8)]
    if extensible:
        items.append(_params(part["params"], utf8))
        items += _extension(part, utf8)
    return paren_list(items)


def _extension(part: Description, utf8: bool) -> list[bytes]:
    """body-fld-dsp, body-fld-lang, body-fld-loc."""
    disposition = part["disposition"]
    if disposition is None:
        dsp = NIL
    else:
        dsp = paren_list([_string(disposition[0], utf8), _params(disposition[1], utf8)])
    language = part["language"]
    lang = NIL if language is None else paren_list(_string(tag, utf8) for tag in language)
    return [dsp, lang, _nstring(part["location"], utf8)]


def _params(params: Sequence[Sequence[str]] | None, utf8: bool) -> bytes:
    if not params:
        return NIL
    return paren_list(_string(value, utf8) for pair in params for value in pair)


# --- BODY[section] -----------------------------------------------------------------------------


class SectionNotFound(LookupError):
    """The section names a part the message does not have."""


def section_range(
    description: Description, part: Sequence[int], text: str | None
) -> tuple[int, int]:
    """The byte range of ``BODY[part.text]`` in the raw message (RFC 9051 §6.4.5).

    ``text`` is None (the part's content), ``"HEADER"``, ``"TEXT"`` or ``"MIME"``;
    HEADER.FIELDS(.NOT) is served from the ``"HEADER"`` range by the caller.
    HEADER and TEXT name the message itself (empty ``part``) or the message
    a message/rfc822 part holds.
    """
    if not part:
        root = description["body"]
        if text is None:
            return 0, root["body"][1]
        if text == "MIME":
            raise SectionNotFound("MIME needs a part number")
        return _range(root["header"] if text == "HEADER" else root["body"])
    node = _find(description["body"], part)
    if text is None:
        return _range(node["body"])
    if text == "MIME":
        return _range(node["header"])
    if "message" not in node:
        raise SectionNotFound(f"{text} needs a message/rfc822 part")
    inner = node["message"]["body"]
    return _range(inner["header"] if text == "HEADER" else inner["body"])


def _range(offsets: Sequence[int]) -> tuple[int, int]:
    return offsets[0], offsets[1]


def section_bytes(
    raw: bytes, description: Description, part: Sequence[int], text: str | None
) -> bytes:
    """``BODY[part.text]`` as sent: the raw slice, NUL written as 0x80.

    A literal cannot hold NUL (RFC 9051 §4.3, §9 CHAR8); only BINARY[] may send
    one, in literal8 (RFC 3516). The replacement keeps every size and offset.
    """
    start, end = section_range(description, part, text)
    return raw[start:end].replace(b"\0", b"\x80")


def _find(root: Description, path: Sequence[int]) -> Description:
    """Part numbers (RFC 9051 §6.4.5): a multipart's parts are 1..n, a body that is
    not multipart is part 1 of its message, and below a message/rfc822 part the
    numbers go on in the message it holds."""
    node = root
    for depth, wanted in enumerate(path):
        if depth:
            if "message" in node:
                node = node["message"]["body"]
            elif "parts" not in node:
                raise SectionNotFound(f"part {'.'.join(map(str, path))} does not exist")
        children = node.get("parts", [node])
        if not 1 <= wanted <= len(children):
            raise SectionNotFound(f"part {'.'.join(map(str, path))} does not exist")
        node = children[wanted - 1]
    return node
