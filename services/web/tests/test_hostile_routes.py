"""Every route, found in the router rather than listed by hand, so that a route added
later is checked without anyone remembering to: each state-changing one refuses a
request without a valid CSRF token, and each one that takes an id answers 404 for
another account's id (docs/security.md, "Web")."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from webmail import middlewares
from webmail.main import create_app
from webmail.settings import load_config

Client = TestClient[web.Request, web.Application]

# create_app does no I/O: the route table is known at collection time.
ROUTER = create_app(load_config({"LOCALPOST_DEV": "1"}), live=False).router
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Calls that carry no ambient authority (middlewares._NO_AMBIENT_AUTHORITY): JSON or
# HTTP Basic only, which a cross-site page cannot send.
NO_AMBIENT_AUTHORITY = {"/api/v1/accounts", "/api/v1/tokens"}
# Queries by mail programs that change nothing (middlewares._NO_STATE_CHANGE): Outlook's
# Autodiscover, which a cross-site page may POST to and learn nothing it could not GET.
NO_STATE_CHANGE = {"/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"}
# aiohttp's {name:regex} variables; the regex may itself hold {m,n}.
_VARIABLE = re.compile(r"\{(\w+)(?::(?:[^{}]|\{[^{}]*\})*)?\}")


def _choices(canonical: str, name: str) -> list[str]:
    """The alternatives of a ``{name:a|b|c}`` variable."""
    match = re.search(rf"\{{{name}:([a-z|]+)\}}", canonical)
    return match.group(1).split("|") if match else []


def _fill(canonical: str, values: dict[str, str]) -> str:
    # A KeyError here is a new path variable: give it a sample value below.
    return _VARIABLE.sub(lambda m: values[m.group(1)], canonical)


def _routes() -> list[tuple[str, str, str]]:
    """(route name, method, canonical path) of every route but static files."""
    return [
        (route.name or "", route.method, route.resource.canonical)
        for route in ROUTER.routes()
        if route.resource is not None and route.name != "static"
    ]


# -- CSRF ------------------------------------------------------------------------------------

STATE_CHANGING = [
    (f"{method} {canonical}", method, canonical)
    for _, method, canonical in _routes()
    if method not in SAFE_METHODS and canonical not in NO_AMBIENT_AUTHORITY | NO_STATE_CHANGE
]
# (id, how the token is presented: form field / header, its value; or an Authorization
# header sent instead of a token)
TOKENS = [
    ("no-token", None, None),
    ("empty-field", "field", ""),
    ("forged-field", "field", "AAAA"),
    ("forged-header", "header", "AAAA"),
    ("token-of-no-session", "field", "anonymous"),
    ("token-of-no-session-header", "header", "anonymous"),
    # An Authorization header that authenticates nothing leaves the cookie in charge:
    # it must not exempt the request from the token as a bearer token does.
    ("empty-authorization", "authorization", ""),
    ("blank-authorization", "authorization", "  "),
]


def test_the_csrf_table_covers_every_state_changing_route() -> None:
    assert len(STATE_CHANGING) >= 8  # the router was read, not an empty list
    assert set(middlewares._NO_AMBIENT_AUTHORITY) == NO_AMBIENT_AUTHORITY
    assert set(middlewares._NO_STATE_CHANGE) == NO_STATE_CHANGE
    every = {(m, c) for _, m, c in _routes() if m not in SAFE_METHODS}
    assert every == {(m, c) for _, m, c in STATE_CHANGING} | {
        ("POST", path) for path in NO_AMBIENT_AUTHORITY | NO_STATE_CHANGE
    }


@pytest.mark.parametrize(("method", "canonical"), [r[1:] for r in STATE_CHANGING],
                         ids=[r[0] for r in STATE_CHANGING])  # fmt: skip
@pytest.mark.parametrize(("where", "value"), [r[1:] for r in TOKENS], ids=[r[0] for r in TOKENS])
async def test_every_state_changing_route_refuses_a_missing_or_wrong_csrf_token(
    client: Client,
    h: Any,
    deliver: Any,
    method: str,
    canonical: str,
    where: str | None,
    value: str | None,
) -> None:
    anonymous = await h.csrf_token(client)  # before login: bound to no session
    address = await h.register(client)
    await deliver(b"From: a@example.com\r\nSubject: keep\r\n\r\nx\r\n", rcpt_to=[address])
    await h.login(client, address)
    entry = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]
    path = _fill(
        canonical,
        {
            "id": str(entry),
            "action": "delete",
            "n": "0",
            "folder": "inbox",
            "token": "t" * 43,
            "address": address,
            "domain": "localpost.test",
        },
    )
    token = anonymous if value == "anonymous" else value
    data: dict[str, str] = {"action": "delete", "ids": str(entry), "to": address, "body": "x"}
    headers: dict[str, str] = {}
    if where == "field" and token is not None:
        data["csrf_token"] = token
    elif where == "header" and token is not None:
        headers["X-CSRF-Token"] = token
    elif where == "authorization" and token is not None:
        headers["Authorization"] = token

    response = await client.request(method, path, data=data, headers=headers, allow_redirects=False)

    assert response.status == 403, await response.text()
    still = await client.get(f"/api/v1/messages/{entry}")
    assert (await still.json())["folder"] == "inbox"


# (path, what a cross-site page can send there, expected status): the session cookie
# rides along and must confer nothing.
AMBIENT = [
    ("/api/v1/tokens", "application/x-www-form-urlencoded", b"name=x", 401),
    ("/api/v1/tokens", "text/plain", b'{"name": "x"}', 401),
    ("/api/v1/accounts", "application/x-www-form-urlencoded", b"name=a&address=b&password=c", 422),
    ("/api/v1/accounts", "text/plain", b'{"name": "A", "address": "b", "password": "c"}', 422),
    ("/api/v1/accounts", "multipart/form-data; boundary=x", b"--x--\r\n", 422),
]


@pytest.mark.parametrize(("path", "content_type", "body", "status"), AMBIENT)
async def test_calls_without_csrf_tokens_take_nothing_from_the_cookie(
    client: Client, h: Any, path: str, content_type: str, body: bytes, status: int
) -> None:
    await h.login(client, await h.register(client))

    response = await client.post(path, data=body, headers={"Content-Type": content_type})

    assert response.status == status


# -- another account's ids --------------------------------------------------------------------

ID_ROUTES = [
    (f"{method} {path}", method, path)
    for _, method, canonical in _routes()
    if "{id" in canonical and method != "HEAD"
    for action in _choices(canonical, "action") or [""]
    for path in [_fill(canonical, {"id": "{id}", "action": action, "n": "0"})]
] + [
    (f"GET /compose?{mode}={{id}}", "GET", f"/compose?{mode}={{id}}")
    for mode in ("reply", "reply_all", "forward", "draft")
]


def test_the_id_table_covers_every_route_with_an_id() -> None:
    with_ids = {(m, c) for _, m, c in _routes() if "{id" in c and m != "HEAD"}
    assert len(with_ids) >= 8
    assert len(ID_ROUTES) >= len(with_ids) + 4


def _owners_message() -> bytes:
    return (
        b"From: ann@example.com\r\nSubject: private\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>private</p>\r\n"
        b'--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="a.txt"'
        b"\r\n\r\nsecret\r\n--b--\r\n"
    )


@pytest.mark.parametrize("principal", ["session", "bearer"])
@pytest.mark.parametrize(("method", "path"), [r[1:] for r in ID_ROUTES],
                         ids=[r[0] for r in ID_ROUTES])  # fmt: skip
async def test_another_accounts_id_is_404_on_every_route(
    client: Client, h: Any, deliver: Any, pool: Any, principal: str, method: str, path: str
) -> None:
    owner = await h.register(client)
    await deliver(_owners_message(), rcpt_to=[owner])
    created = await client.post("/api/v1/tokens", headers=h.basic(owner, h.password))
    owner_token = await created.json()
    bearer = {"Authorization": f"Bearer {owner_token['token']}"}
    listing = await (await client.get("/api/v1/messages", headers=bearer)).json()
    entry = listing["messages"][0]["id"]
    intruder = await h.register(client)
    if principal == "session":
        await h.login(client, intruder)
        headers = {"X-CSRF-Token": await h.csrf_token(client, "/mail/inbox")}
    else:
        headers = {"Authorization": f"Bearer {await h.api_token(client, intruder)}"}
    target = entry
    if path.startswith(("/api/v1/tokens/", "/settings/tokens/")):
        target = owner_token["id"]
    elif path.startswith("/settings/sessions/"):
        target = await pool.fetchval(
            """
            INSERT INTO sessions (secret_hash, account_id, expires_at)
            SELECT $1, id, now() + interval '1 day' FROM accounts WHERE address = $2
            RETURNING id
            """,
            secrets.token_bytes(32),
            owner,
        )
    data = {"action": "read"} if method != "GET" else None

    response = await client.request(method, path.format(id=target), headers=headers, data=data)

    assert response.status == 404
    if path.startswith("/api/v1/admin/"):
        # Not an administrator: the answer of an unknown API path (views/api_admin.py).
        assert await response.json() == {"error": "not found"}
    elif path.startswith("/api/"):
        assert await response.json() == {"error": "There is nothing here."}
    still = await (await client.get(f"/api/v1/messages/{entry}", headers=bearer)).json()
    assert (still["folder"], still["unread"]) == ("inbox", True)
    # The owner's token still works (DELETE /api/v1/tokens/{id} named it), and so does
    # the owner's session (/settings/sessions/{id}/end named it).
    assert (await client.get("/api/v1/messages", headers=bearer)).status == 200
    if path.startswith("/settings/sessions/"):
        assert await pool.fetchval("SELECT count(*) FROM sessions WHERE id = $1", target) == 1
