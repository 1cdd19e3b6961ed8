"""Leaving a message or a bulk action returns to the list it started from: the same
folder, page (cursor) and search (issue 15, "Reading and finding")."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]


def mail(to: str, subject: str) -> bytes:
    return (
        f"From: Ann <ann@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@example.com>\r\n\r\nHi there\r\n"
    ).encode()


async def signed_in(client: Client, h: Any, deliver: Any, subjects: tuple[str, ...]) -> None:
    address = await h.register(client)
    for subject in subjects:
        await deliver(mail(address, subject), rcpt_to=[address])
    await h.login(client, address)


def hidden_next(page: str, action: str) -> str:
    """The ``next`` of the form posting to ``action``."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>',
                     page, re.S)  # fmt: skip
    assert form is not None, f"no form for {action}"
    found = re.search(r'name="next" value="([^"]*)"', form.group(1))
    assert found is not None, f"no next in the form for {action}"
    return html.unescape(found.group(1))


async def test_a_bulk_action_on_a_search_page_returns_to_that_search_page(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver, ("invoice one", "invoice two", "other"))
    here = "/search?q=invoice&cursor=x"  # an unknown cursor still renders the page
    page = await (await client.get(here)).text()
    target = hidden_next(page, "/mail/actions")
    token = await h.csrf_token(client, "/mail/inbox")
    data = {"csrf_token": token, "action": "read", "next": target}

    response = await client.post("/mail/actions", data=data, allow_redirects=False)

    assert target == here
    assert (response.status, response.headers["Location"]) == (303, here)


async def test_a_list_links_each_message_with_the_page_it_was_opened_from(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver, ("invoice one",))
    page = await (await client.get("/search", params={"q": "invoice"})).text()

    links = re.findall(r'href="/messages/([0-9]+)\?back=([^"]*)"', page)

    assert links
    assert {unquote(html.unescape(back)) for _, back in links} == {"/search?q=invoice"}


async def test_delete_from_a_message_opened_in_a_search_returns_to_the_search(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver, ("invoice one", "invoice two"))
    listing = await (await client.get("/api/v1/messages", params={"folder": "inbox"})).json()
    entry = listing["messages"][0]["id"]
    back = "/search?q=invoice"
    page = await (await client.get(f"/messages/{entry}", params={"back": back})).text()
    actions = [f"/messages/{entry}/{verb}" for verb in ("trash", "move", "unread")]
    targets = [hidden_next(page, action) for action in actions]
    token = await h.csrf_token(client, "/mail/inbox")

    deleted = await client.post(
        f"/messages/{entry}/trash",
        data={"csrf_token": token, "next": targets[0]},
        allow_redirects=False,
    )

    assert targets == [back] * 3
    assert (deleted.status, deleted.headers["Location"]) == (303, back)


async def test_a_message_opened_without_a_list_returns_to_its_folder(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver, ("one",))
    listing = await (await client.get("/api/v1/messages", params={"folder": "inbox"})).json()
    entry = listing["messages"][0]["id"]

    page = await (await client.get(f"/messages/{entry}")).text()

    assert hidden_next(page, f"/messages/{entry}/trash") == "/mail/inbox"
