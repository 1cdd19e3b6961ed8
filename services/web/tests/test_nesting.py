"""webmail.nesting: HTML nested past MAX_DEPTH loses its deepest tags, not its text,
and real mail is never touched."""

from __future__ import annotations

import email
import email.policy
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmail.bodies import sanitize
from webmail.nesting import MAX_DEPTH, limit_nesting

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "emails"
VOID = {"br", "img", "hr", "input", "meta", "link", "wbr", "col", "area", "source"}


class _Depth(HTMLParser):
    """The deepest stack of container start tags (a strict reading: no implied ends)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.deepest = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in VOID and tag not in {"p", "li", "td", "tr", "th", "dt", "dd", "option"}:
            self.stack.append(tag)
            self.deepest = max(self.deepest, len(self.stack))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass


def depth(html: str) -> int:
    parser = _Depth()
    parser.feed(html)
    return parser.deepest


def clean(html: str) -> str:
    return sanitize(html, attachments=[], attachment_url=str, remote_images=False).html


@pytest.mark.parametrize(
    ("opening", "closing"),
    [("<ul><li>", "</li></ul>"), ("<div>", "</div>"), ("<font color=red>", ""), ("<b><i>", "")],
)
def test_a_tree_20000_deep_is_cut_at_the_limit_and_keeps_its_text(
    opening: str, closing: str
) -> None:
    html = opening * 20_000 + "the words" + closing * 20_000 + "<p>after</p>"

    cut = limit_nesting(html)

    assert depth(cut) <= MAX_DEPTH
    assert "the words" in cut
    assert cut.endswith("<p>after</p>")
    shown = clean(html)
    assert "the words" in shown
    assert "after" in shown


def test_markup_within_the_limit_is_returned_unchanged() -> None:
    html = ("<div><table><tr><td><b>x</b>" * 60 + "</td></tr></table></div>" * 60) * 50
    assert limit_nesting(html) is html


def test_end_tags_close_what_was_opened_inside_them_as_a_parser_does() -> None:
    # </div> closes the unclosed <span>s within it: the depth starts again from there.
    html = ("<div>" + "<span>" * 200 + "</div>") * 3 + "<em>" * 100 + "deep</em>"
    assert limit_nesting(html) is html


@given(st.lists(st.sampled_from(["<div>", "</div>", "<span>", "</span>", "<ul>", "x", "<br>"])))
def test_no_output_is_deeper_than_the_limit(parts: list[str]) -> None:
    html = "".join(parts) * 3
    assert depth(limit_nesting(html, max_depth=8)) <= 8


def _html_parts() -> list[str]:
    if not CORPUS.is_dir():
        return []
    parts = []
    for path in sorted(CORPUS.glob("*/*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for part in message.walk():
            if part.get_content_type() == "text/html":
                try:
                    parts.append(part.get_content())
                except (LookupError, ValueError):
                    continue
    return parts


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no email corpus at {CORPUS.resolve()}")
def test_real_mail_is_never_cut() -> None:
    parts = _html_parts()
    assert parts
    assert [p for p in parts if limit_nesting(p) != p] == []
