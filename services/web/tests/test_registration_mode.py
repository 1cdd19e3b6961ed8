"""LOCALPOST_REGISTRATION: "open" (the default) lets anyone sign up; "invite" and
"closed" refuse the sign-up page, its form and the API with a 403 that says why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from webmail.main import create_app
from webmail.settings import ConfigError, load_config

Client = TestClient[web.Request, web.Application]
SAYS = {"invite": "needs an invitation", "closed": "Sign-up is closed here"}


@pytest.fixture(params=["invite", "closed"])
async def closed_client(
    request: pytest.FixtureRequest, web_environ: dict[str, str]
) -> AsyncIterator[tuple[Client, str]]:
    mode = request.param
    app = create_app(load_config({**web_environ, "LOCALPOST_REGISTRATION": mode}), live=False)
    async with TestClient(TestServer(app)) as client:
        yield client, mode


async def test_sign_up_is_refused_with_a_page_that_says_why(
    closed_client: tuple[Client, str], h: Any, pool: Any
) -> None:
    client, mode = closed_client
    page = await client.get("/register")
    assert page.status == 403
    assert SAYS[mode] in await page.text()

    address = h.fresh_address()
    token = await h.csrf_token(client, "/login")
    form = {"name": "Eve", "address": address, "password": h.password, "csrf_token": token}
    form["confirm_password"] = h.password
    posted = await client.post("/register", data=form, allow_redirects=False)
    assert posted.status == 403
    assert SAYS[mode] in await posted.text()

    body = {"name": "Eve", "address": address, "password": h.password}
    api = await client.post("/api/v1/accounts", json=body)
    assert api.status == 403
    assert SAYS[mode] in (await api.json())["error"]

    assert await pool.fetchval("SELECT count(*) FROM accounts WHERE address = $1", address) == 0
    login = await (await client.get("/login")).text()
    assert 'href="/register"' not in login


async def test_an_open_registration_offers_sign_up(client: Client) -> None:
    assert (await client.get("/register")).status == 200
    assert 'href="/register"' in await (await client.get("/login")).text()


async def test_existing_accounts_still_log_in_when_sign_up_is_closed(
    client: Client, closed_client: tuple[Client, str], h: Any
) -> None:
    address = await h.register(client)  # while open
    await h.login(closed_client[0], address)


def test_an_unknown_mode_is_refused_by_name(web_environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config({**web_environ, "LOCALPOST_REGISTRATION": "Open"})
    assert excinfo.value.variable == "LOCALPOST_REGISTRATION"
