"""Storage quotas in the web (issue 16), on a real mail store: usage in the sidebar and on
Settings with a warning in words near the limit; Send and Save draft refused with the
text kept when the mailbox is full."""

from __future__ import annotations

import html
import io
import re
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore.settings import DEV_MAILSTORE_TOKEN
from webmail.errors import OverQuota

Client = TestClient[web.Request, web.Application]
FULL = html.escape(OverQuota.MESSAGE, quote=False)


async def set_quota(mailstore_url: str, address: str, quota: int | None) -> None:
    """What an administrator does (the web's admin pages, ``python -m mailstore admin
    quota``): the mail store's PUT /v1/accounts/{address}/quota."""
    headers = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
    async with aiohttp.ClientSession() as http:
        url = f"{mailstore_url}/v1/accounts/{address}/quota"
        async with http.put(url, json={"quota": quota}, headers=headers) as response:
            assert response.status == 200, await response.text()


async def used(mailstore_url: str, address: str) -> int:
    headers = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
    async with aiohttp.ClientSession() as http:
        url = f"{mailstore_url}/v1/accounts/{address}/quota"
        async with http.get(url, headers=headers) as response:
            return int((await response.json())["used"])


def mail(to: str, body: str) -> bytes:
    return (
        f"From: Carol <carol@example.com>\r\nTo: {to}\r\nSubject: Hello\r\n\r\n{body}\r\n"
    ).encode()


def storage_lines(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'id="[a-z]+-quota-text">([^<]*)<', page)]


async def test_usage_shows_in_the_sidebar_and_settings_with_a_warning_near_the_limit(
    client: Client, h: Any, deliver: Any, mailstore_url: str
) -> None:
    address = await h.register(client)
    await h.login(client, address)
    page = await (await client.get("/mail/inbox")).text()
    assert storage_lines(page) == ["Storage: 0 bytes used (no limit)"]
    assert "nearly full" not in page

    await deliver(mail(address, "x" * 1500), rcpt_to=[address])
    held = await used(mailstore_url, address)
    await set_quota(mailstore_url, address, held * 100 // 95)  # 95% used
    response = await client.get("/mail/inbox")
    page = await response.text()
    (line,) = storage_lines(page)
    assert line.startswith("Storage: 1."), line
    assert line.endswith("KB used (95%)"), line
    # Said in words, announced politely, not shown by colour alone.
    assert re.search(r'role="status"><strong>Your mailbox is nearly full.</strong>', page)
    nonce = h.csp_nonce(response.headers["Content-Security-Policy"])
    assert h.markup_problems(page, nonce=nonce) == []

    settings = await (await client.get("/settings")).text()
    assert 'id="storage-title"' in settings
    assert storage_lines(settings) == [line, line]  # the sidebar's and the section's

    await set_quota(mailstore_url, address, held)
    page = await (await client.get("/mail/inbox")).text()
    assert "Your mailbox is full." in page
    assert "(100%)" in page


async def test_send_and_save_draft_are_refused_when_full_keeping_what_was_typed(
    client: Client, h: Any, deliver: Any, mailstore_url: str, submission: Any
) -> None:
    handler, _ = submission
    bob = await h.register(client)
    address = await h.register(client)
    await h.login(client, address)
    await deliver(mail(address, "x" * 1500), rcpt_to=[address])
    await set_quota(mailstore_url, address, await used(mailstore_url, address))
    page = await (await client.get("/compose")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None

    for extra in ({}, {"save": "1"}):
        data = aiohttp.FormData()
        fields = {"csrf_token": token[1], "to": bob, "subject": "Plans", "body": "Typed text"}
        for name, value in {**fields, **extra}.items():
            data.add_field(name, value)
        data.add_field("attachments", io.BytesIO(b"notes"), filename="n.txt")
        refused = await client.post("/compose", data=data)

        assert refused.status == 422, extra
        answer = await refused.text()
        assert FULL in answer
        assert 'role="alert"' in answer
        assert 'value="Plans"' in answer
        assert "Typed text" in answer
    assert handler.messages == []

    # The JSON API's send: 422, the reason under "form".
    bearer = {"Authorization": f"Bearer {await h.api_token(client, address)}"}
    body = {"to": [bob], "subject": "S", "text": "T"}
    response = await client.post("/api/v1/messages", json=body, headers=bearer)
    assert response.status == 422, await response.text()
    assert (await response.json())["fields"] == {"form": OverQuota.MESSAGE}

    # Room again (an administrator lifted the limit): it goes.
    await set_quota(mailstore_url, address, None)
    response = await client.post("/api/v1/messages", json=body, headers=bearer)
    assert response.status == 202, await response.text()
    assert len(handler.messages) == 1


async def test_a_form_carried_through_login_into_a_full_mailbox_is_shown_again(
    client: Client, h: Any, deliver: Any, mailstore_url: str
) -> None:
    """The session ended while writing and the mailbox is full: the stash cannot become
    a draft, so the compose form comes back, logged in, with what was typed."""
    address = await h.register(client)
    await h.login(client, address)
    await deliver(mail(address, "x" * 1500), rcpt_to=[address])
    await set_quota(mailstore_url, address, await used(mailstore_url, address))
    page = await (await client.get("/compose")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    await client.post("/logout", data={"csrf_token": token[1]})
    ended = await client.post(
        "/compose/draft",
        data={"csrf_token": token[1], "to": address, "subject": "Plans", "body": "Long text"},
    )
    assert ended.status == 401
    login_page = await ended.text()
    login_token = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
    assert login_token is not None
    stash = dict(re.findall(r'name="(stash_[a-z_]+)" value="([^"]*)"', login_page))

    back = await client.post(
        "/login",
        data={"address": address, "password": h.password, "csrf_token": login_token[1], **stash},
        allow_redirects=False,
    )

    assert back.status == 422
    answer = await back.text()
    assert FULL in answer
    assert 'value="Plans"' in answer
    assert "Long text" in answer
    # Logged in as the new session: its form's token is good for saving once there is room.
    await set_quota(mailstore_url, address, None)
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', answer)
    assert form_token is not None
    saved = await client.post(
        "/compose/draft",
        data={"csrf_token": form_token[1], "subject": "Plans", "body": "Long text"},
        allow_redirects=False,
    )
    assert saved.status == 303, await saved.text()
