"""Reply and Forward (issue 15, "Writing mail"): an HTML-only message quoted as text, the
compose page's title and the field it opens in, the signature once."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from webmail.compose_page import compose_focus, compose_title
from webmail.htmltext import MAX_DEPTH, MAX_HTML, html_to_text

Client = TestClient[web.Request, web.Application]

NEWSLETTER = (
    "<html><head><title>Hidden title</title><style>p { color: red }</style></head><body>"
    "<p>Hello <b>Ann</b>,</p><p>Line one<br>Line two</p>"
    "<ul><li>apples</li><li>pears<ol><li>green</li><li>red</li></ol></li></ul>"
    '<p>See <a href="https://shop.test/offer">our offer</a> or write to '
    '<a href="mailto:team@shop.test">team@shop.test</a>.</p>'
    "<blockquote><p>Earlier words</p></blockquote>"
    "<script>alert(1)</script><p>Bye&nbsp;&amp; thanks</p></body></html>"
)


def test_html_becomes_paragraphs_lines_lists_quotes_and_links() -> None:
    assert html_to_text(NEWSLETTER) == (
        "Hello Ann,\n\nLine one\nLine two\n\n- apples\n- pears\n  1. green\n  2. red\n\n"
        "See our offer <https://shop.test/offer> or write to team@shop.test.\n\n"
        "> Earlier words\n\nBye & thanks"
    )


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("", ""),
        ('<img src="https://t.test/p.gif">', ""),
        ('<img alt="Logo" src="cid:x">', "Logo"),
        ("<div>Hi</div><div><br></div><div><br></div><div>Bye</div>", "Hi\n\nBye"),
        ("<pre>a  b\n  c</pre>", "a  b\n  c"),
        ("<table><tr><td>A</td><td>B</td></tr><tr><td>C</td><td>D</td></tr></table>",
         "A  B\nC  D"),
        ('<a href="javascript:alert(1)">click</a>', "click"),
        ('<a href="https://x.test/">https://x.test</a>', "https://x.test"),
        ("<p>unclosed <b>bold", "unclosed bold"),
        ("<blockquote><blockquote>deep</blockquote>mid</blockquote>", ">> deep\n>\n> mid"),
    ],
)  # fmt: skip
def test_html_to_text_cases(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_a_huge_or_deeply_nested_body_is_quoted_in_part() -> None:
    paragraphs = html_to_text("<p>word</p>" * 100_000)
    lists = html_to_text("<ul><li>x" * 500)

    assert paragraphs.endswith("word\n[…]")
    assert len(paragraphs) < MAX_HTML
    # The indent stops at MAX_DEPTH levels: the text grows with the depth, not its square.
    assert max(len(line) for line in lists.split("\n")) == 2 * (MAX_DEPTH - 1) + len("- x")


@pytest.mark.parametrize(
    ("values", "title"),
    [({}, "New message"), ({"source_flag": "answered"}, "Reply"),
     ({"source_flag": "forwarded"}, "Forward"), ({"source_flag": "<b>"}, "New message")],
)  # fmt: skip
def test_the_compose_title_says_what_is_written(values: dict[str, str], title: str) -> None:
    assert compose_title(values) == title


@pytest.mark.parametrize(
    ("values", "errors", "focus"),
    [
        ({}, {}, "to"),
        ({"to": "  "}, {}, "to"),
        ({"to": "a@x.test"}, {}, "subject"),
        ({"to": "a@x.test", "subject": "Re: hi"}, {}, "body"),
        ({"to": "", "subject": "Fwd: hi"}, {}, "to"),
        ({"to": "a@x.test", "subject": "s"}, {"cc": "Not an address: x"}, "cc"),
        ({"to": "a@x.test", "subject": "s"}, {"body": "x", "to": "y"}, "to"),
        ({"to": "a@x.test"}, {"form": "The form expired."}, "subject"),
    ],
)
def test_the_compose_page_opens_in_the_first_field_to_fill(
    values: dict[str, str], errors: dict[str, str], focus: str
) -> None:
    assert compose_focus(values, errors) == focus


def body(page: str) -> str:
    """The compose page's message box, as the browser shows it."""
    found = re.search(r'<textarea id="body"[^>]*>\n(.*?)</textarea>', page, re.S)
    assert found is not None, "no message box"
    return html.unescape(found.group(1))


