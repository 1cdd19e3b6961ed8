"""Newer / Older on the message page, in the order of the list it was opened from
(issue 15, "Reading and finding")."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.test_utils import TestClient

from webmail.views.common import PAGE_SIZE

Client = TestClient[web.Request, web.Application]


def mail(to: str, subject: str) -> bytes:
    return (
        f"From: Ann <ann@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{quote(subject)}@example.com>\r\n\r\nHi\r\n"
    ).encode()


async def signed_in(client: Client, h: Any, deliver: Any, subjects: list[str]) -> list[int]:
    """The account's Inbox ids, newest first."""
    address = await h.register(client)
    for subject in subjects:
        await deliver(mail(address, subject), rcpt_to=[address])
    await h.login(client, address)
    listing = await (await client.get("/api/v1/messages", params={"limit": "200"})).json()
    return [m["id"] for m in listing["messages"]]


async def around(client: Client, entry: int, back: str | None) -> dict[str, str]:
    params = {"back": back} if back is not None else {}
    response = await client.get(f"/messages/{entry}", params=params)
    assert response.status == 200, back
    page = await response.text()
    links = re.findall(r'<a class="message-nav" rel="(prev|next)" href="([^"]*)"', page)
    return {rel: html.unescape(href) for rel, href in links}


def link(entry: int, back: str) -> str:
    return f"/messages/{entry}?back={quote(back, safe='/')}"


async def test_newer_and_older_follow_the_folder(client: Client, h: Any, deliver: Any) -> None:
    newest, middle, oldest = await signed_in(client, h, deliver, ["a", "b", "c"])

    assert await around(client, middle, "/mail/inbox") == {
        "prev": link(newest, "/mail/inbox"),
        "next": link(oldest, "/mail/inbox"),
    }
    assert await around(client, newest, None) == {"next": link(middle, "/mail/inbox")}
    assert await around(client, oldest, "/mail/inbox") == {"prev": link(middle, "/mail/inbox")}


async def test_newer_and_older_stay_within_the_search(client: Client, h: Any, deliver: Any) -> None:
    newest, _other, oldest = await signed_in(
        client, h, deliver, ["invoice a", "lunch", "invoice b"]
    )
    search = "/search?q=invoice"

    assert await around(client, newest, search) == {"next": link(oldest, search)}
    assert await around(client, oldest, search) == {"prev": link(newest, search)}


async def test_newer_and_older_cross_the_folders_pages(
    client: Client, h: Any, deliver: Any
) -> None:
    ids = await signed_in(client, h, deliver, [f"n{n}" for n in range(PAGE_SIZE + 2)])
    first_page = await (await client.get("/mail/inbox")).text()
    older = re.search(r'href="(/mail/inbox\?cursor=[^"]*)" rel="next"', first_page)
    assert older is not None
    second = html.unescape(older.group(1))

    last_on_first = await around(client, ids[PAGE_SIZE - 1], "/mail/inbox")
    first_on_second = await around(client, ids[PAGE_SIZE], second)

    assert last_on_first["next"] == link(ids[PAGE_SIZE], second)
    assert first_on_second["prev"] == link(ids[PAGE_SIZE - 1], "/mail/inbox")
    assert first_on_second["next"] == link(ids[PAGE_SIZE + 1], second)


async def test_a_back_that_is_no_list_gives_no_neighbours(
    client: Client, h: Any, deliver: Any
) -> None:
    _, middle, _ = await signed_in(client, h, deliver, ["a", "b", "c"])

    for back in ("/compose", "/mail/inbox?cursor=nonsense", "/search?q=", "/mail/nosuch"):
        assert await around(client, middle, back) == {}, back
