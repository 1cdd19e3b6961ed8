"""Static files under versioned URLs, cached for a year and gzipped; pages gzipped only
where no signed-in user's mail is in them (BREACH: middlewares.compression_middleware);
the CSRF token masked afresh in every response."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from webmail import assets

Client = TestClient[web.Request, web.Application]
GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}
_LINKED = re.compile(r'(?:href|src)="(/static/([^"?]+)\?v=([0-9a-f]+))"')


async def test_pages_link_each_file_under_its_content_hash_cached_for_a_year(
    client: Client,
) -> None:
    page = await (await client.get("/login")).text()
    linked = _LINKED.findall(page)

    assert {name for _, name, _ in linked} == {"app.css", "app.js", "favicon.svg"}
    for url, name, version in linked:
        body = (assets.STATIC / name).read_bytes()
        assert version == hashlib.sha256(body).hexdigest()[:16]
        response = await client.get(url, headers=GZIP)
        assert response.status == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Vary"] == "Accept-Encoding"
        assert await response.read() == body  # the client undoes the gzip


@pytest.mark.parametrize("query", ["", "?v=0123456789abcdef", "?v="])
async def test_a_url_without_the_current_hash_is_revalidated_not_kept(
    client: Client, query: str
) -> None:
    response = await client.get(f"/static/app.css{query}")

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert await response.read() == (assets.STATIC / "app.css").read_bytes()


async def test_a_client_that_refuses_gzip_gets_the_plain_file_with_its_own_etag(
    client: Client,
) -> None:
    plain = await client.get(assets.url("app.js"), headers=PLAIN)
    packed = await client.get(assets.url("app.js"), headers=GZIP)

    assert "Content-Encoding" not in plain.headers
    assert await plain.read() == (assets.STATIC / "app.js").read_bytes()
    assert plain.headers["ETag"] != packed.headers["ETag"]


async def test_a_cached_copy_is_confirmed_with_304(client: Client) -> None:
    first = await client.get(assets.url("app.css"), headers=GZIP)
    again = await client.get(
        assets.url("app.css"), headers={**GZIP, "If-None-Match": first.headers["ETag"]}
    )

    assert again.status == 304
    assert await again.read() == b""


@pytest.mark.parametrize("name", ["nothing.css", "..%2Fsettings.py", ".hidden"])
async def test_files_outside_static_are_not_found(client: Client, name: str) -> None:
    response = await client.get(f"/static/{name}")

    assert response.status == 404


# (Accept-Encoding, whether gzip is allowed: RFC 9110 §12.5.3)
ACCEPT_ENCODINGS = [
    ("gzip, deflate, br, zstd", True),
    ("GZIP", True),
    ("x-gzip", True),
    ("gzip;q=0.5", True),
    ("*", True),
    ("", False),
    ("identity", False),
    ("deflate, br", False),
    ("gzip;q=0", False),
    ("gzip;q=0.000", False),
    ("*;q=0", False),
    ("gzip;q=0, *", False),
    ("*, gzip;q=0", False),
    ("gzip;q=nonsense", False),
    ("gzipped", False),
]


@pytest.mark.parametrize(("value", "allowed"), ACCEPT_ENCODINGS)
def test_accept_encoding_is_read_with_its_q_values(value: str, allowed: bool) -> None:
    assert assets.accepts_gzip(value) is allowed


async def test_pages_for_nobody_signed_in_are_gzipped(client: Client) -> None:
    response = await client.get("/login?next=/search%3Fq%3Dsecret", headers=GZIP)

    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert "Log in" in await response.text()


async def test_signed_in_pages_are_never_compressed(client: Client, h: Any) -> None:
    await h.login(client, await h.register(client))

    for path in ("/mail/inbox", "/search?q=invoice", "/compose", "/no/such/page"):
        response = await client.get(path, headers=GZIP)
        assert response.status in (200, 404)
        assert "Content-Encoding" not in response.headers, path


async def test_bearer_token_calls_are_gzipped(client: Client, h: Any) -> None:
    token = await h.api_token(client, await h.register(client))

    response = await client.get(
        "/api/v1/openapi.json", headers={**GZIP, "Authorization": f"Bearer {token}"}
    )

    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "paths" in await response.json()


async def test_the_csrf_token_differs_in_every_response_and_each_one_works(
    client: Client, h: Any
) -> None:
    address = await h.register(client)
    first, second = await h.csrf_token(client), await h.csrf_token(client)
    # One bit changed in the pad half leaves the token's meaning changed too.
    flipped = ("B" if second[0] == "A" else "A") + second[1:]

    assert first != second
    for token, status in ((flipped, 403), (second, 401), (first, 303)):
        data = {
            "address": address,
            "password": h.password if status == 303 else "wrong password!",
            "csrf_token": token,
        }
        response = await client.post("/login", data=data, allow_redirects=False)
        assert response.status == status, token