def autofocused(page: str) -> list[str]:
    return re.findall(r'<(?:input|textarea) id="(\w+)"[^>]* autofocus', page)


async def test_reply_and_forward_of_an_html_only_message_quote_its_text(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    raw = (
        f"From: Shop <shop@localpost.test>\r\nTo: {address}\r\nSubject: Offer\r\n"
        "Date: Mon, 01 Jul 2024 23:30:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/html; charset=utf-8\r\n\r\n{NEWSLETTER}\r\n"
    ).encode()
    await deliver(raw, rcpt_to=[address])
    await h.login(client, address)
    entry = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]

    reply = await (await client.get(f"/compose?reply={entry}")).text()
    forward = await (await client.get(f"/compose?forward={entry}")).text()

    assert body(reply) == (
        "\n\nOn 2024-07-01 23:30 UTC, Shop <shop@localpost.test> wrote:\n> Hello Ann,\n>\n"
        "> Line one\n> Line two\n>\n> - apples\n> - pears\n>   1. green\n>   2. red\n>\n"
        "> See our offer <https://shop.test/offer> or write to team@shop.test.\n>\n"
        ">> Earlier words\n>\n> Bye & thanks\n"
    )
    assert "Subject: Offer\nTo: " in body(forward)
    assert "\n\nHello Ann,\n\nLine one\nLine two\n\n- apples\n" in body(forward)
    assert "Reply · Localpost</title>" in reply
    assert "<h1>Reply</h1>" in reply
    assert "Forward · Localpost</title>" in forward
    assert autofocused(reply) == ["body"]
    assert autofocused(forward) == ["to"]


async def test_a_new_message_opens_in_to_or_with_to_given_in_subject(
    client: Client, h: Any
) -> None:
    address = await h.register(client)
    await h.login(client, address)

    new = await (await client.get("/compose")).text()
    addressed = await (await client.get(f"/compose?to={address}")).text()

    assert "<title>New message · Localpost</title>" in new
    assert "<h1>New message</h1>" in new
    assert autofocused(new) == ["to"]
    assert autofocused(addressed) == ["subject"]


async def test_a_refused_send_opens_in_the_field_with_the_error(client: Client, h: Any) -> None:
    address = await h.register(client)
    await h.login(client, address)
    token = await h.csrf_token(client, "/compose")
    form = {"csrf_token": token, "to": address, "cc": "not an address", "subject": "s",
            "body": "b", "source_flag": "answered"}  # fmt: skip

    response = await client.post("/compose", data=form)
    page = await response.text()

    assert response.status == 422
    assert autofocused(page) == ["cc"]
    assert "Reply · Localpost</title>" in page


async def test_a_reply_has_the_signature_once_above_the_quote_dated_in_the_readers_zone(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(
        b"From: Ann <ann@localpost.test>\r\nSubject: hi\r\nDate: Mon, 01 Jul 2024 23:30:00 "
        b"+0000\r\n\r\nhello\r\n",
        rcpt_to=[address],
    )
    await h.login(client, address)
    token = await h.csrf_token(client, "/settings")
    profile = {"csrf_token": token, "name": "Zoe", "signature": "Zoe\r\nLocalpost team",
               "time_zone": "America/New_York"}  # fmt: skip
    await client.post("/settings/profile", data=profile)
    entry = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]

    reply = await (await client.get(f"/compose?reply={entry}")).text()

    assert body(reply) == (
        "\n\n-- \nZoe\nLocalpost team\n\n\nOn 2024-07-01 19:30 EDT, "
        "Ann <ann@localpost.test> wrote:\n> hello\n"
    )
