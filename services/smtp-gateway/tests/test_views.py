from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]


async def test_healthz_is_200_ok(client: Client) -> None:
    response = await client.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_503_until_the_pipeline_exists(client: Client) -> None:
    response = await client.get("/readyz")

    assert response.status == 503
    body = await response.json()
    assert body["status"] == "starting"
    assert body["reason"]
