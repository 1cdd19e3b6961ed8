from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from smtp_gateway.main import create_app
from smtp_gateway.settings import load_config


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = create_app(load_config({"LOCALPOST_DEV": "1"}))
    async with TestClient(TestServer(app)) as client:
        yield client
