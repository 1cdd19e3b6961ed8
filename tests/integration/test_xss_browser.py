"""The public XSS corpus (../shared/security/xss_corpus.json) rendered by Chromium: its
vectors are delivered as HTML mail, a hundred to a message, through the SMTP gateway
of a real stack, and each message page (and its body opened on its own, as a new tab
would) is opened in headless Chromium. No dialog may open, no script of a payload
run, and nothing be fetched from anywhere but the web's own origin.

Payloads mostly call alert(); an init script also replaces alert/confirm/prompt/print
with functions that set ``window.__xss``, in case a dialog is suppressed. Skipped,
with the reason, where ../shared, Chromium or playwright is missing; the sanitiser
alone is checked in services/web/tests/test_xss_corpus.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from smtplib_common.client import SMTPClient
from tests.integration import chromium
from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "security" / "xss_corpus.json"
# Vectors per message: 20 messages for the corpus, each page a fraction of a second.
BATCH = 100
PASSWORD = "correct horse battery staple 42"
DELIVERY_TIMEOUT = 60.0
# page.evaluate has no timeout of its own: a payload's endless loop would hang the run.
EVALUATE_TIMEOUT = 10.0
# Where a payload's script would show itself, whichever way it ran.
TRAP = """
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = function () { window.__xss = (window.__xss || []).concat([name]); };
}
"""


if not CORPUS.is_file():
    pytest.skip(
        f"no XSS corpus at {CORPUS} (it lives beside the repository, never in it)",
        allow_module_level=True,
    )
if (_why := chromium.missing()) is not None:
    # As test_browser.py: CI (LOCALPOST_REQUIRE_BROWSER=1) must not skip for a missing browser.
    if os.environ.get("LOCALPOST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"LOCALPOST_REQUIRE_BROWSER=1, but {_why}", pytrace=False)
    pytest.skip(_why, allow_module_level=True)

from playwright.async_api import Browser, Dialog, Page  # noqa: E402

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


def batches() -> list[str]:
    """The corpus's payloads, BATCH to an HTML body, each in a div of its own."""
    vectors = json.loads(CORPUS.read_text("utf-8"))["vectors"]
    # Lone surrogates cannot travel in mail; the rest of such a payload still does.
    payloads = [v["payload"].encode("utf-8", "replace").decode() for v in vectors]
    return [
        "".join(f"<div>{p}</div>\n" for p in payloads[start : start + BATCH])
        for start in range(0, len(payloads), BATCH)
    ]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium.launch() as launched:
        yield launched


async def _deliver(endpoints: Endpoints, to: str, bodies: list[str], marker: str) -> None:
    async with SMTPClient(*endpoints.smtp) as client:
        for n, html in enumerate(bodies):
            msg = EmailMessage()
            msg["From"], msg["To"] = "corpus@example.org", to
            msg["Subject"] = f"{marker} batch {n}"
            msg.set_content("The HTML part holds the vectors.")
            msg.add_alternative(html, subtype="html")
            await client.send_email(msg)


async def _sign_in(page: Page, address: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Address", exact=True).fill(address)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/mail/inbox")


async def test_the_public_xss_corpus_runs_no_script_in_chromium(
    browser: Browser, endpoints: Endpoints, mailstore: MailstoreAPI
) -> None:
    address = f"xss{uuid.uuid4().hex[:10]}@{endpoints.domain}"
    await mailstore.create_account(address, PASSWORD, "Corpus Reader")
    bodies = batches()
    await _deliver(endpoints, address, bodies, "corpus")
    messages = await mailstore.wait_for(address, len(bodies), timeout=DELIVERY_TIMEOUT)

    context = await browser.new_context(base_url=endpoints.web_url, java_script_enabled=True)
    context.set_default_timeout(15_000)
    await context.add_init_script(TRAP)
    dialogs: list[str] = []
    outside: list[str] = []
    console: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message} on {dialog.page and dialog.page.url}")
        await dialog.dismiss()

    context.on("dialog", on_dialog)
    context.on(
        "request",
        lambda r: None if r.url.startswith((endpoints.web_url, "data:")) else outside.append(r.url),
    )
    page = await context.new_page()
    page.on("console", lambda m: console.append(f"{page.url}: {m.type}: {m.text}"))
    try:
        await _sign_in(page, address)
        fired: list[Any] = []
        heights: list[str] = []
        for msg in messages:
            for path in (f"/messages/{msg['id']}", f"/messages/{msg['id']}/body"):
                response = await page.goto(path, wait_until="load")
                assert response is not None
                assert response.status == 200, path
                fired += [f"{path}: {t}" for t in await _trapped(page.main_frame)]
                if path.endswith("/body"):
                    continue
                frame = page.frame_locator("iframe.body-frame")
                await frame.locator("div").first.wait_for(state="attached")
                # The page sized the frame from its content: framing still works under
                # the body's own CSP sandbox (allow-same-origin).
                heights.append(await page.locator("iframe.body-frame").evaluate(
                    "f => f.style.height"))  # fmt: skip
                for child in page.frames[1:]:
                    fired += [f"{path} frame: {t}" for t in await _trapped(child)]
            if dialogs or fired or outside:
                break  # the first message that runs anything is enough to fail
    finally:
        await context.close()

    assert dialogs == []
    assert fired == []
    assert outside == []
    # Not vacuous: every message was opened, its frame loaded and sized.
    assert len(heights) == len(bodies) == len(messages) >= 19
    assert all(height.endswith("px") for height in heights), heights
    # A script the sandbox or CSP stopped is reported on the console: none may even try.
    assert [line for line in console if "script" in line.lower()] == []


async def _trapped(frame: Any) -> list[str]:
    """What the trap recorded in ``frame``; a frame too busy to answer ran a script."""
    try:
        async with asyncio.timeout(EVALUATE_TIMEOUT):
            found: list[str] = await frame.evaluate("window.__xss || []")
    except TimeoutError:
        return ["the frame's script never yielded"]
    return found
