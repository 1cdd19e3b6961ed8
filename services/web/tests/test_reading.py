"""Reading mail as issue 15 asks ("Rendering", "MIME cases"): inline images not listed
twice, dir="auto" on what senders wrote, the plain-text font and its remembered choice,
and the MIME shapes the mail store now takes apart (tests/test_parsing_mime.py there)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]


def related(to: str, *, referenced: bool = True) -> bytes:
    cid = "logo@x" if referenced else "elsewhere@x"
    return (
        f"From: ann@example.com\r\nTo: {to}\r\nSubject: logo\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
        '--m\r\nContent-Type: multipart/related; boundary="r"\r\n\r\n'
        f'--r\r\nContent-Type: text/html\r\n\r\n<p>Logo: <img src="cid:{cid}"></p>\r\n'
        "--r\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
        'Content-Disposition: inline; filename="logo.png"\r\n\r\nPNG\r\n--r--\r\n'
        '--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="r.pdf"'
        "\r\n\r\n%PDF\r\n--m--\r\n"
    ).encode()


def plain(to: str, *, subject: str, sender: str, body: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


async def _only_message(client: Client) -> int:
    listing = await (await client.get("/api/v1/messages?folder=inbox")).json()
    (message,) = listing["messages"]
    return int(message["id"])


def _attachment_names(page: str) -> list[str]:
    section = page.partition('aria-label="Attachments"')[2]
    return re.findall(r"download dir=\"auto\">([^<]*)</a>", section)


async def test_image_the_html_shows_by_cid_is_not_listed_again(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(related(address), rcpt_to=[address])
    await h.login(client, address)
    entry = await _only_message(client)

    page = await (await client.get(f"/messages/{entry}")).text()

    assert _attachment_names(page) == ["r.pdf"]
    body = await (await client.get(f"/messages/{entry}/body")).text()
    assert f'src="/messages/{entry}/attachments/0"' in body


async def test_inline_image_the_html_does_not_show_is_still_listed(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(related(address, referenced=False), rcpt_to=[address])
    await h.login(client, address)
    entry = await _only_message(client)

    page = await (await client.get(f"/messages/{entry}")).text()

    assert _attachment_names(page) == ["logo.png", "r.pdf"]


async def test_subjects_names_and_bodies_are_marked_dir_auto(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    raw = plain(address, subject="שלום", sender="דנה <dana@example.com>", body="טקסט")
    await deliver(raw, rcpt_to=[address])
    await h.login(client, address)
    entry = await _only_message(client)

    listing = await (await client.get("/mail/inbox")).text()
    page = await (await client.get(f"/messages/{entry}")).text()

    assert re.search(r'<a href="/messages/\d+\?back=[^"]*" dir="auto">דנה</a>', listing)
    assert '<span class="subject" dir="auto">שלום</span>' in listing
    assert '<span class="preview" dir="auto">טקסט</span>' in listing
    assert '<h1 dir="auto">שלום</h1>' in page
    assert '<dd><bdi dir="auto">דנה</bdi> &lt;dana@example.com&gt;</dd>' in page
    assert re.search(r'<div class="body-text" dir="auto">טקסט', page)


async def test_html_body_document_is_dir_auto(client: Client, h: Any, deliver: Any) -> None:
    address = await h.register(client)
    await deliver(related(address), rcpt_to=[address])
    await h.login(client, address)
    entry = await _only_message(client)

    body = await (await client.get(f"/messages/{entry}/body")).text()

    assert '<body dir="auto">' in body


async def test_plain_text_is_proportional_until_fixed_width_is_chosen(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(plain(address, subject="s", sender="a@example.com", body="x"), rcpt_to=[address])
    await h.login(client, address)
    entry = await _only_message(client)
    page = await (await client.get(f"/messages/{entry}")).text()
    assert '<div class="body-text" dir="auto">' in page
    assert 'value="fixed" aria-pressed="false">Fixed width</button>' in page
    token = await h.csrf_token(client, f"/messages/{entry}")

    response = await client.post(
        "/preferences/text-font",
        data={"csrf_token": token, "font": "fixed", "next": f"/messages/{entry}"},
        allow_redirects=False,
    )

    assert response.status == 303
    assert response.headers["Location"] == f"/messages/{entry}"
    cookie = response.cookies["lp_text_font"]
    assert (cookie.value, cookie["httponly"], cookie["samesite"]) == ("fixed", True, "Lax")
    page = await (await client.get(f"/messages/{entry}")).text()
    assert '<div class="body-text fixed" dir="auto">' in page
    assert 'value="proportional" aria-pressed="true">Fixed width</button>' in page


async def test_text_font_refuses_other_values_and_foreign_next(client: Client, h: Any) -> None:
    address = await h.register(client)
    await h.login(client, address)
    token = await h.csrf_token(client, "/mail/inbox")

    bad = await client.post(
        "/preferences/text-font", data={"csrf_token": token, "font": "comic-sans"}
    )
    away = await client.post(
        "/preferences/text-font",
        data={"csrf_token": token, "font": "fixed", "next": "//evil.test/x"},
        allow_redirects=False,
    )

    assert bad.status == 422
    assert "lp_text_font" not in bad.cookies
    assert away.headers["Location"] == "/mail/inbox"


async def test_forwarded_message_shows_its_headers_and_text(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    raw = (
        f"From: fwd@example.com\r\nTo: {address}\r\nSubject: Fwd: plan\r\nMIME-Version: 1.0\r\n"
        "Content-Type: message/rfc822\r\n\r\n"
        "From: Ann <ann@example.net>\r\nSubject: plan\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\n"
        "\r\nThe plan is <b>bold</b>.\r\n"
    ).encode()
    await deliver(raw, rcpt_to=[address])
    await h.login(client, address)
    entry = await _only_message(client)

    page = await (await client.get(f"/messages/{entry}")).text()

    assert "From: Ann &lt;ann@example.net&gt;" in page
    assert "Subject: plan" in page
    assert "The plan is &lt;b&gt;bold&lt;/b&gt;." in page
    assert "(This message has no text.)" not in page


async def test_controls_stored_before_the_parser_replaced_them_are_not_shown(
    client: Client, h: Any, pool: Any, deliver: Any
) -> None:
    # Messages stored by the older parser may hold raw controls in subject and names.
    address = await h.register(client)
    await deliver(
        plain(address, subject="s", sender="N <n@example.com>", body="b"), rcpt_to=[address]
    )
    await h.login(client, address)
    entry = await _only_message(client)
    await pool.execute(
        "UPDATE messages SET subject = $1, from_name = $2, preview = $3"
        " WHERE id = (SELECT message_id FROM mailbox_entries WHERE id = $4)",
        "bell\x07 and \x1b[2J",
        "Ev\x85e",
        "pre\x01view",
        entry,
    )

    listing = await (await client.get("/mail/inbox")).text()
    page = await (await client.get(f"/messages/{entry}")).text()
    state = await (await client.get("/live/state")).text()

    for shown in (listing, page):
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", shown)
        assert "bell\ufffd and \ufffd[2J" in shown
        assert "Ev\ufffde" in shown
    assert not re.search(r"\\u00(0[0-8bcef]|1[0-9a-f]|7f|8[0-9a-f]|9[0-9a-f])", state)
    assert "pre\ufffdview" in listing
