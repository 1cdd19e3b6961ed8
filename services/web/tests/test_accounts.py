"""Registration, login, logout, sessions, CSRF and rate limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp
import bcrypt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailstore.settings import DEV_MAILSTORE_TOKEN
from webmail.main import create_app
from webmail.settings import load_config

Client = TestClient[web.Request, web.Application]


async def _register_form(client: Client, h: Any, **fields: str) -> Any:
    token = await h.csrf_token(client, "/register")
    data = {
        "name": "Ann",
        "password": h.password,
        "confirm_password": fields.get("password", h.password),
        **fields,
        "csrf_token": token,
    }
    return await client.post("/register", data=data, allow_redirects=False)


async def test_register_page_logs_the_new_user_in(client: Client, h: Any) -> None:
    local = h.fresh_address().split("@")[0]
    response = await _register_form(client, h, address=local.upper())

    assert response.status == 303
    cookie = response.cookies["lp_session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    inbox = await client.get("/mail/inbox")
    assert f"{local}@localpost.test" in await inbox.text()


async def test_login_and_registration_wait_for_a_slow_password_check(
    web_environ: dict[str, str], h: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bcrypt on a busy machine outlasts what other mail store calls may take (their
    # WEB_MAILSTORE_TIMEOUT, shortened below the bcrypt here); a correct password must
    # still register and log in.
    monkeypatch.setattr(bcrypt, "hashpw", slowed(bcrypt.hashpw))
    monkeypatch.setattr(bcrypt, "checkpw", slowed(bcrypt.checkpw))
    app = create_app(load_config({**web_environ, "WEB_MAILSTORE_TIMEOUT": "0.3"}), live=False)
    async with TestClient(TestServer(app)) as client:
        address = await h.register(client)
        await h.login(client, address)


def slowed(real: Callable[..., Any]) -> Callable[..., Any]:
    def slow(*args: Any) -> Any:
        time.sleep(0.6)  # on the mail store's worker thread, as a bcrypt would be
        return real(*args)

    return slow


async def test_registration_refuses_weak_passwords_and_foreign_domains(
    client: Client, h: Any
) -> None:
    address = h.fresh_address()
    short = await _register_form(client, h, address=address, password="short")
    same = await _register_form(client, h, address=address, password=address)
    common = await _register_form(client, h, address=address, password="qwertyuiop")
    foreign = await _register_form(client, h, address="ann@example.com")

    assert [r.status for r in (short, same, common, foreign)] == [422] * 4
    assert "at least 10" in await short.text()
    assert "too common" in await common.text()
    assert "must end in" in await foreign.text()
    assert f'value="{address}"' in await short.text()  # input kept


async def test_taken_address_is_refused_case_insensitively(client: Client, h: Any) -> None:
    address = await h.register(client)
    response = await _register_form(client, h, address=address.upper())

    assert response.status == 409
    api = await client.post(
        "/api/v1/accounts", json={"name": "X", "address": address, "password": h.password}
    )
    assert api.status == 409


async def test_api_registration_reports_field_errors(client: Client) -> None:
    response = await client.post(
        "/api/v1/accounts", json={"name": "", "address": "a b", "password": "x"}
    )

    assert response.status == 422
    assert set((await response.json())["fields"]) == {"name", "address", "password"}


async def test_repeated_failed_logins_are_rate_limited_with_a_message(
    client: Client, h: Any
) -> None:
    address = await h.register(client)
    token = await h.csrf_token(client)
    statuses = []
    for _ in range(12):
        response = await client.post(
            "/login", data={"address": address, "password": "nope nope nope", "csrf_token": token}
        )
        statuses.append(response.status)

    assert statuses[-1] == 429
    assert "Too many attempts" in await response.text()
    assert "Retry-After" in response.headers


async def test_correct_logins_on_the_page_from_one_address_are_never_limited(
    client: Client, h: Any
) -> None:
    # A family behind one NAT logging in all day (loopback is held to the per-client
    # limits here, LOCALPOST_THROTTLE_TRUSTED=1): more than the 20 per client and the 10
    # per (account, client) of 15 minutes, each from a new browser (no device cookie,
    # so the account's ceiling applies too). Only failures count.
    address = await h.register(client)
    statuses = []
    for _ in range(25):
        client.session.cookie_jar.clear()
        token = await h.csrf_token(client)
        data = {"address": address, "password": h.password, "csrf_token": token}
        response = await client.post("/login", data=data, allow_redirects=False)
        statuses.append(response.status)
    client.session.cookie_jar.clear()
    token = await h.csrf_token(client)
    wrong = {"address": address, "password": "nope nope nope", "csrf_token": token}
    failures = [(await client.post("/login", data=wrong)).status for _ in range(11)]

    assert statuses == [303] * 25
    assert failures == [401] * 10 + [429]


async def test_registrations_from_one_address_are_rate_limited_with_a_clear_page(
    client: Client, h: Any
) -> None:
    statuses = []
    for _ in range(11):  # auth.REGISTER_PER_IP allows 10 an hour
        response = await _register_form(client, h, address=h.fresh_address())
        statuses.append(response.status)
        client.session.cookie_jar.clear_domain("127.0.0.1")  # each sign-up logs in

    assert statuses == [303] * 10 + [429]
    text = await response.text()
    assert "Too many sign-ups from here. Try again in" in text
    assert 'role="alert"' in text
    assert int(response.headers["Retry-After"]) > 0
    api = await client.post(
        "/api/v1/accounts",
        json={"name": "Ann", "address": h.fresh_address(), "password": h.password},
    )
    assert api.status == 429
    assert "Too many attempts" in (await api.json())["error"]


async def test_failed_smtp_logins_count_towards_the_web_login_limit(
    client: Client, h: Any, mailstore_url: str
) -> None:
    # What the gateway sends for a wrong AUTH from this client (127.0.0.1): the mail
    # store keeps one count for every channel.
    address = await h.register(client)
    async with aiohttp.ClientSession() as session:
        for _ in range(10):
            body = {
                "address": address,
                "password": "not the password",
                "client": "127.0.0.1",
                "channel": "smtp",
            }
            async with session.post(
                f"{mailstore_url}/v1/auth/verify",
                json=body,
                headers={"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"},
            ) as response:
                assert response.status == 401

    token = await h.csrf_token(client)
    data = {"address": address, "password": h.password, "csrf_token": token}
    response = await client.post("/login", data=data, allow_redirects=False)

    assert response.status == 429
    assert "Too many attempts" in await response.text()
