"""Health, security headers, error pages."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from webmail.main import create_app
from webmail.settings import DEV_MAILSTORE_TOKEN, load_config

Client = TestClient[web.Request, web.Application]


async def test_healthz_is_200_ok(client: Client) -> None:
    response = await client.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_200_when_mailstore_and_submission_answer(client: Client) -> None:
    response = await client.get("/readyz")

    assert response.status == 200, await response.text()
    assert (await response.json())["checks"] == {"mailstore": True, "submission": True}


METRICS_AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}


async def test_metrics_are_prometheus_text(client: Client) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics", headers=METRICS_AUTH)

    assert response.status == 200
    assert "webmail_requests_total" in await response.text()


# Authorization headers that must not open /metrics (None: no header at all).
METRICS_CREDENTIALS = [None, "", "Bearer", "Bearer wrong-token-of-the-same-size-00",
                       "Basic Zm9vOmJhcg==", f"Basic {DEV_MAILSTORE_TOKEN}",
                       DEV_MAILSTORE_TOKEN]  # fmt: skip


@pytest.mark.parametrize("authorization", METRICS_CREDENTIALS)
async def test_metrics_need_the_service_token(client: Client, authorization: str | None) -> None:
    # The webmail port is public: its login counters are nobody else's business.
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.get("/metrics", headers=headers)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "webmail_" not in await response.text()


async def test_unknown_page_is_a_real_404_page(client: Client) -> None:
    response = await client.get("/no/such/page")

    assert response.status == 404
    assert "<h1>404" in await response.text()


async def test_static_assets_are_served_by_the_web_itself(client: Client) -> None:
    for name in ("app.css", "app.js"):
        response = await client.get(f"/static/{name}")
        assert response.status == 200


async def test_mail_pages_redirect_to_login_when_signed_out(client: Client) -> None:
    response = await client.get("/mail/inbox", allow_redirects=False)

    assert response.status == 303
    assert response.headers["Location"].startswith("/login?next=/mail/inbox")


async def test_readyz_is_503_when_the_mailstore_is_unreachable(
    web_environ: dict[str, str], unused_tcp_port: int
) -> None:
    environ = {**web_environ, "MAILSTORE_URL": f"http://127.0.0.1:{unused_tcp_port}"}
    app = create_app(load_config(environ), live=False)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/readyz")

        assert response.status == 503
        answer = await response.json()
        assert answer["status"] == "unavailable"
        assert answer["checks"] == {"mailstore": False, "submission": True}
        assert (await client.get("/healthz")).status == 200  # alive, just not ready


async def test_a_wrong_service_token_is_an_outage_not_a_wrong_password(
    web_environ: dict[str, str], h: Any, client: Client
) -> None:
    address = await h.register(client)
    environ = {**web_environ, "MAILSTORE_TOKEN": "not-the-mail-stores-token"}
    app = create_app(load_config(environ), live=False)
    async with TestClient(TestServer(app)) as misconfigured:
        token = await h.csrf_token(misconfigured)
        data = {"address": address, "password": h.password, "csrf_token": token}
        page = await misconfigured.post("/login", data=data)
        api = await misconfigured.post("/api/v1/tokens", headers=h.basic(address, h.password))

        assert page.status == api.status == 503
        assert "Wrong address or password" not in await page.text()
