"""Conversations in the webmail (issue 15): one row per conversation, the conversation
page, bulk actions on conversation rows, and the setting that turns them off."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]


def mail(to: str, n: int, *, sender: str = "Ann", refs: str = "", subject: str = "Plans") -> bytes:
    references = f"References: {refs}\r\n" if refs else ""
    return (
        f"From: {sender} <{sender.lower()}@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{n}@example.com>\r\n{references}\r\nText of message {n}\r\n"
    ).encode()


def rows(page: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-id="\d+">.*?</tr>', page, re.S)


async def three_in_one(client: Client, h: Any, deliver: Any) -> str:
    """A signed-in person with a conversation of three (Ann, Bob, Ann) and one other."""
    address = await h.register(client)
    await deliver(mail(address, 1), rcpt_to=[address])
    await deliver(mail(address, 2, sender="Bob", refs="<1@example.com>"), rcpt_to=[address])
    await deliver(mail(address, 9, subject="Lunch"), rcpt_to=[address])
    await deliver(mail(address, 3, refs="<1@example.com> <2@example.com>"), rcpt_to=[address])
    await h.login(client, address)
    return address


async def conversation_link(client: Client) -> str:
    """The Inbox's first conversation row's page."""
    inbox = await (await client.get("/mail/inbox")).text()
    link = re.search(r'href="(/conversations/\d+)\?back=', inbox)
    assert link is not None
    return link.group(1)


async def test_a_conversation_is_one_row_with_its_count_and_people(
    client: Client, h: Any, deliver: Any
) -> None:
    await three_in_one(client, h, deliver)

    response = await client.get("/mail/inbox")
    page = await response.text()

    listed = rows(page)
    assert len(listed) == 2
    assert 'href="/conversations/' in listed[0]
    assert "Bob, Ann" in listed[0]
    assert "(3)" in listed[0]
    assert "unread" in listed[0].split(">", 1)[0]
    assert 'href="/messages/' in listed[1]
    assert "(1)" not in listed[1]
    assert "1\N{EN DASH}2 of 2" in page
    assert 'name="conversations" value="1"' in page
    nonce = h.csp_nonce(response.headers["Content-Security-Policy"])
    assert h.markup_problems(page, nonce=nonce) == []


async def test_the_conversation_page_shows_every_message_in_order_and_marks_them_read(
    client: Client, h: Any, deliver: Any
) -> None:
    await three_in_one(client, h, deliver)

    response = await client.get(await conversation_link(client))
    page = await response.text()

    assert response.status == 200
    texts = [page.index(f"Text of message {n}") for n in (1, 2, 3)]
    assert texts == sorted(texts)
    assert "(3 messages)" in page
    nonce = h.csp_nonce(response.headers["Content-Security-Policy"])
    assert h.markup_problems(page, nonce=nonce) == []
    again = await (await client.get("/mail/inbox")).text()
    assert "unread" not in rows(again)[0].split(">", 1)[0]


async def test_another_persons_conversation_is_a_404(client: Client, h: Any, deliver: Any) -> None:
    await three_in_one(client, h, deliver)
    link = await conversation_link(client)
    await h.login(client, await h.register(client))

    assert (await client.get(link)).status == 404


async def test_deleting_a_conversation_row_moves_all_its_messages(
    client: Client, h: Any, deliver: Any
) -> None:
    await three_in_one(client, h, deliver)
    inbox = await (await client.get("/mail/inbox")).text()
    head = re.search(r'data-id="(\d+)"', inbox)
    assert head is not None
    token = await h.csrf_token(client, "/mail/inbox")

    response = await client.post(
        "/mail/actions",
        data={"csrf_token": token, "action": "trash", "ids": head.group(1),
              "conversations": "1", "next": "/mail/inbox"},
        allow_redirects=False,
    )  # fmt: skip

    assert response.status == 303
    assert len(rows(await (await client.get("/mail/inbox")).text())) == 1
    trash = rows(await (await client.get("/mail/trash")).text())
    assert len(trash) == 1  # the conversation, whole, in Trash
    assert "(3)" in trash[0]


async def test_turning_conversations_off_lists_every_message(
    client: Client, h: Any, deliver: Any
) -> None:
    await three_in_one(client, h, deliver)
    settings = await (await client.get("/settings")).text()
    assert re.search(r'id="conversations"[^>]* checked', settings)
    token = await h.csrf_token(client, "/settings")

    response = await client.post(
        "/settings/reading", data={"csrf_token": token}, allow_redirects=False
    )

    assert response.status == 303
    assert len(rows(await (await client.get("/mail/inbox")).text())) == 4
    settings = await (await client.get("/settings")).text()
    assert not re.search(r'id="conversations"[^>]* checked', settings)
    token = await h.csrf_token(client, "/settings")
    await client.post("/settings/reading", data={"csrf_token": token, "conversations": "1"})
    assert len(rows(await (await client.get("/mail/inbox")).text())) == 2


async def test_search_results_are_not_grouped(client: Client, h: Any, deliver: Any) -> None:
    await three_in_one(client, h, deliver)

    page = await (await client.get("/search", params={"q": "plans"})).text()

    assert len(rows(page)) == 3
    assert 'name="conversations"' not in page


async def test_newer_and_older_on_a_message_page_follow_the_conversation_rows(
    client: Client, h: Any, deliver: Any
) -> None:
    await three_in_one(client, h, deliver)
    inbox = await (await client.get("/mail/inbox")).text()
    head, lunch = re.findall(r'<tr class="[^"]*" data-id="(\d+)"', inbox)

    page = await (await client.get(f"/messages/{lunch}", params={"back": "/mail/inbox"})).text()

    newer = re.search(r'class="message-nav" rel="prev" href="([^"]+)"', page)
    assert newer is not None
    assert newer.group(1).startswith(f"/conversations/{head}?back=")
    assert 'rel="next"' not in page
