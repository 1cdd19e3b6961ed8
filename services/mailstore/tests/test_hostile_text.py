"""Text PostgreSQL cannot store, in every text parameter of the API: NUL (``text`` holds
none: "invalid byte sequence 0x00") and lone surrogates (no UTF-8 encoding: asyncpg
raises before sending). Each must be the caller's 4xx, never a 500 from the driver;
and search text PostgreSQL's tsquery parser gives up on is 422, not 500."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore.settings import DEV_MAILSTORE_TOKEN

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE = "alice@localpost.test"
PASSWORD = "correct horse battery"
ACCOUNT = f"/v1/accounts/{ALICE}"

# (id, method, path, query or None, JSON body or None); "{x}" is where the bad text goes.
TEXT_PARAMETERS = [
    ("directory-prefix", "GET", "/v1/directory", {"prefix": "al{x}"}, None),
    ("search-q", "GET", ACCOUNT + "/search", {"q": "hello{x}"}, None),
    ("search-from", "GET", ACCOUNT + "/search", {"q": "from:al{x}"}, None),
    ("search-subject", "GET", ACCOUNT + "/search", {"q": 'subject:"a{x}"'}, None),
    ("list-folder", "GET", ACCOUNT + "/messages", {"folder": "inbox{x}"}, None),
    ("list-cursor", "GET", ACCOUNT + "/messages", {"cursor": "MjAy{x}"}, None),
    ("search-cursor", "GET", ACCOUNT + "/search", {"q": "a", "cursor": "MjAy{x}"}, None),
    ("list-limit", "GET", ACCOUNT + "/messages", {"limit": "5{x}"}, None),
    ("folder-counts", "GET", ACCOUNT + "/folders", {"counts": "all{x}"}, None),
    ("create-address", "POST", "/v1/accounts", None,
     {"address": "bob{x}@localpost.test", "name": "Bob", "password": PASSWORD}),
    ("create-name", "POST", "/v1/accounts", None,
     {"address": "bob@localpost.test", "name": "Bob{x}", "password": PASSWORD}),
    ("verify-address", "POST", "/v1/auth/verify", None,
     {"address": ALICE + "{x}", "password": PASSWORD}),
    ("verify-password", "POST", "/v1/auth/verify", None,
     {"address": ALICE, "password": PASSWORD + "{x}"}),
    ("session-address", "POST", "/v1/sessions", None, {"address": ALICE + "{x}"}),
    ("token-name", "POST", ACCOUNT + "/tokens", None, {"name": "cli{x}"}),
    ("throttle-key", "POST", "/v1/throttle", None, {"key": "k{x}", "limit": 5, "window": 60}),
    ("bulk-action", "POST", ACCOUNT + "/messages/bulk", None, {"action": "read{x}", "ids": [1]}),
    ("json-key", "POST", "/v1/sessions", None, {"address": ALICE, "x{x}": 1}),
    ("session-secret-path", "GET", "/v1/sessions/s{x}", None, None),
    ("end-session-path", "DELETE", "/v1/sessions/s{x}", None, None),
    ("token-path", "GET", "/v1/tokens/t{x}", None, None),
    ("throttle-key-path", "DELETE", "/v1/throttle/k{x}", None, None),
    ("mailbox-path", "GET", "/v1/mailboxes/al{x}@localpost.test", None, None),
    ("account-path", "GET", "/v1/accounts/al{x}@localpost.test/folders", None, None),
]  # fmt: skip
# Values only hashed or looked up, never stored: NUL there is no error (logging out of
# "s\x00" is the 204 of any unknown session, verifying "alice\x00" the 401 of any wrong
# address), only never a 5xx.
NOT_STORED = {"end-session-path", "verify-password", "verify-address"}
# NUL; a lone surrogate, which only JSON can carry ("\ud800"): a URL's %ED%A0%80 is
# not UTF-8, so neither a path nor a query string decodes to one. (A password may hold
# either: it is hashed, never stored, and a NUL must not end it.)
BAD_TEXT = [("nul", "\x00"), ("surrogate", "\ud800")]


def _fill(value: Any, bad: str) -> Any:
    if isinstance(value, str):
        return value.replace("{x}", bad)
    if isinstance(value, dict):
        return {_fill(k, bad): _fill(v, bad) for k, v in value.items()}
    return value


@pytest.fixture
async def alice(client: Client) -> None:
    body = {"address": ALICE, "name": "Alice", "password": PASSWORD}
    response = await client.post("/v1/accounts", json=body, headers=AUTH)
    assert response.status == 201, await response.text()


CASES = [
    pytest.param(*row, bad, id=f"{row[0]}-{kind}")
    for row in TEXT_PARAMETERS
    for kind, bad in BAD_TEXT
    if kind == "nul" or row[4] is not None
]


@pytest.mark.parametrize(("row", "method", "path", "query", "body", "bad"), CASES)
async def test_unstorable_text_in_any_parameter_is_4xx(
    client: Client,
    alice: None,
    row: str,
    method: str,
    path: str,
    query: dict[str, str] | None,
    body: dict[str, Any] | None,
    bad: str,
) -> None:
    response = await client.request(
        method,
        _fill(path, "%00"),
        params=_fill(query, bad),
        json=_fill(body, bad),
        headers=AUTH,
    )

    assert response.status < 500, await response.text()
    if row not in NOT_STORED:
        assert response.status >= 400, await response.text()


# Free text PostgreSQL's websearch_to_tsquery cannot turn into a query.
TSQUERY_ERRORS = [
    ("dashes", "-" * 999),
    ("dashes-after-a-word", "hello " + "-" * 500),
    ("spaced-dashes", "- " * 400),
    ("open-parentheses", "(-" * 300),
]


@pytest.mark.parametrize("q", [q for _, q in TSQUERY_ERRORS], ids=[i for i, _ in TSQUERY_ERRORS])
async def test_a_search_postgresql_cannot_parse_is_422_too_complex(
    client: Client, alice: None, q: str
) -> None:
    response = await client.get(ACCOUNT + "/search", params={"q": q}, headers=AUTH)

    assert response.status == 422, await response.text()
    assert "too complex" in (await response.json())["fields"]["q"]
