"""The password-reset page, /reset/<token>: a one-time link from `python -m mailstore
reset-password`, and the hostile inputs it meets (docs/security.md, "Password resets")."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailstore import admin
from webmail.access_log import AccessLogger
from webmail.main import create_app
from webmail.settings import load_config

Client = TestClient[web.Request, web.Application]
NEW_PASSWORD = "a brand new passphrase"
GONE = "This password-reset link does not work"

# What lands on /reset/<token> besides a live link: none may reach one, none is a 5xx.
JUNK_TOKENS = [
    "junk",
    "x" * 43,  # the length of a real one
    "x" * 5000,
    "%00",
    "%ED%A0%80",  # a lone surrogate, encoded
    "%F0%9F%94%91",
    "..%2f..%2fv1%2faccounts",  # a path into the mail store's API
    "a%3Bb%3Fc%23d",
    "%0d%0aSet-Cookie:%20x=1",
]
# (form fields, the field whose error shows, what it says): the sign-up's rules.
PASSWORD_FORMS = [
    ({"new_password": "short", "confirm_password": "short"}, "new_password", "at least 10"),
    ({"new_password": "password123", "confirm_password": "password123"}, "new_password",
     "too common"),
    ({"confirm_password": "not the same thing"}, "confirm_password", "The two differ"),
    ({"confirm_password": ""}, "confirm_password", "Type the new password again"),
    ({"new_password": "", "confirm_password": ""}, "new_password", "at least 10"),
    ({"new_password": "x" * 1025, "confirm_password": "x" * 1025}, "new_password", "at most"),
]  # fmt: skip
# The form's csrf_token: absent, empty, forged, the right length but not signed.
CSRF_TOKENS = [None, "", "forged", "A" * 86]


async def issue(pool: Any, address: str) -> str:
    """The path of a fresh link for ``address``, as the command prints it."""
    link, _ = await admin.issue_reset(pool, address, base_url="http://web.test")
    return link.removeprefix("http://web.test")


async def submit(client: Client, h: Any, path: str, **fields: str) -> Any:
    token = await h.csrf_token(client, path)
    data = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD, **fields}
    return await client.post(path, data={**data, "csrf_token": token}, allow_redirects=False)


async def logs_in(client: Client, h: Any, address: str, password: str) -> bool:
    client.session.cookie_jar.clear()
    token = await h.csrf_token(client)
    response = await client.post(
        "/login",
        data={"address": address, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    return response.status == 303


async def test_a_link_sets_the_password_signs_in_and_ends_every_other_session(
    client: Client, h: Any, pool: Any
) -> None:
    address = await h.register(client)
    await h.login(client, address)
    elsewhere = client.session.cookie_jar.filter_cookies(client.make_url("/"))["lp_session"].value
    client.session.cookie_jar.clear()
    path = await issue(pool, address)

    page = await client.get(path)
    assert page.status == 200
    html = await page.text()
    assert address in html
    assert page.headers["Cache-Control"] == "no-store"
    assert h.markup_problems(html, nonce=h.csp_nonce(page.headers["Content-Security-Policy"])) == []

    response = await submit(client, h, path)
    assert response.status == 303
    assert response.headers["Location"] == "/mail/inbox"
    inbox = await client.get("/mail/inbox", allow_redirects=False)
    assert inbox.status == 200

    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"lp_session": elsewhere})
    assert (await client.get("/mail/inbox", allow_redirects=False)).status == 303
    assert await logs_in(client, h, address, NEW_PASSWORD)
    assert not await logs_in(client, h, address, h.password)


async def test_a_used_link_is_a_clear_404_page(client: Client, h: Any, pool: Any) -> None:
    address = await h.register(client)
    path = await issue(pool, address)
    assert (await submit(client, h, path)).status == 303
    client.session.cookie_jar.clear()

    again = await client.get(path)
    assert again.status == 404
    assert GONE in await again.text()
    token = await h.csrf_token(client, "/login")
    data = {"new_password": "another passphrase!", "confirm_password": "another passphrase!"}
    reused = await client.post(path, data={**data, "csrf_token": token}, allow_redirects=False)
    assert reused.status == 404
    assert GONE in await reused.text()
    assert await logs_in(client, h, address, NEW_PASSWORD)


async def test_an_expired_link_is_a_clear_404_page(client: Client, h: Any, pool: Any) -> None:
    address = await h.register(client)
    path = await issue(pool, address)
    await pool.execute("UPDATE password_resets SET expires_at = now()")
    response = await client.get(path)
    assert response.status == 404
    assert GONE in await response.text()


@pytest.mark.parametrize("token", JUNK_TOKENS)
async def test_a_junk_token_is_a_404_page_never_5xx(
    client: Client, h: Any, pool: Any, token: str
) -> None:
    await issue(pool, await h.register(client))  # a live link exists: junk must not reach it
    response = await client.get(f"/reset/{token}")
    assert response.status == 404
    csrf = await h.csrf_token(client, "/login")
    data = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD, "csrf_token": csrf}
    posted = await client.post(f"/reset/{token}", data=data, allow_redirects=False)
    assert posted.status == 404


@pytest.mark.parametrize("csrf", CSRF_TOKENS)
async def test_a_post_without_a_valid_csrf_token_is_403_and_the_link_still_works(
    client: Client, h: Any, pool: Any, csrf: str | None
) -> None:
    address = await h.register(client)
    path = await issue(pool, address)
    await client.get(path)  # the CSRF cookie
    data = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    if csrf is not None:
        data["csrf_token"] = csrf
    response = await client.post(path, data=data, allow_redirects=False)
    assert response.status == 403
    assert await logs_in(client, h, address, h.password)
    assert (await client.get(path)).status == 200


@pytest.mark.parametrize(("fields", "field", "problem"), PASSWORD_FORMS)
async def test_a_bad_password_is_an_error_next_to_its_field_and_keeps_the_link(
    client: Client, h: Any, pool: Any, fields: dict[str, str], field: str, problem: str
) -> None:
    address = await h.register(client)
    path = await issue(pool, address)
    response = await submit(client, h, path, revoke_tokens="1", **fields)
    assert response.status == 422
    html = await response.text()
    assert f'id="{field}-error"' in html
    assert problem in html
    assert 'aria-describedby="' + field + '-error"' in html
    # Nothing secret is typed back; the checkbox is.
    for value in fields.values():
        if value:
            assert f'value="{value}"' not in html
    assert 'name="revoke_tokens" type="checkbox" value="1" checked' in html
    assert (await client.get(path)).status == 200


async def test_the_address_itself_is_refused_as_a_password(
    client: Client, h: Any, pool: Any
) -> None:
    address = await h.register(client)
    path = await issue(pool, address)
    response = await submit(client, h, path, new_password=address, confirm_password=address)
    assert response.status == 422
    assert "may not be your address" in await response.text()


async def test_api_tokens_survive_a_reset_unless_revoked(client: Client, h: Any, pool: Any) -> None:
    address = await h.register(client)
    kept, revoked = await h.api_token(client, address), await h.api_token(client, address)

    assert (await submit(client, h, await issue(pool, address))).status == 303
    bearer = {"Authorization": f"Bearer {kept}"}
    assert (await client.get("/api/v1/folders", headers=bearer)).status == 200

    client.session.cookie_jar.clear()
    path = await issue(pool, address)
    assert (await submit(client, h, path, revoke_tokens="1")).status == 303
    for token in (kept, revoked):
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/v1/folders", headers=bearer)).status == 401


async def test_reset_pages_are_rate_limited_per_client(client: Client, h: Any, pool: Any) -> None:
    path = await issue(pool, await h.register(client))
    statuses = [(await client.get(f"/reset/guess{n}")).status for n in range(20)]
    assert statuses == [404] * 20
    limited = await client.get(path)
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) > 0


async def test_the_access_log_shows_the_route_instead_of_the_token(
    web_environ: dict[str, str], h: Any, pool: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    server = TestServer(create_app(load_config(web_environ), live=False))
    await server.start_server(access_log_class=AccessLogger)
    async with TestClient(server) as client:
        path = await issue(pool, await h.register(client))
        await submit(client, h, path)
        await client.get("/mail/inbox")

    # The web's own lines (the in-process mail store logs with aiohttp's default logger).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.filename == "access_log.py")
    assert path.rpartition("/")[2] not in logged
    assert '"GET /reset/{token}" 200' in logged
    assert '"POST /reset/{token}" 303' in logged
    assert '"GET /mail/inbox" 200' in logged
