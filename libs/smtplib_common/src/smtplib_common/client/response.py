"""SMTP replies as the client sees them: parsing, enhanced codes, EHLO keywords.

Pure functions only; :mod:`.connection` feeds them lines read from the socket.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from smtplib_common.errors import SMTPMalformedReply

__all__ = [
    "MAX_REPLY_LINE",
    "MAX_REPLY_LINES",
    "Response",
    "parse_ehlo",
    "parse_reply",
    "parse_reply_line",
]

# RFC 5321 §4.5.3.1.5 caps a reply line at 512 octets with its CRLF, but §4.5.3.1
# asks us to be liberal: real servers send longer EHLO and 554 lines. We read up
# to 8 KiB per line so a hostile or broken peer cannot make us buffer without end.
MAX_REPLY_LINE = 8192
# No RFC bound on the number of lines in one reply; EHLO answers run to ~30.
MAX_REPLY_LINES = 512

# RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39, then "-" (more lines
# follow) or SP / end of line (last line).
_LINE = re.compile(rb"([2-5][0-5][0-9])([- ]?)(.*)", re.DOTALL)
# RFC 3463 §2: class "." subject "." detail; subject and detail have 1-3 digits
# and no leading zero.
_STATUS = re.compile(r"([245])\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})")
# RFC 5321 §4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


@dataclass(frozen=True, slots=True)
class Response:
    """One complete reply: code, RFC 3463 enhanced status (if any) and text lines.

    ``lines`` holds the text of each reply line with the code, the separator and
    the enhanced status removed; :attr:`text` joins them with ``\\n``.
    """

    code: int
    lines: tuple[str, ...] = ("",)
    status: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def is_positive(self) -> bool:
        """2xx: positive completion (RFC 5321 §4.2.1)."""
        return 200 <= self.code < 300

    @property
    def is_intermediate(self) -> bool:
        """3xx: positive intermediate, the server waits for more (354, 334)."""
        return 300 <= self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return self.code >= 500

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status else ""
        return f"{self.code} {prefix}{self.text}".rstrip()


def parse_reply_line(line: bytes) -> tuple[int, bool, str]:
    """Split one reply line into ``(code, is_last, text)``.

    The line may still carry its CRLF. A bare LF is tolerated (RFC 5321
    §4.5.3.1: be liberal in what you accept); anything else that is not
    ``ddd``, ``ddd text`` or ``ddd-text`` raises :class:`SMTPMalformedReply`.
    """
    body = line.removesuffix(b"\n").removesuffix(b"\r")
    match = _LINE.fullmatch(body)
    if match is None or (match[2] == b"" and match[3] != b""):
        raise SMTPMalformedReply("malformed reply line", line=line)
    if b"\r" in body or b"\n" in body or b"\0" in body:
        raise SMTPMalformedReply("control character in reply line", line=line)
    # RFC 6531 §3.7.4.2 lets an SMTPUTF8 server send UTF-8 text; anything else
    # is shown, not trusted, so undecodable octets become U+FFFD.
    text = match[3].decode("utf-8", errors="replace")
    return int(match[1]), match[2] != b"-", text


def _split_status(code: int, text: str) -> tuple[str | None, str]:
    # RFC 3463 §2 / RFC 2034 §4: the enhanced code's class repeats the reply's
    # first digit. A leading "5.1.1" on a 250 line is therefore just text.
    head, _, rest = text.partition(" ")
    match = _STATUS.fullmatch(head)
    if match is None or int(match[1]) != code // 100:
        return None, text
    return head, rest


def build_response(code: int, texts: Iterable[str]) -> Response:
    """A :class:`Response` from the texts of its lines, enhanced status lifted out."""
    texts = list(texts) or [""]
    status, first = _split_status(code, texts[0])
    if status is None:
        return Response(code, tuple(texts), None)
    # RFC 2034 §4 puts the code on every line of a multi-line reply; strip it
    # only where it repeats, so other text survives untouched.
    lines = [first]
    for text in texts[1:]:
        head, _, rest = text.partition(" ")
        lines.append(rest if head == status else text)
    return Response(code, tuple(lines), status)


def parse_reply(data: bytes) -> Response:
    """Parse a complete reply (one or more CRLF-terminated lines).

    Raises :class:`SMTPMalformedReply` for bad syntax, a code that changes
    between lines, a missing final line, or data after the final line.
    """
    raw_lines = data.splitlines(keepends=True)
    if not raw_lines:
        raise SMTPMalformedReply("empty reply", line=data)
    code: int | None = None
    texts: list[str] = []
    for index, raw in enumerate(raw_lines):
        line_code, last, text = parse_reply_line(raw)
        if code is not None and line_code != code:
            raise SMTPMalformedReply("reply code changed within a reply", line=raw)
        code = line_code
        texts.append(text)
        if last != (index == len(raw_lines) - 1):
            raise SMTPMalformedReply("reply continues after its last line", line=raw)
    assert code is not None
    return build_response(code, texts)


def parse_ehlo(response: Response) -> dict[str, str]:
    """The extensions of a 250 EHLO reply: upper-cased keyword -> parameters.

    The first line is the server's greeting (RFC 5321 §4.1.1.1) and is skipped.
    Blank lines (Postfix's smtp-sink ends with ``250 ``) and lines that are not
    an ehlo-keyword are ignored rather than failing the session. The
    pre-standard ``AUTH=LOGIN PLAIN`` form (old Microsoft servers) is folded
    into ``AUTH`` so mechanism selection sees it.
    """
    extensions: dict[str, str] = {}
    for line in response.lines[1:]:
        keyword, _, params = line.strip().partition(" ")
        if "=" in keyword:
            keyword, _, first = keyword.partition("=")
            params = f"{first} {params}".strip()
        if not _KEYWORD.fullmatch(keyword):
            continue
        name = keyword.upper()
        if name in extensions:
            # Announced twice (AUTH and AUTH=): merge, keeping each parameter once.
            merged = f"{extensions[name]} {params}".split()
            params = " ".join(dict.fromkeys(merged))
        extensions[name] = params.strip()
    return extensions


def auth_mechanisms(extensions: Mapping[str, str]) -> list[str]:
    """Mechanisms named by the AUTH extension (RFC 4954 §3), upper-cased, in order."""
    return [m.upper() for m in extensions.get("AUTH", "").split()]
