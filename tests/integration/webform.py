"""The web's forms as a script posts them: the CSRF token of a page, and a login."""

from __future__ import annotations

import re

import aiohttp

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_token(http: aiohttp.ClientSession, path: str) -> str:
    """The CSRF token the form on ``path`` carries."""
    token = _CSRF.search(await (await http.get(path)).text())
    assert token is not None, f"no csrf_token on {path}"
    return token.group(1)


async def log_in(http: aiohttp.ClientSession, address: str, password: str) -> None:
    """Log ``http`` in through the login form; its cookie jar keeps the session."""
    form = {
        "address": address,
        "password": password,
        "csrf_token": await csrf_token(http, "/login"),
    }
    async with http.post("/login", data=form, allow_redirects=False) as response:
        assert response.status == 303, await response.text()
