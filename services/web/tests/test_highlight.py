"""Marking a search's words in the result list (webmail.highlight): pure logic."""

from __future__ import annotations

import pytest
from markupsafe import escape

from webmail.highlight import highlight, search_marks


@pytest.mark.parametrize(
    ("query", "text", "marked"),
    [
        ("invoice", "Your invoices, invoiced", "Your <mark>invoices</mark>, <mark>invoiced</mark>"),
        ("invoices", "One invoice", "One <mark>invoice</mark>"),  # "invoic" marks as a prefix
        ("INVOICE", "invoice", "<mark>invoice</mark>"),
        ("at", "at the atrium", "<mark>at</mark> the atrium"),  # short: whole words only
        ("voice", "invoice", "invoice"),  # a word's start only
        ("日本語", "これは日本語のメール", "これは<mark>日本語</mark>のメール"),
        ("report 請求書", "請求書 report", "<mark>請求書</mark> <mark>report</mark>"),
        ("-spam eggs", "spam and eggs", "spam and <mark>eggs</mark>"),
        ("from:dave lunch", "dave lunch", "dave <mark>lunch</mark>"),
        ("filename:report has:attachment", "report", "report"),
        ('"big news" or other', "Big news", "<mark>Big</mark> <mark>news</mark>"),
        ("", "anything", "anything"),
    ],
)
def test_words_typed_mark_the_words_they_begin(query: str, text: str, marked: str) -> None:
    assert highlight(text, search_marks(query).anywhere) == marked


def test_subject_terms_mark_only_subjects() -> None:
    marks = search_marks("subject:port")

    assert highlight("Airport", marks.subject) == "Air<mark>port</mark>"
    assert highlight("Airport", marks.anywhere) == "Airport"


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("script", "<script>alert(1)</script>"),
        ("lt", "&lt;script&gt; lt"),  # an entity in the text is never split
        ("amp", "a &amp; b"),
        ("img onerror", '"><img src=x onerror=alert(1)>'),
        ("subject:<scr", "<script>"),
        ("subject:&", "a & b"),
        ("mark", "<mark>not ours</mark>"),
        ("quot", "\" ' &quot;"),
    ],
)
def test_hostile_text_is_escaped_before_it_is_marked(query: str, text: str) -> None:
    marked = highlight(text, search_marks(query).subject)

    assert "<mark>" in marked
    assert marked.replace("<mark>", "").replace("</mark>", "") == escape(text)
    assert "<" not in marked.replace("<mark>", "").replace("</mark>", "")
