"""Message bodies made safe to show: plain text with links, HTML through nh3.

HTML mail is hostile input. It is sanitised here (nh3, the Ammonia sanitiser: an
allow-list of tags, attributes, URL schemes and CSS properties), then shown in a
sandboxed frame under its own strict CSP (views/mail.py), so that a sanitiser bug
alone still runs no script and loads nothing remote.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import nh3
from markupsafe import Markup, escape

from webmail.nesting import limit_nesting

_URL = re.compile(r"\b(?:https?://|mailto:|www\.)[^\s<>\"']+", re.IGNORECASE)
# Punctuation that ends a sentence rather than the link: "see https://x.test/a."
_TRAILING = ".,;:!?)]}'\""

TAGS = set(nh3.ALLOWED_TAGS) | {"font", "tfoot"}
ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"style", "title", "lang", "dir", "align", "valign", "bgcolor", "width", "height"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "summary", "align", "width", "bgcolor"},
    "td": {"colspan", "rowspan", "align", "valign", "width", "height", "bgcolor", "nowrap"},
    "th": {"colspan", "rowspan", "align", "valign", "width", "height", "bgcolor", "scope"},
    "a": {"href", "hreflang", "name"},
}
# No position, no url() carriers (background-image, content, behavior, -moz-binding),
# no expression(): nh3 drops any property not listed.
STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style",
    "font-weight", "text-align", "text-decoration", "text-transform", "text-indent",
    "line-height", "letter-spacing", "white-space", "vertical-align", "direction",
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border", "border-top", "border-right", "border-bottom", "border-left",
    "border-color", "border-style", "border-width", "border-collapse", "border-spacing",
    "border-radius", "width", "max-width", "min-width", "height", "max-height",
    "min-height", "display", "list-style-type", "table-layout", "word-break",
    "overflow-wrap",
}  # fmt: skip
URL_SCHEMES = {"http", "https", "mailto", "cid"}
# Old IE ran CSS expression(); url() loads remote content; neither has a place in a
# style attribute of ours, whatever property carries it.
_DANGEROUS_STYLE = re.compile(r"expression|url\s*\(|javascript:|behavior|@import|\\", re.I)
_URL_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def linkify(text: str) -> Markup:
    """Plain text as HTML: escaped, with http(s)/mailto links made clickable."""
    out: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        out.append(str(escape(text[position : match.start()])))
        href = url if not url.lower().startswith("www.") else "https://" + url
        out.append(
            f'<a href="{escape(href)}" rel="noopener noreferrer" target="_blank">{escape(url)}</a>'
        )
        position = end
    out.append(str(escape(text[position:])))
    return Markup("".join(out))  # noqa: S704 - every piece was escaped above


@dataclass(slots=True)
class CleanHtml:
    html: str
    # True when the message wants remote images that were left out.
    blocked_images: bool = False
    # The attachments the HTML shows as images (``cid:``): not to be listed again.
    shown_attachments: set[int] = field(default_factory=set)


def _content_id(value: str | None) -> str:
    return (value or "").strip().strip("<>").lower()


def sanitize(
    html: str,
    *,
    attachments: Iterable[dict[str, Any]],
    attachment_url: Callable[[int], str],
    remote_images: bool,
) -> CleanHtml:
    """``html`` through nh3; ``cid:`` images point at our attachment route, remote images
    stay out unless ``remote_images``."""
    by_cid = {
        _content_id(a.get("content_id")): int(a["index"])
        for a in attachments
        if a.get("content_id")
    }
    result = CleanHtml("")

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if tag == "img" and attr == "src":
            lowered = value.strip().lower()
            if lowered.startswith("cid:"):
                index = by_cid.get(_content_id(unquote(value.strip()[4:])))
                if index is None:
                    return None
                result.shown_attachments.add(index)
                return attachment_url(index)
            if lowered.startswith(("http://", "https://")):
                if remote_images:
                    return value
                result.blocked_images = True
                return None
            return None
        if attr == "style" and _DANGEROUS_STYLE.search(value):
            return None
        if attr in ("href", "src") and _URL_CONTROL.search(value):
            # No real link holds a raw control character (it would be percent-encoded);
            # "java\x01script:" is what old parsers read as javascript: (XSS corpora).
            return None
        if attr == "href" and value.strip().lower().startswith("cid:"):
            return None
        return value

    result.html = nh3.clean(
        limit_nesting(html),
        tags=TAGS,
        clean_content_tags={"script", "style", "title", "head", "template", "noscript"},
        attributes=ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes=URL_SCHEMES,
        filter_style_properties=STYLE_PROPERTIES,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    return result


def quote_for_reply(text: str, *, author: str, date: str) -> str:
    """The original, "> "-quoted under an attribution line (RFC 3676 §4.5 style)."""
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    quoted = "\n".join(">" + (" " + line if line and not line.startswith(">") else line)
                       for line in lines)  # fmt: skip
    return f"\n\nOn {date}, {author} wrote:\n{quoted}\n"
