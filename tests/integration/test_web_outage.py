"""The web while the mail store is paused (SIGSTOP: a slow store, sockets open, nothing
answers) or stopped (connection refused): pages answer "Mail is unavailable right now"
with 503 and Retry-After in the site's layout, and work again once the store is back.

No timing assertion: each request's own bound, PAGE_BOUND, is shorter than the web's old
10 s budget for a mail store call, so a web that waits that long again fails here with a
timeout, while the web's WEB_MAILSTORE_TIMEOUT (2 s by default) stays well inside it.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack
from tests.integration.webform import csrf_token, log_in

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="module")]

PASSWORD = "outage test password"
PAGE_BOUND = aiohttp.ClientTimeout(total=8)
UNAVAILABLE = "Mail is unavailable right now"


@pytest_asyncio.fixture(loop_scope="module")
async def browser(
    stack: LocalStack | None, endpoints: Endpoints, mailstore: MailstoreAPI
) -> AsyncIterator[aiohttp.ClientSession]:
    """A signed-in session of the web, as a browser holds one."""
    address = f"u{uuid.uuid4().hex[:12]}@{endpoints.domain}"
    await mailstore.create_account(address, PASSWORD)
    http = aiohttp.ClientSession(
        base_url=endpoints.web_url, cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=PAGE_BOUND
    )
    try:
        await log_in(http, address, PASSWORD)
        yield http
    finally:
        await http.close()


async def assert_unavailable(http: aiohttp.ClientSession, path: str) -> None:
    async with http.get(path, allow_redirects=False) as response:
        text = await response.text()
        assert response.status == 503, text
        assert int(response.headers["Retry-After"]) > 0
        assert UNAVAILABLE in text
        # The site's layout, not a bare error: the header, the stylesheet, the main landmark.
        assert '<header class="top">' in text
        assert 'rel="stylesheet"' in text
        assert '<main id="main"' in text


async def assert_inbox(http: aiohttp.ClientSession) -> None:
    async with http.get("/mail/inbox") as response:
        assert response.status == 200, await response.text()


@pytest.mark.parametrize("path", ["/mail/inbox", "/search?q=hello", "/compose"])
async def test_a_paused_mail_store_gives_a_503_page_in_the_pages_budget(
    stack: LocalStack | None, browser: aiohttp.ClientSession, path: str
) -> None:
    assert stack is not None  # the faults marker skips an external stack
    await assert_inbox(browser)
    store = stack.services["mailstore"]
    await store.signal(signal.SIGSTOP)
    try:
        await assert_unavailable(browser, path)
    finally:
        await store.signal(signal.SIGCONT)

    await assert_inbox(browser)


async def test_a_login_to_a_paused_mail_store_gives_the_503_page_too(
    stack: LocalStack | None, endpoints: Endpoints, mailstore: MailstoreAPI
) -> None:
    # A password check may wait 30 s for bcrypt; a store that does not answer at all
    # must not make the login page wait that long (PAGE_BOUND fails it).
    assert stack is not None
    address = f"u{uuid.uuid4().hex[:12]}@{endpoints.domain}"
    await mailstore.create_account(address, PASSWORD)
    async with aiohttp.ClientSession(
        base_url=endpoints.web_url, cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=PAGE_BOUND
    ) as http:
        form = {
            "address": address,
            "password": PASSWORD,
            "csrf_token": await csrf_token(http, "/login"),
        }
        store = stack.services["mailstore"]
        await store.signal(signal.SIGSTOP)
        try:
            async with http.post("/login", data=form, allow_redirects=False) as response:
                status, text = response.status, await response.text()
                retry_after = response.headers.get("Retry-After")
        finally:
            await store.signal(signal.SIGCONT)
        async with http.post("/login", data=form, allow_redirects=False) as response:
            after = response.status

    assert (status, UNAVAILABLE in text, retry_after is not None) == (503, True, True)
    assert after == 303


async def test_a_stopped_mail_store_gives_a_503_page_then_pages_work_again(
    stack: LocalStack | None, browser: aiohttp.ClientSession
) -> None:
    assert stack is not None
    await assert_inbox(browser)
    await stack.services["mailstore"].stop()
    try:
        await assert_unavailable(browser, "/mail/inbox")
        # The API answers the same in JSON.
        async with browser.get("/api/v1/messages") as response:
            assert response.status == 503
            assert int(response.headers["Retry-After"]) > 0
            assert UNAVAILABLE in (await response.json())["error"]
    finally:
        await stack.restart("mailstore")

    await assert_inbox(browser)
