from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailstore.main import create_app
from mailstore.settings import Config

Client = TestClient[web.Request, web.Application]


async def test_healthz_is_200_ok(client: Client) -> None:
    response = await client.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_200_when_the_database_answers_without_a_consumer(client: Client) -> None:
    response = await client.get("/readyz")

    assert response.status == 200
    assert await response.json() == {"status": "ready"}


async def test_readyz_is_503_with_a_reason_while_the_broker_is_unreachable(
    config: Config, pool: Any
) -> None:
    unreachable = dataclasses.replace(config, amqp_url="amqp://guest:guest@127.0.0.1:1/")
    async with TestClient(TestServer(create_app(unreachable))) as client:
        response = await client.get("/readyz")

        assert response.status == 503
        body = await response.json()
        assert body["status"] == "unavailable"
        assert "broker" in body["reason"]


async def test_metrics_are_prometheus_text(client: Client) -> None:
    response = await client.get("/metrics")

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    for name in (
        "mailstore_messages_stored_total",
        "mailstore_duplicates_skipped_total",
        "mailstore_dead_lettered_total",
        "mailstore_parse_errors_total",
        "mailstore_processing_seconds_bucket",
    ):
        assert name in text


async def test_openapi_describes_exactly_the_routes(client: Client) -> None:
    response = await client.get("/openapi.json")
    document = await response.json()

    assert document["openapi"].startswith("3.1")
    described = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    routed = set()
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        if route.method != "HEAD":
            routed.add((route.method, path.replace("{id:[0-9]{1,20}}", "{id}")))
    routed = {(m, p.replace("{n:[0-9]{1,10}}", "{n}")) for m, p in routed}
    assert described == routed
