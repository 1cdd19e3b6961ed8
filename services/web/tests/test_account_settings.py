"""The settings page: password change, sessions, API tokens, and the hostile inputs of
each (docs/security.md, "Web")."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from webmail import devices

Client = TestClient[web.Request, web.Application]
NEW_PASSWORD = "a brand new passphrase"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
COOKIE = "lp_session"


async def browser_login(client: Client, h: Any, address: str, user_agent: str = FIREFOX) -> str:
    """Log in as a new browser would (no session cookie yet); the session's secret."""
    client.session.cookie_jar.clear()
    token = await h.csrf_token(client)
    response = await client.post(
        "/login",
        data={"address": address, "password": h.password, "csrf_token": token},
        headers={"User-Agent": user_agent},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    return response.cookies[COOKIE].value


def use(client: Client, secret: str) -> None:
    """Be the browser that holds ``secret`` (and no other cookie)."""
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE: secret})


async def signed_in(client: Client, secret: str) -> bool:
    use(client, secret)
    response = await client.get("/settings", allow_redirects=False)
    return response.status == 200


async def post(client: Client, h: Any, path: str, data: dict[str, str]) -> Any:
    token = await h.csrf_token(client, "/settings")
    return await client.post(path, data={**data, "csrf_token": token}, allow_redirects=False)


def password_form(
    current: str, new: str = NEW_PASSWORD, confirm: str | None = None
) -> dict[str, str]:
    confirm = new if confirm is None else confirm
    return {"current_password": current, "new_password": new, "confirm_password": confirm}


# -- password ----------------------------------------------------------------------------------


async def test_a_password_change_ends_every_other_session_and_keeps_this_one(
    client: Client, h: Any
) -> None:
    address = await h.register(client)
    elsewhere = await browser_login(client, h, address, SAFARI_IPHONE)
    here = await browser_login(client, h, address)

    response = await post(client, h, "/settings/password", password_form(h.password))

    assert response.status == 303
    assert response.headers["Location"] == "/settings?done=password#password"
    assert await signed_in(client, here)
    assert not await signed_in(client, elsewhere)
    use(client, here)
    page = await (await client.get(response.headers["Location"])).text()
    assert "Your password is changed" in page
    client.session.cookie_jar.clear()
    with pytest.raises(AssertionError):
        await h.login(client, address)  # the old password
    await h.login(client, address, NEW_PASSWORD)


async def test_api_tokens_keep_working_unless_revoked_with_the_change(
    client: Client, h: Any
) -> None:
    address = await h.register(client)
    kept = await h.api_token(client, address)
    await browser_login(client, h, address)

    await post(client, h, "/settings/password", password_form(h.password))
    still = await client.get("/api/v1/messages", headers={"Authorization": f"Bearer {kept}"})
    data = {**password_form(NEW_PASSWORD, "yet another passphrase"), "revoke_tokens": "1"}
    await post(client, h, "/settings/password", data)
    gone = await client.get("/api/v1/messages", headers={"Authorization": f"Bearer {kept}"})

    assert (still.status, gone.status) == (200, 401)


# (id, form, the field whose error is shown next to it)
PASSWORD_FORMS = [
    ("wrong-current", password_form("not my password"), "current_password"),
    ("empty-current", password_form(""), "current_password"),
    ("too-short", password_form("correct horse battery", "short"), "new_password"),
    ("too-long", password_form("correct horse battery", "x" * 1025), "new_password"),
    ("common", password_form("correct horse battery", "password123"), "new_password"),
    ("the-address-local-part", password_form("correct horse battery", "{local}"), "new_password"),
    ("same-as-current", password_form("correct horse battery", "correct horse battery"),
     "new_password"),
    ("confirm-differs", password_form("correct horse battery", confirm="a brand new passphrasE"),
     "confirm_password"),
    ("confirm-empty", password_form("correct horse battery", confirm=""), "confirm_password"),
    ("confirm-trailing-space", password_form("correct horse battery", confirm=NEW_PASSWORD + " "),
     "confirm_password"),
    ("nul-in-new", password_form("correct horse battery", "ab\x00cdefghijkl"), "new_password"),
    ("nul-in-current", password_form("correct\x00horse battery"), "current_password"),
]  # fmt: skip


