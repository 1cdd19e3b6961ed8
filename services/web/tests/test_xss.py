"""Hostile mail never reaches a page as markup: one row per vector from the history of
webmail XSS advisories, each injected into the subject, the From display name, the
plain-text body, the HTML body and an attachment's file name, and checked on every
page that shows it (message page, body frame, folder list, search results, the reply
and forward forms, the API)."""

from __future__ import annotations

import base64
import secrets
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from markupsafe import escape

Client = TestClient[web.Request, web.Application]

POSITIONS = ("subject", "from_name", "text", "html", "filename")

# (id, payload). The payload goes verbatim into each position; a row that only makes
# sense as HTML is still harmless text elsewhere, and must stay text there.
VECTORS = [
    ("script", "<script>alert(1)</script>"),
    ("script-src", '<script src="https://evil.test/x.js"></script>'),
    ("script-split", "<scr<script>ipt>alert(1)</scr</script>ipt>"),
    ("img-onerror", "<img src=x onerror=alert(1)>"),
    ("body-onload", "<body onload=alert(1)>"),
    ("div-onmouseover", '<div onmouseover="alert(1)">hover</div>'),
    ("attr-breakout", '"><img src=x onerror=alert(1)>'),
    ("attr-breakout-single", "'><svg onload=alert(1)>"),
    ("javascript-href", '<a href="javascript:alert(1)">click</a>'),
    ("javascript-tab", '<a href="java&#x09;script:alert(1)">click</a>'),
    ("javascript-entity", '<a href="&#106;avascript:alert(1)">click</a>'),
    ("javascript-newline", '<a href="jav&#x0A;ascript:alert(1)">click</a>'),
    ("javascript-space", '<a href=" javascript:alert(1)">click</a>'),
    # C0 controls inside the scheme, which old parsers skipped (DOMPurify's corpus).
    ("javascript-controls", '<a href="&#1;java&#3;script:alert(1)">click</a>'),
    ("vbscript-href", '<a href="vbscript:msgbox(1)">click</a>'),
    (
        "data-html-href",
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    ),
    ("svg-script", "<svg><script>alert(1)</script></svg>"),
    ("svg-onload", "<svg onload=alert(1)></svg>"),
    ("svg-xlink", '<svg><a xlink:href="javascript:alert(1)"><text x="0" y="20">x</text></a></svg>'),
    ("svg-animate", '<svg><animate attributeName="href" to="javascript:alert(1)"/></svg>'),
    ("math-href", '<math href="javascript:alert(1)"><mi>x</mi></math>'),
    ("math-mxss", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"),
    ("iframe-srcdoc", '<iframe srcdoc="<script>alert(1)</script>"></iframe>'),
    ("iframe-js", '<iframe src="javascript:alert(1)"></iframe>'),
    ("form-action", '<form action="javascript:alert(1)"><button>go</button></form>'),
    ("formaction", '<button formaction="javascript:alert(1)">go</button>'),
    ("meta-refresh", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'),
    ("base-href", '<base href="javascript:/a/"><a href="x">x</a>'),
    ("css-expression", '<div style="width: expression(alert(1))">x</div>'),
    ("css-url-js", '<div style="background:url(javascript:alert(1))">x</div>'),
    ("css-import", '<style>@import "https://evil.test/x.css";</style>'),
    ("css-escaped", '<div style="background:u\\72l(javascript:alert(1))">x</div>'),
    ("object", '<object data="javascript:alert(1)"></object>'),
    ("embed", '<embed src="data:image/svg+xml,<svg onload=alert(1)>">'),
    ("link-import", '<link rel=import href="https://evil.test/x.html">'),
    ("noscript-mxss", '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>'),
    ("title-mxss", "<title><img src=x onerror=alert(1)></title>"),
    ("comment-mxss", "<!--<img src=--><img src=x onerror=alert(1)//>"),
    ("template", "<template><script>alert(1)</script></template>"),
    ("cid-quotes", "<img src='cid:pic\"onerror=\"alert(1)'>"),
    # Plain text that a linkifier could turn into markup.
    ("linkify-quote", 'https://x.test/"onmouseover="alert(1)'),
    ("linkify-single", "www.x.test/'onerror='alert(1)"),
    ("linkify-entity", "https://x.test/&quot;onmouseover=alert(1)//"),
    ("linkify-tag", "https://x.test/?a=<svg/onload=alert(1)>"),
    ("linkify-mailto", 'mailto:a@x.test"onclick="alert(1)'),
    ("escaped-markup", "&lt;script&gt;alert(1)&lt;/script&gt;"),
]

BENIGN_HTML = "<p>Hello <b>there</b></p>"


def hostile_message(to: str, marker: str, position: str, payload: str) -> bytes:
    """A message with ``payload`` in ``position`` and harmless content elsewhere."""
    msg = EmailMessage()
    msg["From"] = "Ann <ann@example.com>"
    msg["To"] = to
    msg["Subject"] = f"{marker} {payload}" if position == "subject" else marker
    msg["Date"] = "Mon, 01 Jan 2024 10:00:00 +0000"
    msg["Message-ID"] = f"<{marker}@example.com>"
    if position == "text":
        msg.set_content(payload)
    elif position == "html":
        # HTML only: the preview in the lists comes from the HTML's text.
        msg.set_content(payload, subtype="html")
        if "cid:" in payload:
            msg.make_mixed()
            picture = EmailMessage()
            picture.set_content(b"\x89PNG\r\n", maintype="image", subtype="png")
            picture["Content-ID"] = '<pic"onerror="alert(1)>'
            picture.add_header("Content-Disposition", "inline")
            msg.attach(picture)
    else:
        msg.set_content("Hello there")
        msg.add_alternative(BENIGN_HTML, subtype="html")
        msg.make_mixed()
        filename = payload if position == "filename" else "notes.txt"
        msg.add_attachment(b"hello", maintype="text", subtype="plain", filename=filename)
    raw = msg.as_bytes(policy=SMTP)
    if position == "from_name":
        # As an RFC 2047 encoded-word, the way hostile senders hide markup from filters
        # (the stdlib's own folding of such names loses their quotes).
        encoded = base64.b64encode(payload.encode()).decode()
        hostile = f"From: =?utf-8?b?{encoded}?= <ann@example.com>".encode()
        raw = raw.replace(b"From: Ann <ann@example.com>", hostile, 1)
    return raw


async def _check_page(client: Client, h: Any, path: str, *, expect: int = 200) -> tuple[str, Any]:
    """The page's text and headers, once the page is found free of executable markup."""
    response = await client.get(path)
    text = await response.text()
    assert response.status == expect, f"{path}: {response.status}\n{text[:500]}"
    nonce = h.csp_nonce(response.headers.get("Content-Security-Policy", ""))
    problems = h.markup_problems(text, nonce=nonce)
    assert not problems, f"{path}: executable markup survived: {problems}"
    return text, response.headers


async def _check_body_frame(client: Client, h: Any, entry: int) -> None:
    for url in (f"/messages/{entry}/body", f"/messages/{entry}/body?images=1"):
        _, headers = await _check_page(client, h, url)
        csp = headers["Content-Security-Policy"]
        assert csp.startswith("default-src 'none';")
        assert "script-src" not in csp
        assert "base-uri 'none'" in csp
        assert "form-action 'none'" in csp
        (sandbox,) = [d.split() for d in csp.split(";") if d.split()[:1] == ["sandbox"]]
        assert "allow-scripts" not in sandbox


@pytest.mark.parametrize("payload", [v for _, v in VECTORS], ids=[k for k, _ in VECTORS])
async def test_hostile_content_never_reaches_a_page_as_markup(
    client: Client, h: Any, deliver: Any, payload: str
) -> None:
    # One message per position, all in one mailbox: the lists show them side by side.
    address = await h.register(client)
    marker = f"xss{secrets.token_hex(6)}"
    for position in POSITIONS:
        raw = hostile_message(address, f"{marker} {position}", position, payload)
        await deliver(raw, rcpt_to=[address])
    await h.login(client, address)

    inbox, _ = await _check_page(client, h, "/mail/inbox")
    found, _ = await _check_page(client, h, f"/search?q={marker}")
    # The marker, and the payload's first characters (subject:, a substring match), marked
    # in the results: each piece escaped on its own, so no <mark> splits a tag or entity.
    start = payload.split()[0]
    marked, _ = await _check_page(client, h, "/search?" + urlencode({"q": f"subject:{start}"}))
    for page in (found, marked):
        assert "<mark>" in page
        assert str(escape(payload)) in page.replace("<mark>", "").replace("</mark>", "")
    listing = await (await client.get("/api/v1/messages?folder=inbox")).json()
    entries = {m["subject"].split()[1]: m["id"] for m in listing["messages"]}
    assert set(entries) == set(POSITIONS)
    shown = str(escape(payload))
    for position, entry in entries.items():
        assert f"/messages/{entry}" in found, f"{position}: the search did not find it"
        page, _ = await _check_page(client, h, f"/messages/{entry}")
        # Replying and forwarding quote the original into form fields.
        await _check_page(client, h, f"/compose?reply_all={entry}")
        await _check_page(client, h, f"/compose?forward={entry}")
        detail = await (await client.get(f"/api/v1/messages/{entry}")).json()
        # Not vacuous: the payload is on the pages, as text.
        if position in ("subject", "from_name"):
            assert shown in page, position
            assert shown in inbox, position
        if position == "filename":
            # The stdlib parser unquotes names (it drops one pair of <>): the page shows
            # the name the mail store kept.
            (attachment,) = detail["attachments"]
            assert str(escape(attachment["filename"])) in page
        # The HTML body: only in its frame, sandboxed without scripts, under a strict CSP.
        if position == "text":
            assert "<iframe" not in page
            await _check_page(client, h, f"/messages/{entry}/body", expect=404)
        else:
            assert page.count("<iframe") == 1, position
            assert 'sandbox="' in page
            await _check_body_frame(client, h, entry)
        if detail["html"] is not None:
            assert not h.markup_problems(detail["html"]), detail["html"]


@pytest.mark.parametrize(
    ("content_type", "filename", "body"),
    [
        ("text/html", "page.html", b"<script>alert(document.cookie)</script>"),
        (
            "image/svg+xml",
            "pic.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        ),
        ("application/xhtml+xml", "x.xhtml", b"<html xmlns='http://www.w3.org/1999/xhtml'>"),
        ("text/plain", "looks-plain.txt", b"<script>alert(1)</script>"),
    ],
)
async def test_active_attachments_are_downloads_that_run_nothing(
    client: Client, h: Any, deliver: Any, content_type: str, filename: str, body: bytes
) -> None:
    address = await h.register(client)
    msg = EmailMessage()
    msg["From"] = "ann@example.com"
    msg["To"] = address
    msg["Subject"] = "active content"
    msg.set_content("see attached")
    maintype, _, subtype = content_type.partition("/")
    msg.add_attachment(body, maintype=maintype, subtype=subtype, filename=filename)
    await deliver(msg.as_bytes(policy=SMTP), rcpt_to=[address])
    await h.login(client, address)
    listing = await (await client.get("/api/v1/messages?folder=inbox")).json()
    entry = listing["messages"][0]["id"]
    detail = await (await client.get(f"/api/v1/messages/{entry}")).json()
    (attachment,) = detail["attachments"]

    response = await client.get(attachment["url"])

    assert response.status == 200
    assert await response.read() == body
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = [d.strip() for d in response.headers["Content-Security-Policy"].split(";")]
    assert "default-src 'none'" in csp
    assert "sandbox" in csp


@pytest.mark.parametrize(
    "markup",
    [
        "<script>alert(1)</script>",
        '<script nonce="wrong" src="/static/app.js"></script>',
        "<img src=x onerror=alert(1)>",
        "<IMG SRC=x OnError=alert(1)>",
        '<a href="java&#x09;script:alert(1)">x</a>',
        '<a href=" JAVASCRIPT:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<form action="javascript:alert(1)"></form>',
        '<form action="https://evil.test/"></form>',
        '<button formaction="/x">x</button>',
        '<meta http-equiv="refresh" content="0">',
        '<base href="https://evil.test/">',
        "<svg><a>x</a></svg>",
        "<math></math>",
        '<iframe srcdoc="x" sandbox></iframe>',
        '<iframe src="/messages/1/body" sandbox="allow-scripts"></iframe>',
        '<iframe src="/messages/1/body"></iframe>',
        '<div style="width:expression(alert(1))"></div>',
        '<div style="background:url(https://evil.test/)"></div>',
        "<style>@import 'https://evil.test/x.css';</style>",
        "<object data=x></object>",
        "<embed src=x>",
        '<link rel="import" href="/x">',
    ],
)
def test_the_markup_check_catches_each_kind_of_vector(h: Any, markup: str) -> None:
    # The suite above is only as good as this check: it must see every kind of vector.
    assert h.markup_problems(markup, nonce="n0nce")


def test_the_markup_check_accepts_our_own_page_furniture(h: Any) -> None:
    page = (
        '<link rel="stylesheet" href="/static/app.css?v=1">'
        '<script nonce="n0nce" src="/static/app.js?v=1" defer></script>'
        '<form method="post" action="/logout"><input name="csrf_token"></form>'
        '<iframe src="/messages/1/body" sandbox="allow-same-origin allow-popups"></iframe>'
        '<a href="https://example.org/" rel="noopener">x</a> &lt;script&gt;'
    )
    assert h.markup_problems(page, nonce="n0nce") == []
