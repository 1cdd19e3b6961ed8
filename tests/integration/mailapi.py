"""A thin client of mailstore's internal API (docs/architecture.md), for tests."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import aiohttp


class MailstoreAPI:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.http = http
        self.base = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(
            method, self.base + path, headers=self.headers, **kwargs
        ) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.read()

    async def create_account(self, address: str, password: str, name: str = "") -> None:
        status, body = await self.call(
            "POST",
            "/v1/accounts",
            json={"address": address, "password": password, "name": name or address},
        )
        assert status == 201, (status, body)

    async def folder(self, address: str, folder: str = "inbox", limit: int = 200) -> list[Any]:
        """Every message in ``folder``, following the cursor to the end."""
        messages: list[Any] = []
        cursor = None
        while True:
            params = {"folder": folder, "limit": str(limit)}
            if cursor:
                params["cursor"] = cursor
            status, body = await self.call(
                "GET", f"/v1/accounts/{quote(address)}/messages", params=params
            )
            assert status == 200, (status, body)
            messages.extend(body["messages"])
            cursor = body["next_cursor"]
            if not cursor:
                return messages

    async def message(self, address: str, message_id: int | str) -> Any:
        status, body = await self.call(
            "GET", f"/v1/accounts/{quote(address)}/messages/{message_id}"
        )
        assert status == 200, (status, body)
        return body

    async def wait_for(
        self, address: str, count: int, folder: str = "inbox", timeout: float = 20.0
    ) -> list[Any]:
        """Wait until ``folder`` holds at least ``count`` messages; return them."""
        deadline = time.monotonic() + timeout
        while True:
            messages = await self.folder(address, folder)
            if len(messages) >= count:
                return messages
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{address}/{folder}: {len(messages)} of {count} after {timeout}s"
                )
            await asyncio.sleep(0.1)