@pytest.mark.parametrize(("form", "field"), [r[1:] for r in PASSWORD_FORMS],
                         ids=[r[0] for r in PASSWORD_FORMS])  # fmt: skip
async def test_a_refused_password_change_says_why_next_to_the_field_and_changes_nothing(
    client: Client, h: Any, form: dict[str, str], field: str
) -> None:
    address = await h.register(client)
    elsewhere = await browser_login(client, h, address, SAFARI_IPHONE)
    here = await browser_login(client, h, address)
    form = {k: v.replace("{local}", address.partition("@")[0]) for k, v in form.items()}

    response = await post(client, h, "/settings/password", {**form, "revoke_tokens": "1"})

    assert response.status == 422, await response.text()
    page = await response.text()
    if field:
        assert f'id="{field}-error"' in page
        assert f'aria-describedby="{field}-error"' in page
    # Passwords never go back into a page (the address's local part is on every page).
    assert not re.search(r'<input[^>]*type="password"[^>]*value=', page)
    for typed in {form["current_password"], form["new_password"]} - {""}:
        assert typed in address or typed not in page
    assert re.search(r'id="revoke_tokens"[^>]* checked', page)  # the rest is kept
    assert await signed_in(client, elsewhere)
    assert await signed_in(client, here)
    client.session.cookie_jar.clear()
    await h.login(client, address)  # the password is unchanged


async def test_wrong_current_passwords_meet_the_login_throttle(client: Client, h: Any) -> None:
    address = await h.register(client)
    await browser_login(client, h, address)
    form = password_form("not my password")

    statuses = [(await post(client, h, "/settings/password", form)).status for _ in range(11)]

    # The mail store's per-account-and-client limit (10 failures), shared with logins;
    # the test client's loopback is throttled here (web conftest: throttle_trusted).
    assert statuses == [422] * 10 + [429]


# -- sessions --------------------------------------------------------------------------------


async def test_sessions_are_listed_with_device_and_this_browser_marked(
    client: Client, h: Any
) -> None:
    address = await h.register(client)
    await browser_login(client, h, address, SAFARI_IPHONE)
    await browser_login(client, h, address)

    page = await (await client.get("/settings")).text()

    rows = re.findall(r'<tr data-session="\d+">\s*<td>([^<]*)(<strong>\(this browser\))?', page)
    assert sorted((device.strip(), bool(mark)) for device, mark in rows) == [
        ("Firefox on Linux", True),
        ("Safari on iPhone", False),
    ]


async def test_the_settings_page_title_is_its_name(client: Client, h: Any) -> None:
    """The tab title is text: the page once put its whole Delete section in it."""
    address = await h.register(client)
    await h.login(client, address)

    page = await (await client.get("/settings")).text()

    assert re.search(r"<title>(\(\d+\) )?Settings · Localpost</title>", page), page[:600]


async def session_ids(client: Client) -> dict[str, int]:
    page = await (await client.get("/settings")).text()
    rows = re.findall(r'<tr data-session="(\d+)">\s*<td>([^<]*?)\s*(?:<|\n)', page)
    return {device: int(sid) for sid, device in rows}


async def test_one_session_ends_and_ending_this_one_is_logging_out(client: Client, h: Any) -> None:
    address = await h.register(client)
    phone = await browser_login(client, h, address, SAFARI_IPHONE)
    here = await browser_login(client, h, address)
    ids = await session_ids(client)

    ended = await post(client, h, f"/settings/sessions/{ids['Safari on iPhone']}/end", {})
    assert (ended.status, ended.headers["Location"]) == (303, "/settings?done=ended#sessions")
    assert not await signed_in(client, phone)
    assert await signed_in(client, here)

    own = await post(client, h, f"/settings/sessions/{ids['Firefox on Linux']}/end", {})
    assert (own.status, own.headers["Location"]) == (303, "/login")
    assert not await signed_in(client, here)


