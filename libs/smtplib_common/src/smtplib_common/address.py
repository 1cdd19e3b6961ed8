"""Envelope addresses and ESMTP parameters: parsing, limits and xtext.

Grammar from RFC 5321 §4.1.2, widened for internationalised addresses by
RFC 6531 §3.3 (UTF-8 in local parts and domains when SMTPUTF8 is in force).
Length limits from RFC 5321 §4.5.3.1, counted in octets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 5321 §4.5.3.1.1-3: the maximum lengths an implementation must accept;
# we also refuse anything longer, because nothing downstream could deliver it.
MAX_LOCAL_PART_OCTETS = 64
MAX_DOMAIN_OCTETS = 255
MAX_PATH_OCTETS = 256

_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
_UTF8 = "\u0080-\U0010ffff"  # RFC 6531 §3.3: UTF8-non-ascii joins atext, qtext and sub-domain

_DOT_STRING = rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*"
_DOT_STRING_UTF8 = rf"[{_ATEXT}{_UTF8}]+(?:\.[{_ATEXT}{_UTF8}]+)*"
# RFC 5321 §4.1.2 qtextSMTP / quoted-pairSMTP
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"'
_QUOTED_UTF8 = rf'"(?:[\x20\x21\x23-\x5b\x5d-\x7e{_UTF8}]|\\[\x20-\x7e])*"'
_SUB_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_SUB_DOMAIN_UTF8 = rf"[A-Za-z0-9{_UTF8}](?:[A-Za-z0-9\-{_UTF8}]*[A-Za-z0-9{_UTF8}])?"
# RFC 5321 §4.1.3: IPv4, "IPv6:..." or a general "tag:content" literal.
_ADDRESS_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]+\]"


def _mailbox_re(local_atom: str, quoted: str, sub_domain: str) -> re.Pattern[str]:
    domain = rf"{sub_domain}(?:\.{sub_domain})*"
    at_domain = rf"@{domain}"
    # A-d-l (source route) is obsolete but must still be accepted and ignored
    # (RFC 5321 §4.1.2 and Appendix C).
    return re.compile(
        rf"(?:{at_domain}(?:,{at_domain})*:)?"
        rf"(?P<local>{local_atom}|{quoted})@(?P<domain>{domain}|{_ADDRESS_LITERAL})"
    )


_MAILBOX = _mailbox_re(_DOT_STRING, _QUOTED, _SUB_DOMAIN)
_MAILBOX_UTF8 = _mailbox_re(_DOT_STRING_UTF8, _QUOTED_UTF8, _SUB_DOMAIN_UTF8)
# RFC 5321 §4.5.1: "postmaster" without a domain is a valid forward-path.
_POSTMASTER = re.compile(r"postmaster", re.IGNORECASE)
_PARAM = re.compile(r"(?P<key>[A-Za-z0-9][A-Za-z0-9\-]*)(?:=(?P<value>[\x21-\x3c\x3e-\x7e]+))?")


class AddressError(ValueError):
    """An envelope address that cannot be accepted; ``reason`` says why."""

    SYNTAX = "syntax"
    TOO_LONG = "too-long"
    NON_ASCII = "non-ascii"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ParameterError(ValueError):
    """A malformed ESMTP parameter list (RFC 5321 §4.1.2 esmtp-param)."""


@dataclass(frozen=True, slots=True)
class Path:
    """A parsed reverse- or forward-path: the mailbox and what followed it."""

    address: str  # "" for the null reverse-path <>
    params: dict[str, str | None]

    @property
    def is_null(self) -> bool:
        return self.address == ""


def split_path(argument: str) -> tuple[str, str]:
    """Split ``<addr> PARAMS`` into the path text (without brackets) and the rest.

    Clients that omit the angle brackets (``MAIL FROM:user@example.org``) are
    common enough among scripts that we accept them, as Postfix does by default.
    """
    argument = argument.lstrip(" ")
    if argument.startswith("<"):
        # A quoted local part may contain '>' (RFC 5321 §4.1.2 qtextSMTP),
        # so find the closing bracket outside quotes.
        in_quotes = escaped = False
        for i, char in enumerate(argument[1:], start=1):
            if escaped:
                escaped = False
            elif char == "\\" and in_quotes:
                escaped = True
            elif char == '"':
                in_quotes = not in_quotes
            elif char == ">" and not in_quotes:
                return argument[1:i], argument[i + 1 :]
        raise AddressError("unterminated path", reason=AddressError.SYNTAX)
    path, _, rest = argument.partition(" ")
    return path, (" " + rest if rest else "")


def parse_mailbox(text: str, *, smtputf8: bool, allow_postmaster: bool = False) -> str:
    """Check one mailbox (without brackets) and return it without any source route."""
    if not text.isascii() and not smtputf8:
        raise AddressError("non-ASCII address without SMTPUTF8", reason=AddressError.NON_ASCII)
    if len(text.encode("utf-8")) + 2 > MAX_PATH_OCTETS:
        raise AddressError("path too long", reason=AddressError.TOO_LONG)
    if allow_postmaster and _POSTMASTER.fullmatch(text):
        return text
    match = (_MAILBOX_UTF8 if smtputf8 else _MAILBOX).fullmatch(text)
    if match is None:
        raise AddressError("malformed mailbox", reason=AddressError.SYNTAX)
    local, domain = match["local"], match["domain"]
    if len(local.encode("utf-8")) > MAX_LOCAL_PART_OCTETS:
        raise AddressError("local part too long", reason=AddressError.TOO_LONG)
    if len(domain.encode("utf-8")) > MAX_DOMAIN_OCTETS:
        raise AddressError("domain too long", reason=AddressError.TOO_LONG)
    return f"{local}@{domain}"


def parse_params(text: str) -> dict[str, str | None]:
    """Parse ``KEY[=VALUE] ...`` into a dict with upper-cased keys.

    RFC 5321 §4.1.2: esmtp-keyword is case-insensitive; a value is 1*(%d33-60 /
    %d62-126). A keyword given twice is a syntax error rather than last-wins.
    """
    params: dict[str, str | None] = {}
    for word in text.split():
        match = _PARAM.fullmatch(word)
        if match is None:
            raise ParameterError(f"malformed parameter {word!r}")
        key = match["key"].upper()
        if key in params:
            raise ParameterError(f"parameter {key} given twice")
        params[key] = match["value"]
    return params


def parse_path(
    argument: str, *, smtputf8: bool, allow_null: bool, allow_postmaster: bool = False
) -> Path:
    """Parse the argument after ``FROM:`` or ``TO:`` into a :class:`Path`."""
    path_text, rest = split_path(argument)
    if rest and not rest.startswith(" "):
        raise AddressError("junk after path", reason=AddressError.SYNTAX)
    params = parse_params(rest)
    if path_text == "":
        if not allow_null:
            raise AddressError("null path not allowed here", reason=AddressError.SYNTAX)
        return Path("", params)
    # SMTPUTF8 may appear in the parameters of this very command (MAIL).
    utf8 = smtputf8 or "SMTPUTF8" in params
    address = parse_mailbox(path_text, smtputf8=utf8, allow_postmaster=allow_postmaster)
    return Path(address, params)


_XTEXT_ESCAPE = re.compile(r"\+([0-9A-F]{2})")


def xtext_decode(value: str) -> str:
    """Decode RFC 3461 §4 xtext (``+2B`` is ``+``), as used by ``AUTH=``."""
    if any(ord(c) < 33 or ord(c) > 126 or c == "=" for c in value):
        raise ParameterError("invalid xtext")
    if re.search(r"\+(?![0-9A-F]{2})", value):
        raise ParameterError("invalid xtext escape")
    # An escape is one octet, not one character: xtext_encode writes a
    # non-ASCII character as its UTF-8 octets, so decode them back as UTF-8
    # (chr() per escape would turn "ö" into "Ã¶").
    octets = _XTEXT_ESCAPE.sub(lambda m: chr(int(m[1], 16)), value).encode("latin-1")
    try:
        return octets.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParameterError("xtext is not UTF-8") from exc


def xtext_encode(value: str) -> str:
    """Encode a string as RFC 3461 §4 xtext."""
    return "".join(
        c if 33 <= ord(c) <= 126 and c not in "+=" else "".join(f"+{b:02X}" for b in c.encode())
        for c in value
    )
