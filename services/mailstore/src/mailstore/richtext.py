"""The formatted text types of mail shown as plain text: text/enriched, text/richtext and
text/markdown.

Mail programs that send them (old NeXT and Andrew mail, Eudora, Mutt with markdown) also
understand nothing richer, so a reader loses little by seeing their text without the
formatting. None of them is ever turned into HTML: the web shows ``text`` as escaped text.
"""

from __future__ import annotations

import re

# The content types whose parts are body text once converted.
RICH_TYPES = frozenset({"text/enriched", "text/richtext", "text/markdown", "text/x-markdown"})

# RFC 1896 §2: "<<" is a literal "<"; any other "<...>" is a formatting command.
_ENRICHED_TOKEN = re.compile(r"<<|<(/?)([^<>]{0,60})>|\r?\n(?:\r?\n)*", re.IGNORECASE)
# RFC 1341 §7.1.3: commands are "<name>" / "</name>" of up to 40 characters.
_RICHTEXT_COMMAND = re.compile(r"<(/?)([A-Za-z0-9-]{1,40})>")


def enriched_to_text(source: str) -> str:
    """text/enriched (RFC 1896) as plain text.

    §2: a single line break is a space and n consecutive ones are n-1 line breaks, except
    inside <nofill>, where they stand as written; <param> carries a command's argument
    (a colour, a font name), not text.
    """
    out: list[str] = []
    nofill = param = 0
    position = 0
    for match in _ENRICHED_TOKEN.finditer(source):
        if not param:
            out.append(source[position : match.start()])
        position = match.end()
        found = match[0]
        if found == "<<":
            if not param:
                out.append("<")
        elif found.startswith("<"):
            step = -1 if match[1] else 1
            command = match[2].strip().lower()
            if command == "nofill":
                nofill = max(0, nofill + step)
            elif command == "param":
                param = max(0, param + step)
        elif not param:
            breaks = found.count("\n")
            out.append("\n" * breaks if nofill else ("\n" * (breaks - 1) if breaks > 1 else " "))
    if not param:
        out.append(source[position:])
    return "".join(out)


def richtext_to_text(source: str) -> str:
    """text/richtext (RFC 1341 §7.1.3) as plain text: line breaks in the source are spaces,
    <nl> is a line break, <np> a new page (a blank line here), <lt> a literal "<"; every
    other command is formatting."""
    flowed = re.sub(r"\r?\n", " ", source)

    def command(match: re.Match[str]) -> str:
        name = match[2].lower()
        if match[1]:
            return ""
        return {"nl": "\n", "np": "\n\n", "lt": "<"}.get(name, "")

    return _RICHTEXT_COMMAND.sub(command, flowed)


def as_text(content_type: str, source: str) -> str:
    """The readable text of a part of one of :data:`RICH_TYPES`."""
    if content_type == "text/enriched":
        return enriched_to_text(source)
    if content_type == "text/richtext":
        return richtext_to_text(source)
    # RFC 7763: markdown is meant to read well as it is; rendering it would make it HTML
    # that no sanitiser has seen.
    return source