async def test_sign_out_everywhere_else_keeps_only_this_browser(client: Client, h: Any) -> None:
    address = await h.register(client)
    others = [await browser_login(client, h, address, SAFARI_IPHONE) for _ in range(2)]
    here = await browser_login(client, h, address)

    response = await post(client, h, "/settings/sessions/end-others", {})

    assert response.status == 303
    assert [await signed_in(client, s) for s in [*others, here]] == [False, False, True]


# -- tokens ----------------------------------------------------------------------------------


async def test_a_new_token_is_shown_once_works_and_is_revoked(client: Client, h: Any) -> None:
    address = await h.register(client)
    await browser_login(client, h, address)

    created = await post(client, h, "/settings/tokens", {"name": "backup script"})
    first = await (await client.get(created.headers["Location"])).text()
    second = await (await client.get("/settings")).text()

    assert created.status == 303
    token = re.search(r'<code class="token" id="new-token">(lp_[\w-]+)</code>', first)
    assert token, first
    assert token.group(1) not in second
    bearer = {"Authorization": f"Bearer {token.group(1)}"}
    assert (await client.get("/api/v1/messages", headers=bearer)).status == 200
    token_id = re.search(r'<tr data-token="(\d+)">\s*<td dir="auto">backup script<', second)
    assert token_id
    revoked = await post(client, h, f"/settings/tokens/{token_id.group(1)}/revoke", {})
    assert revoked.status == 303
    assert (await client.get("/api/v1/messages", headers=bearer)).status == 401


# (id, a token name, refused?): refused names get 422 next to the field and keep what
# was typed; accepted ones are shown as text.
TOKEN_NAMES = [
    ("empty", "", True),
    ("blank", "   ", True),
    ("too-long", "x" * 101, True),
    ("nul", "a\x00b", True),
    ("newline", "a\nb", True),
    ("line-separator", "a\u2028b", True),
    ("bidi-override", "a\u202eb", True),
    ("zero-width-space", "a\u200bb", True),
    ("html", "<script>alert(1)</script>", False),
    ("quotes", "\"'><img src=x>", False),
]


@pytest.mark.parametrize(("name", "refused"), [r[1:] for r in TOKEN_NAMES],
                         ids=[r[0] for r in TOKEN_NAMES])  # fmt: skip
async def test_hostile_token_names(client: Client, h: Any, name: str, refused: bool) -> None:
    address = await h.register(client)
    await browser_login(client, h, address)

    response = await post(client, h, "/settings/tokens", {"name": name})
    shown = response if refused else await client.get("/settings")
    page = await shown.text()

    assert response.status == (422 if refused else 303)
    nonce = h.csp_nonce(shown.headers["Content-Security-Policy"])
    assert h.markup_problems(page, nonce=nonce) == []
    if refused:
        assert 'id="token_name-error"' in page
        assert "No tokens yet." in page
    else:
        assert "<script>alert" not in page
        assert "<img src=x>" not in page


def test_a_user_agent_is_summarised_as_browser_and_system() -> None:
    assert devices.summary(FIREFOX) == "Firefox on Linux"
    assert devices.summary(SAFARI_IPHONE) == "Safari on iPhone"
    edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36 Edg/126.0"
    assert devices.summary(edge) == "Edge on Windows"
    assert devices.summary("") == devices.UNKNOWN
    assert devices.summary("Python/3.12 aiohttp/3.9") == devices.UNKNOWN


# -- name, signature, time zone ----------------------------------------------------------------


