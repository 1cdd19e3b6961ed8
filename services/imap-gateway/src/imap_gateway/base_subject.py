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
import codecs
import re
from dataclasses import dataclass

__all__ = ["BaseSubject", "base_subject", "casemap", "decode_words", "header_text"]

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


def header_text(value: str) -> str:
    """A header value as Python's compat32 parser gives it (8-bit octets as
    surrogate escapes), decoded: octets as UTF-8, then encoded words."""
    raw = value.encode("utf-8", "surrogateescape")
    return decode_words(raw)


def decode_words(raw: bytes) -> str:
    """``raw`` with its RFC 2047 encoded words decoded; other octets read as UTF-8.

    An encoded word with an unknown charset or broken encoding stays as sent.
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
        codecs.lookup(charset)
        if found.group(2) in b"bB":
            data = base64.b64decode(text + b"=" * (-len(text) % 4))
        else:  # RFC 2047 §4.2: "_" is a space, "=XX" an octet
            data = _Q_HEX.sub(
                lambda m: bytes.fromhex(m.group(1).decode()), text.replace(b"_", b" ")
            )
        return data.decode(charset, "replace")
    except (LookupError, binascii.Error, ValueError):
        return found.group().decode("utf-8", "replace")


def casemap(text: str) -> bytes:
    """The sort key of the i;ascii-casemap comparator (RFC 4790 §9.2) on UTF-8 octets:
    a-z compare as A-Z, every other octet as itself."""
    return text.encode("utf-8", "surrogatepass").upper()


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
