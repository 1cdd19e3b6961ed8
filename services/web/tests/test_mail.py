"""Folder lists, the message page and its parts, actions, compose, isolation."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from webmail.views import mail as mail_views

Client = TestClient[web.Request, web.Application]


def mail(
    to: str,
    *,
    subject: str = "Hello",
    body: str = "Hi there",
    sender: str = "Ann <ann@example.com>",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <m1@example.com>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def with_attachment(to: str) -> bytes:
    return (
        f"From: ann@example.com\r\nTo: {to}\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        '<p>See <img src="cid:pic@x"> and <img src="https://tracker.test/p.gif"></p>\r\n'
        "--b\r\nContent-Type: image/png\r\nContent-ID: <pic@x>\r\n"
        'Content-Disposition: inline; filename="pic.png"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        "iVBORw0KGgo=\r\n"
        "--b\r\nContent-Type: text/html\r\n"
        'Content-Disposition: attachment; filename="evil<script>.html"\r\n\r\n'
        "<script>alert(1)</script>\r\n--b--\r\n"
    ).encode()


async def _inbox_ids(client: Client, token: str | None = None) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.get("/api/v1/messages?folder=inbox", headers=headers)
    assert response.status == 200, await response.text()
    return [m["id"] for m in (await response.json())["messages"]]


async def test_inbox_lists_unread_bold_with_count(client: Client, h: Any, deliver: Any) -> None:
    address = await h.register(client)
    await deliver(mail(address, subject="First"), rcpt_to=[address])
    await h.login(client, address)

    text = await (await client.get("/mail/inbox")).text()

    assert "First" in text
    assert 'class="unread"' in text
    assert 'data-unread="inbox">1<' in text


async def test_opening_a_message_marks_it_read_and_links_urls(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(mail(address, body="see https://example.org/x"), rcpt_to=[address])
    await h.login(client, address)
    (entry,) = await _inbox_ids(client)

    page = await (await client.get(f"/messages/{entry}")).text()

    assert '<a href="https://example.org/x"' in page
    listing = await (await client.get("/api/v1/messages?folder=inbox")).json()
    assert listing["messages"][0]["unread"] is False


async def test_html_body_frame_is_sanitised_under_its_own_csp(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(with_attachment(address), rcpt_to=[address])
    await h.login(client, address)
    (entry,) = await _inbox_ids(client)

    page = await client.get(f"/messages/{entry}")
    text = await page.text()
    assert 'sandbox="allow-same-origin allow-popups' in text
    assert "allow-scripts" not in text
    assert "Show images" in text
    body = await client.get(f"/messages/{entry}/body")
    html = await body.text()
    assert body.headers["Content-Security-Policy"].startswith("default-src 'none'; img-src 'self';")
    assert f"/messages/{entry}/attachments/" in html  # cid: mapped
    assert "tracker.test" not in html
    shown = await (await client.get(f"/messages/{entry}/body?images=1")).text()
    assert "tracker.test" in shown


async def test_attachment_download_is_safe(client: Client, h: Any, deliver: Any) -> None:
    address = await h.register(client)
    await deliver(with_attachment(address), rcpt_to=[address])
    await h.login(client, address)
    (entry,) = await _inbox_ids(client)
    msg = await (await client.get(f"/api/v1/messages/{entry}")).json()
    evil = next(a for a in msg["attachments"] if a["filename"].startswith("evil"))

    response = await client.get(f"/messages/{entry}/attachments/{evil['index']}")

    assert response.status == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="evil_script_.html"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    page = await (await client.get(f"/messages/{entry}")).text()
    assert "evil<script>" not in page
    assert "evil&lt;script&gt;.html" in page


async def test_view_source_is_plain_text(client: Client, h: Any, deliver: Any) -> None:
    address = await h.register(client)
    await deliver(mail(address, body="<script>alert(1)</script>"), rcpt_to=[address])
    await h.login(client, address)
    (entry,) = await _inbox_ids(client)

    response = await client.get(f"/messages/{entry}/raw")

    assert response.content_type == "text/plain"
    assert "<script>alert(1)</script>" in await response.text()


async def test_view_source_is_the_stored_bytes_unchanged(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    # Larger than one chunk of the stream, with a byte that is not UTF-8.
    raw = mail(address, body="x" * 200_000) + b"\xff\r\n"
    await deliver(raw, rcpt_to=[address])
    await h.login(client, address)
    (entry,) = await _inbox_ids(client)

    response = await client.get(f"/messages/{entry}/raw")

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert await response.read() == raw


async def test_delete_restore_delete_forever_and_empty_trash(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(mail(address), rcpt_to=[address])
    await deliver(mail(address, subject="two"), rcpt_to=[address])
    await h.login(client, address)
    first, second = await _inbox_ids(client)
    token = await h.csrf_token(client, "/mail/inbox")

    await client.post(f"/messages/{first}/trash", data={"csrf_token": token})
    assert await _inbox_ids(client) == [second]
    await client.post(f"/messages/{first}/restore", data={"csrf_token": token})
    assert set(await _inbox_ids(client)) == {first, second}
    await client.post(
        "/mail/actions",
        data=[
            ("csrf_token", token),
            ("action", "trash"),
            ("ids", str(first)),
            ("ids", str(second)),
        ],
    )
    trash = await (await client.get("/api/v1/messages?folder=trash")).json()
    assert len(trash["messages"]) == 2
    # Deleting forever asks first (webmail.views.trash): the first post changes nothing.
    asked = await client.post(f"/messages/{first}/delete", data={"csrf_token": token})
    await client.post("/mail/trash/empty", data={"csrf_token": token})
    trash = await (await client.get("/api/v1/messages?folder=trash")).json()
    assert "Delete this message forever?" in await asked.text()
    assert len(trash["messages"]) == 2
    confirmed = {"csrf_token": token, "confirmed": "1"}
    await client.post(f"/messages/{first}/delete", data=confirmed)
    await client.post("/mail/trash/empty", data=confirmed)
    trash = await (await client.get("/api/v1/messages?folder=trash")).json()
    assert trash["messages"] == []


async def test_bulk_mark_unread(client: Client, h: Any, deliver: Any) -> None:
    address = await h.register(client)
    await deliver(mail(address), rcpt_to=[address])
    await h.login(client, address)
    (entry,) = await _inbox_ids(client)
    await client.get(f"/messages/{entry}")
    token = await h.csrf_token(client, "/mail/inbox")

    await client.post(
        "/mail/actions", data={"csrf_token": token, "action": "unread", "ids": str(entry)}
    )

    listing = await (await client.get("/api/v1/messages?folder=inbox")).json()
    assert listing["messages"][0]["unread"] is True


async def test_search_page_uses_the_mailstore_filters(client: Client, h: Any, deliver: Any) -> None:
    address = await h.register(client)
    await deliver(mail(address, subject="Quarterly report"), rcpt_to=[address])
    await deliver(mail(address, subject="Lunch"), rcpt_to=[address])
    await h.login(client, address)

    text = await (await client.get("/search?q=subject:quarterly")).text()
    bad = await client.get("/search?q=before:notadate")

    assert "<mark>Quarterly</mark> report" in text
    assert "Lunch" not in text
    assert bad.status == 422


async def test_search_marks_cjk_and_prefixes_and_pages_keep_the_folder(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    for n in range(3):
        await deliver(
            mail(address, subject=f"Invoices {n}", body="これは日本語のメールです"),
            rcpt_to=[address],
        )
    await deliver(mail(address, subject="Lunch"), rcpt_to=[address])
    await h.login(client, address)

    text = await (await client.get("/search", params={"q": "invoice 日本語"})).text()
    inbox_only = await client.get("/search", params={"q": "invoice", "in": "inbox"})
    trash_only = await (await client.get("/search", params={"q": "invoice", "in": "trash"})).text()
    bad_folder = await client.get("/search", params={"q": "invoice", "in": "in:all x"})

    assert text.count("<mark>Invoices</mark>") == 3
    assert text.count("これは<mark>日本語</mark>のメール") == 3
    assert "Lunch" not in text
    assert '<details class="search-help">' in text
    assert "<mark>Invoices</mark>" in await inbox_only.text()
    assert '<option value="inbox" dir="auto" selected>' in await inbox_only.text()
    assert "No messages." in trash_only
    assert bad_folder.status == 422
    assert "Pick a folder from the list." in await bad_folder.text()


async def test_search_pager_links_carry_the_folder(
    client: Client, h: Any, deliver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mail_views, "PAGE_SIZE", 1)
    address = await h.register(client)
    for n in range(2):
        await deliver(mail(address, subject=f"Invoice {n}"), rcpt_to=[address])
    await h.login(client, address)

    text = await (await client.get("/search", params={"q": "invoice", "in": "inbox"})).text()

    assert 'href="/search?q=invoice&amp;in=inbox&amp;cursor=' in text


async def test_compose_sends_as_the_user_through_submission(
    client: Client, h: Any, submission: Any
) -> None:
    handler, _ = submission
    sender = await h.register(client, name="Ann Sender")
    rcpt = await h.register(client)
    await h.login(client, sender)
    token = await h.csrf_token(client, "/compose")

    response = await client.post(
        "/compose",
        data={"csrf_token": token, "to": rcpt, "cc": "", "subject": "Hi", "body": "Hello B"},
        allow_redirects=False,
    )

    assert response.status == 303, await response.text()
    envelope, raw = handler.messages[-1]
    assert envelope.mail_from == sender
    assert envelope.auth_mailbox == sender
    assert envelope.rcpt_tos == [rcpt]
    assert b"Ann Sender" in raw
    sent = await (await client.get("/api/v1/messages?folder=sent")).json()
    assert sent["messages"][0]["subject"] == "Hi"


async def test_bcc_recipients_get_the_message_and_nobody_sees_a_bcc_header(
    client: Client, h: Any, submission: Any
) -> None:
    handler, _ = submission
    sender, rcpt, blind = [await h.register(client) for _ in range(3)]
    await h.login(client, sender)
    token = await h.csrf_token(client, "/compose")

    response = await client.post(
        "/compose",
        data={"csrf_token": token, "to": rcpt, "cc": "", "bcc": blind, "subject": "Hi",
              "body": "Hello"},
        allow_redirects=False,
    )  # fmt: skip

    assert response.status == 303, await response.text()
    envelope, raw = handler.messages[-1]
    assert envelope.rcpt_tos == [rcpt, blind]
    # RFC 5322 §3.6.3: what is transmitted (and so every copy, the Sent one included)
    # carries no Bcc header.
    assert b"\nBcc:" not in raw
    assert blind.encode() not in raw


async def test_a_bad_bcc_entry_is_named_next_to_the_bcc_field_with_input_kept(
    client: Client, h: Any
) -> None:
    sender = await h.register(client)
    await h.login(client, sender)
    token = await h.csrf_token(client, "/compose")

    response = await client.post(
        "/compose",
        data={"csrf_token": token, "to": sender, "bcc": "not an address", "body": "x"},
    )

    assert response.status == 422
    text = await response.text()
    assert 'id="bcc-error">Not an address: not an address<' in text
    assert 'name="bcc" type="text"' in text
    assert 'value="not an address"' in text


async def test_a_recipient_outside_the_domains_is_refused_saying_why(
    client: Client, h: Any, submission: Any
) -> None:
    handler, _ = submission
    sender = await h.register(client)
    await h.login(client, sender)
    token = await h.csrf_token(client, "/compose")

    response = await client.post(
        "/compose",
        data={"csrf_token": token, "to": f"{sender}, friend@example.com", "subject": "Keep me",
              "body": "my text"},
    )  # fmt: skip

    assert response.status == 422
    text = await response.text()
    assert (
        'id="to-error">Localpost delivers only to addresses @localpost.test or @other.test,'
        " not: friend@example.com<"
    ) in text
    assert 'value="Keep me"' in text
    assert handler.messages == []


async def test_unknown_recipient_is_shown_next_to_the_field_with_input_kept(
    client: Client, h: Any
) -> None:
    sender = await h.register(client)
    await h.login(client, sender)
    token = await h.csrf_token(client, "/compose")

    response = await client.post(
        "/compose",
        data={"csrf_token": token, "to": "nobody@localpost.test", "subject": "Keep me",
              "body": "my text"},
    )  # fmt: skip

    assert response.status == 422
    text = await response.text()
    assert 'id="to-error">Unknown recipient: nobody@localpost.test' in text
    assert 'value="Keep me"' in text
    assert "my text" in text


async def test_reply_quotes_and_keeps_threading_headers(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(mail(address, body="original words"), rcpt_to=[address])
    await h.login(client, address)
    (entry,) = await _inbox_ids(client)

    text = await (await client.get(f"/compose?reply={entry}")).text()

    assert "&gt; original words" in text
    assert 'name="in_reply_to" value="&lt;m1@example.com&gt;"' in text
    assert 'value="Re: Hello"' in text


async def test_a_reply_to_a_sender_outside_the_domains_says_so_before_writing(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(mail(address), rcpt_to=[address])
    local = await h.register(client)
    await deliver(mail(address, sender=local), rcpt_to=[address])
    await h.login(client, address)
    outside_one, local_one = sorted(await _inbox_ids(client))

    outside = await (await client.get(f"/compose?reply={outside_one}")).text()
    inside = await (await client.get(f"/compose?reply={local_one}")).text()

    assert 'id="to-error">Localpost delivers only to addresses @localpost.test' in outside
    assert "not: ann@example.com<" in outside
    assert 'id="to-error"' not in inside


async def test_folder_pages_render(client: Client, h: Any) -> None:
    address = await h.register(client)
    await h.login(client, address)
    for path in ("/mail/inbox", "/mail/sent", "/mail/trash", "/compose", "/search"):
        response = await client.get(path)
        assert response.status == 200, path


async def test_a_message_too_large_for_submission_is_shown_next_to_the_field_with_input_kept(
    client: Client, h: Any, submission: Any
) -> None:
    handler, _ = submission  # its SIZE is 2 MiB (conftest)
    sender, rcpt = await h.register(client), await h.register(client)
    await h.login(client, sender)
    token = await h.csrf_token(client, "/compose")
    form = aiohttp.FormData()
    for name, value in (("csrf_token", token), ("to", rcpt), ("cc", ""),
                        ("subject", "Big <one>"), ("body", "keep these words")):  # fmt: skip
        form.add_field(name, value)
    form.add_field("attachments", io.BytesIO(b"x" * (3 * 1024 * 1024)), filename="big.bin")

    response = await client.post("/compose", data=form)

    assert response.status == 422
    text = await response.text()
    assert 'id="attachments-error">The message is too large.' in text
    assert 'aria-describedby="attachments-limit attachments-error"' in text
    assert f'value="{rcpt}"' in text
    assert 'value="Big &lt;one&gt;"' in text
    assert "keep these words" in text
    assert handler.messages == []


# -- what the web never passes on -----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/search?q=a%00b", 422),
        ("/api/v1/search?q=a%00b", 422),
        ("/api/v1/messages?cursor=a%00b", 422),
        ("/directory?prefix=ali%00", 422),
        ("/search?q=" + "-" * 999, 422),
        ("/api/v1/search?q=" + "(-" * 300, 422),
    ],
)
async def test_text_the_mail_store_cannot_search_is_a_4xx_with_the_reason(
    client: Client, h: Any, path: str, status: int
) -> None:
    await h.login(client, await h.register(client))

    response = await client.get(path)

    assert response.status == status
    text = await response.text()
    assert "NUL" in text or "too complex" in text or "Letters, digits" in text, text[:300]
