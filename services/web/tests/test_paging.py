"""A folder's pages: "1-50 of 53" (an en dash), Newer and Older (issue 15)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from webmail.views.common import PAGE_SIZE
from webmail.views.mail import position

Client = TestClient[web.Request, web.Application]
DASH = "\N{EN DASH}"


def mail(to: str, n: int) -> bytes:
    return (
        f"From: Ann <ann@example.com>\r\nTo: {to}\r\nSubject: number {n}\r\n"
        f"Message-ID: <{n}@example.com>\r\n\r\nHi\r\n"
    ).encode()


def pager(page: str) -> tuple[str | None, dict[str, str]]:
    """The pager's "first-last of total" (an en dash) and its links by text."""
    nav = re.search(r'<nav class="pager"[^>]*>(.*?)</nav>', page, re.S)
    assert nav is not None
    where = re.search(r'<span class="position">([^<]*)</span>', nav.group(1))
    links = re.findall(r'<a href="([^"]*)"[^>]*>([^<]*)</a>', nav.group(1))
    return (where.group(1) if where else None), {t: html.unescape(h) for h, t in links}


async def test_a_folder_page_says_where_it_stands_and_leads_newer_and_older(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    for n in range(PAGE_SIZE + 3):
        await deliver(mail(address, n), rcpt_to=[address])
    await h.login(client, address)

    first = pager(await (await client.get("/mail/inbox")).text())
    second = pager(await (await client.get(first[1]["Older"])).text())
    again = pager(await (await client.get(second[1]["Newer"])).text())

    assert first[0] == f"1{DASH}{PAGE_SIZE} of {PAGE_SIZE + 3}"
    assert "Newer" not in first[1]
    assert second[0] == f"{PAGE_SIZE + 1}{DASH}{PAGE_SIZE + 3} of {PAGE_SIZE + 3}"
    assert "Older" not in second[1]
    assert second[1]["Newer"] == "/mail/inbox"
    assert again == first


async def test_an_empty_folder_shows_no_position(client: Client, h: Any) -> None:
    await h.login(client, await h.register(client))

    assert pager(await (await client.get("/mail/inbox")).text()) == (None, {})


def test_newer_from_a_third_page_carries_the_mail_stores_cursor() -> None:
    listing = {"total": 120, "offset": 100, "prev_cursor": "a+b/c=", "messages": [{}] * 20}

    shown = position(listing, "/mail/inbox")

    assert shown == {"first": 101, "last": 120, "total": 120,
                     "newer": "/mail/inbox?cursor=a%2Bb%2Fc%3D"}  # fmt: skip


def test_a_mail_store_that_does_not_say_gives_no_position() -> None:
    assert position({"messages": [], "next_cursor": None}, "/mail/inbox") is None


async def test_the_tab_title_starts_with_the_inboxs_unread_count_on_every_page(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    for n in range(3):
        await deliver(mail(address, n), rcpt_to=[address])
    await h.login(client, address)
    titles = []
    for path in ("/mail/inbox", "/mail/sent", "/compose"):
        page = await (await client.get(path)).text()
        titles.append(re.search(r"<title>([^<]*)</title>", page).group(1))  # type: ignore[union-attr]
    first = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]
    await client.get(f"/messages/{first}")  # opening marks it read
    after = await (await client.get("/mail/inbox")).text()

    assert titles == [
        "(3) Inbox · Localpost",
        "(3) Sent · Localpost",
        "(3) New message · Localpost",
    ]
    assert "<title>(2) Inbox · Localpost</title>" in after
    assert '<div id="new-mail" class="new-mail" aria-live="polite"></div>' in after


async def test_all_across_pages_marks_every_message_of_the_folder(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    for n in range(PAGE_SIZE + 3):
        await deliver(mail(address, n), rcpt_to=[address])
    await h.login(client, address)
    page = await (await client.get("/mail/inbox")).text()
    token = await h.csrf_token(client, "/mail/inbox")
    data = {"csrf_token": token, "action": "read", "scope": "inbox", "next": "/mail/inbox"}

    response = await client.post("/mail/actions", data=data, allow_redirects=False)
    listing = await (await client.get("/api/v1/messages", params={"limit": "200"})).json()

    assert f'name="scope" value="inbox"> All {PAGE_SIZE + 3}</label>' in page
    assert response.status == 303
    assert len(listing["messages"]) == PAGE_SIZE + 3
    assert not any(m["unread"] for m in listing["messages"])


async def test_a_row_star_ignores_all_across_pages(client: Client, h: Any, deliver: Any) -> None:
    address = await h.register(client)
    for n in range(3):
        await deliver(mail(address, n), rcpt_to=[address])
    await h.login(client, address)
    ids = [m["id"] for m in (await (await client.get("/api/v1/messages")).json())["messages"]]
    token = await h.csrf_token(client, "/mail/inbox")
    data = {"csrf_token": token, "star": str(ids[1]), "scope": "inbox", "next": "/mail/inbox"}

    await client.post("/mail/actions", data=data, allow_redirects=False)
    listing = await (await client.get("/api/v1/messages")).json()

    assert [m["id"] for m in listing["messages"] if m["starred"]] == [ids[1]]


# (a hostile "All" scope, the answer): only a folder id of the user's is a scope.
HOSTILE_SCOPES = [
    ("f999999", 404),
    ("../inbox", 422),
    ("inbox\r\nX: y", 422),
    ("INBOX", 422),
    ("a" * 21, 422),
]


@pytest.mark.parametrize(("scope", "status"), HOSTILE_SCOPES)
async def test_a_hostile_all_scope_is_refused(
    client: Client, h: Any, scope: str, status: int
) -> None:
    await h.login(client, await h.register(client))
    token = await h.csrf_token(client, "/mail/inbox")
    data = {"csrf_token": token, "action": "trash", "scope": scope, "next": "/mail/inbox"}

    response = await client.post("/mail/actions", data=data, allow_redirects=False)

    assert response.status == status
