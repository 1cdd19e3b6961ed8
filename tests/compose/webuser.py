"""A person at the webmail, from outside: forms with their CSRF tokens, the JSON API
with a token, and the live stream, all over the published HTTP port."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "compose journey passphrase"


class WebUser:
    def __init__(self, base_url: str, address: str, password: str = PASSWORD) -> None:
        self.base = base_url.rstrip("/")
        self.address = address
        self.password = password
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies for 127.0.0.1
            timeout=aiohttp.ClientTimeout(total=60),
        )
        self.token: str | None = None

    async def close(self) -> None:
        await self.http.close()

    async def _csrf(self, path: str) -> str:
        async with self.http.get(self.base + path) as response:
            assert response.status == 200, (path, response.status)
            match = _CSRF.search(await response.text())
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    async def _post_form(self, path: str, form: aiohttp.FormData | dict[str, str]) -> None:
        async with self.http.post(self.base + path, data=form, allow_redirects=False) as resp:
            # A form that worked answers 303 See Other; anything else shows the page again.
            assert resp.status == 303, (path, resp.status, (await resp.text())[:2000])

    async def register(self, name: str) -> None:
        token = await self._csrf("/register")
        local = self.address.partition("@")[0]
        form = {
            "csrf_token": token,
            "name": name,
            "address": local,
            "password": self.password,
            "confirm_password": self.password,
        }
        await self._post_form("/register", form)

    async def login(self) -> None:
        token = await self._csrf("/login")
        form = {"csrf_token": token, "address": self.address, "password": self.password}
        await self._post_form("/login", form)

    async def compose(
        self, *, to: str, subject: str, body: str, attachment: tuple[str, bytes] | None = None
    ) -> None:
        """Send from the compose page as a browser does: Cc empty, not left out."""
        form = aiohttp.FormData()
        form.add_field("csrf_token", await self._csrf("/compose"))
        for name, value in (("in_reply_to", ""), ("references", ""), ("to", to), ("cc", "")):
            form.add_field(name, value)
        form.add_field("subject", subject)
        form.add_field("body", body)
        if attachment is not None:
            filename, data = attachment
            form.add_field(
                "attachments", data, filename=filename, content_type="application/octet-stream"
            )
        await self._post_form("/compose", form)

    # --- the JSON API ------------------------------------------------------------

    async def api(self, method: str, path: str, **kwargs: Any) -> Any:
        if self.token is None:
            basic = {"Authorization": aiohttp.encode_basic_auth(self.address, self.password)}
            async with self.http.post(self.base + "/api/v1/tokens", headers=basic) as response:
                assert response.status == 201, await response.text()
                self.token = (await response.json())["token"]
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(
            method, self.base + path, headers=headers, **kwargs
        ) as response:
            assert response.status == 200, (path, response.status, await response.text())
            return await response.json()

    async def folder(self, folder: str = "inbox") -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        params = {"folder": folder, "limit": "200"}
        while True:
            page = await self.api("GET", "/api/v1/messages", params=params)
            messages.extend(page["messages"])
            if not page.get("next_cursor"):
                return messages
            params["cursor"] = page["next_cursor"]

    # --- live updates ------------------------------------------------------------

    @asynccontextmanager
    async def live(self) -> AsyncIterator[asyncio.Queue[tuple[str, dict[str, Any]]]]:
        """The page's live stream (/live/events) as a queue of (event, data)."""
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        response = await self.http.get(
            self.base + "/live/events", timeout=aiohttp.ClientTimeout(total=None)
        )
        assert response.status == 200, response.status

        async def read() -> None:
            event, data = "message", ""
            async for raw in response.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif not line and data:
                    await queue.put((event, json.loads(data)))
                    event, data = "message", ""

        reader = asyncio.create_task(read())
        try:
            yield queue
        finally:
            reader.cancel()
            response.close()


async def next_event(
    queue: asyncio.Queue[tuple[str, dict[str, Any]]], name: str, *, timeout: float
) -> dict[str, Any]:
    """The next event called ``name``, skipping others; TimeoutError past ``timeout``."""
    async with asyncio.timeout(timeout):
        while True:
            event, data = await queue.get()
            if event == name:
                return data
