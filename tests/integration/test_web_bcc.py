"""Bcc through the whole stack: the web's compose form, the gateway's submission, the
queue and the mail store. The blind recipient gets the message; what the others get and
the sender's Sent copy carry no Bcc header and never name the blind recipient (RFC 5322
§3.6.3, the first way: the Bcc line is removed before the message is transmitted).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio

from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack
from tests.integration.webform import csrf_token

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "bcc test password"


def fresh(endpoints: Endpoints, who: str) -> str:
    return f"{who}{uuid.uuid4().hex[:10]}@{endpoints.domain}"


@pytest_asyncio.fixture(loop_scope="module")
async def web(
    stack: LocalStack | None, endpoints: Endpoints
) -> AsyncIterator[aiohttp.ClientSession]:
    http = aiohttp.ClientSession(
        base_url=endpoints.web_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    try:
        yield http
    finally:
        await http.close()


async def raw(mailstore: MailstoreAPI, address: str, message: dict[str, object]) -> bytes:
    status, body = await mailstore.call(
        "GET", f"/v1/accounts/{quote(address)}/messages/{message['id']}/raw"
    )
    assert status == 200, (status, body)
    assert isinstance(body, bytes)
    return body


async def test_bcc_reaches_its_recipient_and_no_copy_names_it(
    web: aiohttp.ClientSession, endpoints: Endpoints, mailstore: MailstoreAPI
) -> None:
    sender, rcpt, blind = (fresh(endpoints, who) for who in ("ann", "bob", "eve"))
    for address in (sender, rcpt, blind):
        await mailstore.create_account(address, PASSWORD)
    form = {"address": sender, "password": PASSWORD, "csrf_token": await csrf_token(web, "/login")}
    async with web.post("/login", data=form, allow_redirects=False) as response:
        assert response.status == 303, await response.text()

    form = {"csrf_token": await csrf_token(web, "/compose"), "to": rcpt, "cc": "", "bcc": blind,
            "subject": "Blind", "body": "Hello"}  # fmt: skip
    async with web.post("/compose", data=form, allow_redirects=False) as response:
        assert response.status == 303, await response.text()

    (blind_copy,) = await mailstore.wait_for(blind, 1)
    (seen_copy,) = await mailstore.wait_for(rcpt, 1)
    (sent_copy,) = await mailstore.wait_for(sender, 1, folder="sent")
    assert blind_copy["subject"] == "Blind"
    for owner, message in ((rcpt, seen_copy), (sender, sent_copy), (blind, blind_copy)):
        headers = (await raw(mailstore, owner, message)).split(b"\r\n\r\n", 1)[0]
        assert not re.search(rb"^Bcc:", headers, re.IGNORECASE | re.MULTILINE), owner
        if owner != blind:
            assert blind.encode() not in headers, owner
