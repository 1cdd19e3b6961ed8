"""The /admin pages in a real browser (issue 16): an administrator made with `python -m
mailstore admin grant` walks every admin page with the keyboard-reachable controls a
person uses, without JavaScript doing the work (every action is a form), and a stranger
signs up through an invitation link. No page may log an error or a CSP violation.

Skipped, as tests/integration/test_browser.py, where Chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.integration import chromium
from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack

if (_why := chromium.missing()) is not None:
    if os.environ.get("LOCALPOST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"LOCALPOST_REQUIRE_BROWSER=1, but {_why}", pytrace=False)
    pytest.skip(_why, allow_module_level=True)

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, expect

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

PASSWORD = "correct horse battery staple 42"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium.launch() as launched:
        yield launched


async def _context(browser: Browser, endpoints: Endpoints, problems: list[str]) -> BrowserContext:
    context = await browser.new_context(base_url=endpoints.web_url, locale="en-GB")
    context.set_default_timeout(10_000)

    def on_console(message: ConsoleMessage) -> None:
        # CSP violations are errors here too; a 4xx page (a form's field error, the
        # 403 and 404s asked for below) is logged as a failed load, on purpose here.
        if message.type == "error" and not re.search(r"status of 4\d\d", message.text):
            problems.append(f"{message.location.get('url')}: {message.text}")

    context.on("console", on_console)
    context.on("weberror", lambda error: problems.append(f"uncaught: {error.error}"))
    return context


async def _log_in(page: Page, address: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Address", exact=True).fill(address)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(re.compile(r"/mail/inbox$"))


async def test_an_administrator_walks_every_admin_page(
    browser: Browser, stack: LocalStack | None, endpoints: Endpoints, mailstore: MailstoreAPI
) -> None:
    if stack is None:
        pytest.skip("needs the local stack: it grants the role with the mail store's command")
    unique = uuid.uuid4().hex[:8]
    admin, user = f"root.{unique}@{endpoints.domain}", f"user.{unique}@{endpoints.domain}"
    await mailstore.create_account(admin, PASSWORD, "Root")
    await mailstore.create_account(user, PASSWORD, "User")
    problems: list[str] = []
    context = await _context(browser, endpoints, problems)
    page = await context.new_page()
    try:
        # An ordinary user has no link and gets a 404.
        await _log_in(page, user)
        await expect(page.get_by_role("link", name="Administration")).to_have_count(0)
        assert (await page.goto("/admin")).status == 404  # type: ignore[union-attr]
        # Off the live page first: its event stream would reconnect without a session.
        await page.goto("about:blank")
        await context.clear_cookies()

        await stack.mailstore_command("admin", "grant", admin)
        await _log_in(page, admin)
        await page.get_by_role("link", name="Administration").click()
        await expect(page).to_have_url(re.compile(r"/admin$"))
        await expect(page.get_by_role("heading", name="Administration", level=1)).to_be_visible()
        await expect(page.locator("#registration-now")).to_contain_text("LOCALPOST_REGISTRATION")

        # Registration: invite, chosen here.
        await page.get_by_label(re.compile(r"Only with an invitation")).check()
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator("#registration-now")).to_contain_text("chosen here by")

        # Accounts: a field error keeps what was typed; then created, found, changed.
        await (
            page.get_by_role("navigation", name="Administration")
            .get_by_role("link", name="Accounts")
            .click()
        )
        new_local = f"new.{unique}"
        await page.get_by_label("Name", exact=True).fill("New Person")
        await page.get_by_label("Address", exact=True).fill(new_local)
        await page.get_by_label(re.compile(r"^Password")).fill("short")
        await page.get_by_role("button", name="Create account").click()
        await expect(page.locator("#password-error")).to_be_visible()
        await expect(page.get_by_label("Address", exact=True)).to_have_value(new_local)
        await page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
        await page.get_by_role("button", name="Create account").click()
        new = f"{new_local}@{endpoints.domain}"
        row = page.locator(f'tr[data-account="{new}"]')
        await expect(row).to_be_visible()
        await row.get_by_role("button", name=f"Disable: {new}").click()
        await expect(row).to_contain_text("disabled")
        await row.get_by_role("button", name=f"Enable: {new}").click()
        await row.get_by_role("button", name=f"Make admin: {new}").click()
        await expect(row).to_contain_text("administrator")
        await row.get_by_role("button", name=f"Revoke admin: {new}").click()
        await row.get_by_role("button", name=f"Reset-password link: {new}").click()
        await expect(page.locator("#one-time-link")).to_contain_text("/reset/")
        await page.get_by_role("link", name="Back").click()
        await page.get_by_label("Address contains").fill(new_local)
        await page.get_by_role("button", name="Search").click()
        await page.get_by_role("link", name=f"Delete {new}").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text(new)
        await page.get_by_role("button", name="Delete forever").click()
        await expect(page).to_have_url(re.compile(r"/admin/accounts$"))
        await expect(page.locator(f'tr[data-account="{new}"]')).to_have_count(0)

        # Quota: a size that is none is an error by the field, keeping what was typed.
        await page.goto(f"/admin/accounts?q=user.{unique}")
        await page.get_by_label(f"Quota of {user}").fill("lots")
        await page.get_by_role("button", name=f"Set quota: {user}").click()
        await expect(page.locator("#quota-error")).to_contain_text("not a size")
        await expect(page.get_by_label(f"Quota of {user}")).to_have_value("lots")
        await page.get_by_label(f"Quota of {user}").fill("500MiB")
        await page.get_by_role("button", name=f"Set quota: {user}").click()
        await expect(page.locator(f'tr[data-account="{user}"]')).to_contain_text("of 500.0 MB")

        # Lists: created (a taken address first), members added and removed, policy.
        await (
            page.get_by_role("navigation", name="Administration")
            .get_by_role("link", name="Lists and catch-all")
            .click()
        )
        team = f"list.{unique}@{endpoints.domain}"
        await page.get_by_label("List address").fill(admin)
        await page.get_by_role("button", name="Create list").click()
        await expect(page.locator("#address-error")).to_contain_text("account's address")
        await expect(page.get_by_label("List address")).to_have_value(admin)
        await page.get_by_label("List address").fill(team)
        await page.get_by_label("Who may post").select_option("local")
        await page.get_by_role("button", name="Create list").click()
        await expect(page.get_by_role("heading", name=team, level=1)).to_be_visible()
        await page.get_by_label(re.compile(r"^Add members")).fill(f"nobody.{unique}")
        await page.get_by_role("button", name="Add", exact=True).click()
        await expect(page.locator("#members-error")).to_be_visible()
        await page.get_by_label(re.compile(r"^Add members")).fill(f"{admin}, {user}")
        await page.get_by_role("button", name="Add", exact=True).click()
        await expect(page.locator(f'li[data-member="{user}"]')).to_be_visible()
        await page.get_by_role("button", name=f"Remove {admin} from {team}").click()
        await expect(page.locator(f'li[data-member="{admin}"]')).to_have_count(0)
        await page.get_by_label("Who may post").select_option("anyone")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_label("Who may post")).to_have_value("anyone")
        await page.get_by_role("link", name="All lists").click()
        await expect(page.locator(f'tr[data-list="{team}"]')).to_contain_text("Anyone")

        # Catch-all: to the list, then off again (other tests share the domain).
        catchall = page.get_by_label(re.compile(rf"^Catch-all of @{re.escape(endpoints.domain)}"))
        setting = page.get_by_role("button", name=f"Set the catch-all of {endpoints.domain}")
        await catchall.fill(f"nobody.{unique}")
        await setting.click()
        await expect(page.locator("#target-error")).to_be_visible()
        await catchall.fill(team)
        await setting.click()
        await expect(page.locator("#catchall")).to_contain_text(f"now {team}")
        await catchall.fill("")
        await setting.click()
        await expect(catchall).to_have_value("")
        await page.goto(f"/admin/lists/{team}")
        await page.get_by_role("button", name=f"Delete {team}").click()
        await expect(page.locator(f'tr[data-list="{team}"]')).to_have_count(0)

        # Aliases.
        await page.goto("/admin/aliases")
        alias = f"team.{unique}@{endpoints.domain}"
        await page.get_by_label("Alias address").fill(alias)
        await page.get_by_label(re.compile(r"^Delivers to")).fill(f"nobody.{unique}")
        await page.get_by_role("button", name="Add").click()
        await expect(page.locator("#targets-error")).to_be_visible()
        await page.get_by_label(re.compile(r"^Delivers to")).fill(f"{admin}, {user}")
        await page.get_by_role("button", name="Add").click()
        await expect(page.locator(f'tr[data-alias="{alias}"]')).to_contain_text(user)
        await page.get_by_role("button", name=f"Remove the alias {alias}").click()
        await expect(page.locator(f'tr[data-alias="{alias}"]')).to_have_count(0)

        # Invitations: a link that a stranger signs up with, once.
        await page.goto("/admin/invitations")
        await page.get_by_role("button", name="Make the link").click()
        shown = await page.locator("#one-time-link").inner_text()
        # LOCALPOST_WEB_URL's host, which this machine may not resolve: the path only.
        link = "/invite/" + shown.partition("/invite/")[2]
        assert len(link) == len("/invite/") + 43
        stranger_context = await _context(browser, endpoints, problems)
        stranger = await stranger_context.new_page()
        try:
            assert (await stranger.goto("/register")).status == 403  # type: ignore[union-attr]
            await stranger.goto(link)
            await stranger.get_by_label("Name", exact=True).fill("Invited")
            await stranger.get_by_label("Address", exact=True).fill(f"guest.{unique}")
            await stranger.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
            await stranger.get_by_label("Confirm password", exact=True).fill(PASSWORD)
            await stranger.get_by_role("button", name="Create account").click()
            await expect(stranger).to_have_url(re.compile(r"/mail/inbox$"))
            await stranger.goto("about:blank")
            await stranger_context.clear_cookies()
            assert (await stranger.goto(link)).status == 404  # type: ignore[union-attr]
        finally:
            await stranger_context.close()
        await page.goto("/admin/invitations")
        await expect(page.get_by_role("table")).to_contain_text(f"used by guest.{unique}")

        # The mail that reached nobody, and the audit log of all of the above.
        await page.get_by_role("link", name="Mail that reached nobody").click()
        await expect(page.get_by_role("heading", name="Mail that reached nobody")).to_be_visible()
        await page.get_by_role("link", name="Audit log").click()
        table = page.get_by_role("table", name="Administrators' actions, newest first")
        for action in ("grant admin", "set registration", "create account", "disable",
                       "delete account", "add alias", "create invitation", "set quota",
                       "create list", "add members", "list policy", "set catchall",
                       "unset catchall", "delete list"):  # fmt: skip
            await expect(table).to_contain_text(action)
        await expect(table).to_contain_text(re.compile(r"cli:"))
    finally:
        await context.close()
    assert problems == []
