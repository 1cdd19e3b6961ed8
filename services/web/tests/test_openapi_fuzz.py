"""Schemathesis over /api/v1's OpenAPI document, against the real app on a socket (with
the real mail store and PostgreSQL behind it): no 5xx, and every answer is one the
document promises, in the shape it promises.

Hypothesis is derandomised and bounded (EXAMPLES per operation), so a run is the same
every time and takes seconds; raise LOCALPOST_FUZZ_EXAMPLES for a longer hunt."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore.testing import fuzz_openapi
from webmail.openapi import OPENAPI

Client = TestClient[web.Request, web.Application]

EXAMPLES = int(os.environ.get("LOCALPOST_FUZZ_EXAMPLES", "25"))


async def test_the_api_keeps_its_openapi_promises(client: Client, h: Any, deliver: Any) -> None:
    address = await h.register(client)
    await deliver(
        b"From: Ann <ann@example.com>\r\nTo: you\r\nSubject: listed\r\n\r\nhello\r\n",
        rcpt_to=[address],
    )
    token = await h.api_token(client, address)
    base_url = str(client.make_url("")).rstrip("/")

    # The fuzzer's HTTP client blocks: it runs in a thread while this loop serves.
    failures, statuses = await asyncio.to_thread(
        fuzz_openapi,
        OPENAPI,
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        examples=EXAMPLES,
        # Revoking a token may revoke the caller's own.
        last=("DELETE /api/v1/tokens",),
    )

    assert failures == []
    # The token worked throughout: every call that takes it got past authentication.
    assert statuses["GET /api/v1/messages"] >= {200}
    assert statuses["GET /api/v1/search"] >= {200}
    assert statuses["GET /api/v1/messages/{id}"] >= {404}
    assert 401 not in statuses["GET /api/v1/messages/{id}/raw"]
