"""The public XSS corpus (../shared/security/xss_corpus.json: DOMPurify's and Roundcube's
test vectors, cure53's HTML5 Security Cheatsheet, PayloadsAllTheThings' intruder lists)
through the HTML sanitiser: nothing script-capable may come out. Beside test_xss.py's
own table, as a regression guard; tests/integration/test_xss_browser.py renders the same
corpus in Chromium. A user's clone has no ../shared: the tests then skip, saying where
they looked. The corpus is read where it lies, never copied into the project."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from webmail.bodies import sanitize

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "security" / "xss_corpus.json"


def _corpus() -> dict[str, Any]:
    if not CORPUS.is_file():
        return {"vectors": [], "attachment_files": []}
    data: dict[str, Any] = json.loads(CORPUS.read_text("utf-8"))
    return data


_DATA = _corpus()
# Per source file, its vectors' payloads; the attachment files (CSS, SVG, XML, HTML...)
# are HTML to the sanitiser too, as a hostile sender would make them.
SOURCES: dict[str, list[str]] = {}
for _vector in _DATA["vectors"]:
    SOURCES.setdefault(_vector["source"], []).append(_vector["payload"])
for _file in _DATA["attachment_files"]:
    SOURCES.setdefault("attachment files", []).append(_file["data"])

# Never in sanitised mail, whatever their attributes.
_FORBIDDEN = frozenset(
    {"script", "style", "form", "iframe", "frame", "frameset", "object", "embed", "applet",
     "base", "meta", "link", "svg", "math", "template", "noscript", "input", "button",
     "textarea", "select", "portal", "xmp", "plaintext", "noembed", "isindex"}
)  # fmt: skip
_SCRIPT_URL = re.compile(r"(javascript|vbscript|livescript|data):", re.IGNORECASE)
_DANGEROUS_CSS = re.compile(r"expression|url\s*\(|javascript:|@import|behavior|-moz-binding", re.I)
# What a browser ignores in a URL (WHATWG URL: C0 controls and space at the ends, tab and
# newline anywhere), so that "java\tscript:" is caught as the javascript: it is, and
# "java\x03script:" (a relative URL to a browser) is not.
_URL_ENDS = "".join(chr(c) for c in range(0x21))
_URL_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
     "srcset", "lowsrc", "dynsrc", "codebase", "cite", "ping", "manifest", "longdesc"}
)  # fmt: skip
ATTACHMENT_URL = re.compile(r"/messages/1/attachments/\d+")


class _Check(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        where = f"<{tag} {attrs}>"[:300]
        if tag in _FORBIDDEN:
            self.problems.append(f"forbidden element {where}")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"event handler {where}")
            if name in ("srcdoc", "formaction", "http-equiv"):
                self.problems.append(f"{name} {where}")
            if name in _URL_ATTRIBUTES:
                url = _URL_TAB_NEWLINE.sub("", value.strip(_URL_ENDS))
                # The only images allowed: remote ones (blocked until asked) and our
                # attachment route for cid: parts. No data: image either.
                if _SCRIPT_URL.match(url):
                    self.problems.append(f"script-capable URL in {name}: {where}")
            if name == "style" and _DANGEROUS_CSS.search(value):
                self.problems.append(f"dangerous CSS {where}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def problems_in(html: str) -> list[str]:
    check = _Check()
    try:
        check.feed(html)
        check.close()
    except AssertionError:  # _markupbase on "<![" that is no declaration
        check.problems.append("markup the parser cannot read")
    problems = check.problems
    # Raw checks behind the parser's view: nh3 escapes "<" in text and attributes, so
    # these strings can only be markup the parser missed.
    for pattern in (r"<script", r"<style", r"<iframe", r"<object", r"<embed", r"<base\b",
                    r"<meta\b", r"<form\b", r"<svg\b", r"<math\b"):  # fmt: skip
        if re.search(pattern, html, re.IGNORECASE):
            problems.append(f"raw {pattern}")
    return problems


def clean(payload: str, *, remote_images: bool) -> str:
    attachments = [{"index": 0, "content_id": "<x>"}, {"index": 1, "content_id": "pic"}]
    return sanitize(
        payload,
        attachments=attachments,
        attachment_url=lambda n: f"/messages/1/attachments/{n}",
        remote_images=remote_images,
    ).html


@pytest.mark.skipif(not SOURCES, reason=f"no XSS corpus at {CORPUS}")
@pytest.mark.parametrize("source", sorted(SOURCES) or ["none"])
def test_the_public_xss_corpus_leaves_nothing_script_capable(source: str) -> None:
    payloads = SOURCES[source]
    found = []
    for payload in payloads:
        for remote_images in (False, True):
            html = clean(payload, remote_images=remote_images)
            if problems := problems_in(html):
                found.append(f"{payload[:120]!r}\n  -> {html[:200]!r}\n  {problems}")

    assert payloads
    assert found == [], "\n".join(found)


@pytest.mark.skipif(not SOURCES, reason=f"no XSS corpus at {CORPUS}")
def test_the_corpus_is_what_these_tests_expect() -> None:
    # Not vacuous: the corpus has its thousands of vectors, and the check catches them raw.
    vectors = _DATA["vectors"]
    assert len(vectors) > 1000
    assert all(isinstance(v["payload"], str) for v in vectors)
    caught = sum(bool(problems_in(v["payload"])) for v in vectors)
    assert caught > len(vectors) // 2