async def test_the_profile_is_saved_and_used_by_compose(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(
        b"From: Ann <ann@example.com>\r\nSubject: hi\r\nDate: Mon, 01 Jul 2024 23:30:00 +0000"
        b"\r\n\r\nhello\r\n",
        rcpt_to=[address],
    )
    await browser_login(client, h, address)
    form = {"name": "Zoë Z", "signature": "Zoë\r\nLocalpost team", "time_zone": "Asia/Tokyo"}

    saved = await post(client, h, "/settings/profile", form)
    page = await (await client.get("/settings")).text()
    compose = await (await client.get("/compose")).text()
    entry = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]
    reply = await (await client.get(f"/compose?reply={entry}")).text()

    assert (saved.status, saved.headers["Location"]) == (303, "/settings?done=profile#profile")
    assert "<option selected>Asia/Tokyo</option>" in page
    assert "Zoë\nLocalpost team</textarea>" in page
    assert "\n\n-- \nZoë\nLocalpost team\n</textarea>" in compose
    assert "2024-07-02 08:30 JST" in reply  # 23:30 UTC in Tokyo
    assert ">Zoë Z</summary>" in page
    assert 'data-tz="Asia/Tokyo"' in page  # app.js dates every page in it


# (id, form fields, the field whose error is shown next to it)
PROFILE_FORMS = [
    ("unknown-zone", {"time_zone": "Mars/Olympus"}, "time_zone"),
    ("path-as-zone", {"time_zone": "../../../etc/passwd"}, "time_zone"),
    ("zone-with-nul", {"time_zone": "UTC\x00"}, "time_zone"),
    ("long-signature", {"signature": "x" * 2001}, "signature"),
    ("signature-nul", {"signature": "a\x00b"}, "signature"),
    ("signature-escape", {"signature": "a\x1b[31mb"}, "signature"),
    ("signature-bidi-override", {"signature": "a\u202eb"}, "signature"),
    ("signature-line-separator", {"signature": "a\u2028b"}, "signature"),
    ("empty-name", {"name": "  "}, "name"),
    ("name-line-separator", {"name": "a\u2028b"}, "name"),
    ("long-name", {"name": "x" * 201}, "name"),
]


@pytest.mark.parametrize(("form", "field"), [r[1:] for r in PROFILE_FORMS],
                         ids=[r[0] for r in PROFILE_FORMS])  # fmt: skip
async def test_a_refused_profile_says_why_next_to_the_field_and_keeps_what_was_typed(
    client: Client, h: Any, form: dict[str, str], field: str
) -> None:
    address = await h.register(client)
    await browser_login(client, h, address)
    full = {"name": "Kept Name", "signature": "kept signature", "time_zone": "", **form}

    response = await post(client, h, "/settings/profile", full)
    page = await response.text()

    assert response.status == 422
    assert f'id="{field}-error"' in page
    assert f'aria-describedby="{field}-error"' in page
    if field != "signature":
        assert "kept signature</textarea>" in page
    nonce = h.csp_nonce(response.headers["Content-Security-Policy"])
    assert h.markup_problems(page, nonce=nonce) == []
    saved = await (await client.get("/settings")).text()
    assert "kept signature" not in saved


# -- deleting the account --------------------------------------------------------------------


async def test_deleting_the_account_needs_its_password_and_signs_out(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(b"From: a@example.com\r\nSubject: x\r\n\r\nx\r\n", rcpt_to=[address])
    token = await h.api_token(client, address)
    elsewhere = await browser_login(client, h, address, SAFARI_IPHONE)
    here = await browser_login(client, h, address)
    page = await (await client.get("/settings")).text()
    assert "Nothing can be restored" in page

    wrong = await post(client, h, "/settings/delete", {"delete_password": "not it"})
    empty = await post(client, h, "/settings/delete", {"delete_password": ""})
    assert (wrong.status, empty.status) == (422, 422)
    assert 'id="delete_password-error"' in await wrong.text()
    assert await signed_in(client, here)

    deleted = await post(client, h, "/settings/delete", {"delete_password": h.password})

    assert (deleted.status, deleted.headers["Location"]) == (303, "/login?deleted=1")
    client.session.cookie_jar.clear()
    said = await (await client.get(deleted.headers["Location"])).text()
    assert "Your account and its mail are deleted." in said
    assert not await signed_in(client, here)
    assert not await signed_in(client, elsewhere)
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/messages", headers=bearer)).status == 401
    client.session.cookie_jar.clear()
    with pytest.raises(AssertionError):
        await h.login(client, address)
