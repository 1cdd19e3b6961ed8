"""An HTML body as plain text, for the quote of a reply or a forward: paragraphs, line
breaks, lists, quotes and links ("text <url>") kept, everything else dropped.

The HTML goes through the same sanitiser as the one shown (webmail.bodies), so that what
is quoted is what the reader saw: no script, style or hidden head text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from webmail.bodies import sanitize

# Elements that start and end a paragraph of their own.
BLOCKS = frozenset({
    "address", "article", "aside", "center", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main",
    "nav", "ol", "p", "pre", "section", "table", "ul",
})  # fmt: skip
# Elements that end a line but not a paragraph.
LINES = frozenset({"br", "tr", "caption"})
_SPACES = re.compile(r"[ \t\r\n\f]+")
_LINK_SCHEMES = ("http://", "https://", "mailto:")
# Hostile mail nests lists or quotes thousands deep: the prefix of each line stops
# growing here, or the text would grow with the square of the depth.
MAX_DEPTH = 10


# The sanitised HTML quoted at most: html.parser reads about 1 MB a second, and a quote
# of more than this is no reply anyone writes under.
MAX_HTML = 256 * 1024
CUT = "[…]"


def html_to_text(html: str) -> str:
    """``html`` (a message's HTML body) as plain text; "" when it shows no text."""
    clean = sanitize(html, attachments=(), attachment_url=str, remote_images=False).html
    parser = _Text()
    parser.feed(clean[:MAX_HTML])
    parser.close()
    text = parser.result()
    return f"{text}\n{CUT}" if len(clean) > MAX_HTML else text


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[str] = []
        self._line: list[str] = []
        self._quotes = 0  # blockquote depth: one ">" per level
        self._last_quotes = 0  # that of the last line written
        self._gap = False  # a paragraph ended: a blank line before the next text
        self._pre = 0
        self._lists: list[list[int]] = []  # one per open list: [next number], or [] for ul
        self._links: list[tuple[str, int]] = []  # (href, where its text starts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("ul", "ol") and self._lists:  # a list in a list item: its lines
            self._end_line()
        elif tag in BLOCKS or tag == "blockquote":
            self._paragraph()
        elif tag in LINES or tag == "li":
            self._end_line(empty=tag == "br")
        if tag == "blockquote":
            self._quotes += 1
        elif tag == "pre":
            self._pre += 1
        elif tag in ("ul", "ol"):
            self._lists.append([1] if tag == "ol" else [])
        elif tag == "li":
            self._item()
        elif tag in ("td", "th") and self._line:
            self._line.append("  ")
        elif tag == "a":
            self._links.append((dict(attrs).get("href") or "", len(self._line)))
        elif tag == "img" and (alt := (dict(attrs).get("alt") or "").strip()):
            self._text(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._links:
            self._end_link(*self._links.pop())
        elif tag in ("ul", "ol") and self._lists:
            self._lists.pop()
            if self._lists:
                self._end_line()
                return
        elif tag == "pre" and self._pre:
            self._pre -= 1
        if tag == "blockquote":
            self._end_line()
            self._quotes = max(self._quotes - 1, 0)
        if tag in BLOCKS or tag == "blockquote":
            self._paragraph()

    def handle_data(self, data: str) -> None:
        if self._pre:
            first, *rest = data.replace("\r\n", "\n").split("\n")
            self._line.append(first)
            for line in rest:
                self._end_line()
                self._line.append(line)
        else:
            self._text(data)

    def _text(self, data: str) -> None:
        text = _SPACES.sub(" ", data.replace("\xa0", " "))
        if not "".join(self._line).strip() or "".join(self._line).endswith(" "):
            text = text.lstrip(" ")
        if text:
            self._line.append(text)

    def _item(self) -> None:
        depth = min(max(len(self._lists), 1), MAX_DEPTH)
        numbers = self._lists[-1] if self._lists else []
        marker = f"{numbers[0]}. " if numbers else "- "
        if numbers:
            numbers[0] += 1
        self._line.append("  " * (depth - 1) + marker)

    def _end_link(self, href: str, start: int) -> None:
        text = "".join(self._line[start:]).strip()
        href = href.strip()
        if not href.lower().startswith(_LINK_SCHEMES):
            return
        shown = href[len("mailto:") :] if href.lower().startswith("mailto:") else href
        if shown not in (text, text.rstrip("/"), f"{text}/"):
            self._line.append(f" <{shown}>")

    def _end_line(self, *, empty: bool = False) -> None:
        """End the line; an empty one only for a <br> (``empty``)."""
        text = "".join(self._line).rstrip()
        self._line = []
        if not text.strip() and not empty:
            return
        if self._gap and self._lines:
            # The blank line between paragraphs, quoted as deep as both sides are.
            self._lines.append(">" * min(self._quotes, self._last_quotes, MAX_DEPTH))
        self._gap = False
        # ">> text", as mail programs quote (RFC 3676 §4.5).
        quote = ">" * min(self._quotes, MAX_DEPTH) + " " if self._quotes else ""
        self._lines.append((quote + text).rstrip())
        self._last_quotes = self._quotes

    def _paragraph(self) -> None:
        self._end_line()
        self._gap = True

    def result(self) -> str:
        self._end_line()
        kept: list[str] = []
        for line in self._lines:  # one blank line at most, none at the ends
            if _blank(line) and (not kept or _blank(kept[-1])):
                continue
            kept.append(line)
        while kept and _blank(kept[-1]):
            kept.pop()
        return "\n".join(kept)


def _blank(line: str) -> bool:
    return not line.strip("> ")
