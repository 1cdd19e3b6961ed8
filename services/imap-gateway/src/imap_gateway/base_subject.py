"""Header text for sorting and threading: RFC 2047 decoding and the base subject (RFC 5256 §2.1).

Pure functions. :func:`decode_words` turns a raw header value into Unicode (the
octets read as UTF-8, encoded words decoded); :func:`base_subject` runs the
extraction algorithm of RFC 5256 §2.1 step by step and also tells whether the
subject was a reply or a forward, which the REFERENCES thread algorithm needs
(RFC 5256 §4, step 5.B: "contains a subj-refwd part and/or a "(fwd)" subj-trailer").
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import unicodedata
from dataclasses import dataclass

__all__ = ["BaseSubject", "base_subject", "casemap", "decode_words"]

# RFC 2047 §2: encoded-word = "=?" charset ["*" language] "?" encoding "?" encoded-text "?="
_ENCODED_WORD = re.compile(rb"=\?([^?*\s]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
# RFC 2047 §6.2: white space between two adjacent encoded words is not displayed.
_BETWEEN_WORDS = re.compile(rb"(?<=\?=)[ \t\r\n]+(?==\?)")
_Q_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")

# RFC 5256 §5 (ABNF), after step 1 has made every WSP a single SP.
# subj-blob = "[" *BLOBCHAR "]" *WSP; BLOBCHAR = %x01-5a / %x5c / %x5e-7f
_BLOB = r"\[[\x01-\x5a\x5c\x5e-\x7f]*\] *"
# subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
_REFWD = r"(?:re|fwd?) *(?:" + _BLOB + r")?:"
# subj-leader = (*subj-blob subj-refwd) / WSP
_LEADER = re.compile(r"(?:" + _BLOB + r")*" + _REFWD, re.IGNORECASE)
_LEADING_BLOB = re.compile(_BLOB)
_SPACES = re.compile(r"[ \t\r\n]+")


def decode_words(raw: bytes) -> str:
    """``raw`` with its RFC 2047 encoded words decoded; other octets read as UTF-8.

    An encoded word whose encoding is broken stays as sent; one in an unknown
    charset is read as UTF-8; octets that are not UTF-8 become U+FFFD.
    """
    raw = _BETWEEN_WORDS.sub(b"", raw)
    out: list[str] = []
    position = 0
    for found in _ENCODED_WORD.finditer(raw):
        out.append(raw[position : found.start()].decode("utf-8", "replace"))
        out.append(_decoded_word(found))
        position = found.end()
    out.append(raw[position:].decode("utf-8", "replace"))
    return "".join(out)


def _decoded_word(found: re.Match[bytes]) -> str:
    charset = found.group(1).decode("ascii", "replace")
    text = found.group(3)
    try:
        if found.group(2) in b"bB":
            data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
        else:  # RFC 2047 §4.2: "_" is a space, "=XX" an octet
            data = _Q_HEX.sub(
                lambda m: bytes.fromhex(m.group(1).decode()), text.replace(b"_", b" ")
            )
    except (binascii.Error, ValueError):
        return found.group().decode("utf-8", "replace")
    try:
        return data.decode(charset, "replace")
    except LookupError:  # an unknown charset: the octets as UTF-8, as Dovecot reads them
        return data.decode("utf-8", "replace")


def casemap(text: str) -> bytes:
    """The sort key of i;unicode-casemap (RFC 5051 §2), the comparator of I18NLEVEL=1
    (RFC 5255 §4.5), which SORT and THREAD must collate by (RFC 5256 §1): each
    character titlecased and fully decomposed, compared as UTF-8 octets. On ASCII
    it orders as i;ascii-casemap (RFC 4790 §9.2) does."""
    return "".join(map(_titlecase_decomposed, text)).encode("utf-8")


@functools.lru_cache(maxsize=4096)
def _titlecase_decomposed(char: str) -> str:
    # RFC 5051 §2 steps 2-3 on UnicodeData.txt: the simple titlecase mapping (a
    # character whose only mapping is a longer SpecialCasing one keeps itself),
    # then the decomposition mapping, of any kind, recursively.
    title = char.title()
    if len(title) != 1:
        title = char
    fields = unicodedata.decomposition(title).split()
    codes = [f for f in fields if not f.startswith("<")]
    if not codes:
        return title
    return "".join(_titlecase_decomposed(chr(int(code, 16))) for code in codes)


@dataclass(frozen=True, slots=True)
class BaseSubject:
    text: str
    reply_or_forward: bool


def base_subject(subject: str) -> BaseSubject:
    """The base subject of a decoded subject (RFC 5256 §2.1, steps 1-6)."""
    # (1) every run of tabs, continuations and spaces becomes one space.
    text = _SPACES.sub(" ", subject)
    refwd = False
    while True:
        # (2) remove trailing subj-trailer: "(fwd)" / WSP, as often as it matches.
        while True:
            if text.endswith(" "):
                text = text[:-1]
            elif text[-5:].lower() == "(fwd)":
                text = text[:-5]
                refwd = True
            else:
                break
        # (3)-(5) remove subj-leader and a leading subj-blob until neither matches.
        while True:
            if text.startswith(" "):
                text = text[1:]
                continue
            leader = _LEADER.match(text)
            if leader is not None:
                text = text[leader.end() :]
                refwd = True
                continue
            blob = _LEADING_BLOB.match(text)
            # (4) only when what remains is a non-empty subj-base.
            if blob is not None and text[blob.end() :].strip(" "):
                text = text[blob.end() :]
                continue
            break
        # (6) "[fwd:" ... "]" is removed and the algorithm goes back to step 2.
        if text[:5].lower() == "[fwd:" and text.endswith("]"):
            text = text[5:-1]
            continue
        return BaseSubject(text, refwd)
