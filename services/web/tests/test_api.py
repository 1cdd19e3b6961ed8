"""The JSON API under /api/v1: the contract of issue 4's table, call by call."""

from __future__ import annotations

import json
import re
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]

# The list item of issue 4's table. "folder" is one documented extra (openapi.py).
SUMMARY_KEYS = {"id", "from", "to", "cc", "subject", "preview", "date", "unread",
                "has_attachments"}  # fmt: skip
EXTRA_KEYS = {"folder", "starred", "answered", "forwarded"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def message(to: str, *, subject: str = "Hello", attachment: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Example <ann@example.com>"
    msg["To"] = to
    msg["Cc"] = "Cee <cee@example.com>"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 01 Jan 2024 10:00:00 +0000"
    msg.set_content(f"Plain words of {subject}")
    msg.add_alternative(f"<p>Rich {subject}<script>alert(1)</script></p>", subtype="html")
    if attachment:
        msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="a.pdf")
    return msg.as_bytes(policy=SMTP)


@pytest.fixture
async def owner(client: Client, h: Any) -> tuple[str, str]:
    """(address, token) of a fresh account, with no browser session."""
    address = await h.register(client)
    return address, await h.api_token(client, address)


# -- accounts and tokens ---------------------------------------------------------------------


async def test_post_accounts_is_201_then_409_for_the_same_address(client: Client, h: Any) -> None:
    local = h.fresh_address().split("@")[0]
    body = {"name": "Ann", "address": local, "password": h.password}

    created = await client.post("/api/v1/accounts", json=body)
    again = await client.post(
        "/api/v1/accounts", json={**body, "address": f"{local}@LOCALPOST.TEST"}
    )

    assert created.status == 201
    # A bare local part is in the first local domain.
    assert await created.json() == {"address": f"{local}@localpost.test", "name": "Ann"}
    assert again.status == 409


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "Ann", "address": "ann@example.com", "password": "long enough pw"}, {"address"}),
        ({"name": "Ann", "address": "x y", "password": "long enough pw"}, {"address"}),
        ({"name": "Ann", "address": "annx", "password": "short"}, {"password"}),
        ({"name": "", "address": "annx", "password": "long enough pw"}, {"name"}),
        ({"name": 1, "address": "annx", "password": "long enough pw"}, {"name"}),
        ({}, {"name", "address", "password"}),
    ],
)
async def test_post_accounts_is_422_with_field_errors(
    client: Client, body: dict[str, Any], fields: set[str]
) -> None:
    response = await client.post("/api/v1/accounts", json=body)

    assert response.status == 422
    answer = await response.json()
    assert set(answer["fields"]) == fields
    assert all(isinstance(reason, str) and reason for reason in answer["fields"].values())


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("not json", "application/json"), ("[1, 2]", "application/json"), ("{}", "text/plain")],
)
async def test_post_accounts_refuses_bodies_that_are_not_a_json_object(
    client: Client, data: str, content_type: str
) -> None:
    response = await client.post(
        "/api/v1/accounts", data=data, headers={"Content-Type": content_type}
    )

    assert response.status == 422
    assert "body" in (await response.json())["fields"]


async def test_token_from_basic_auth_works_as_bearer_without_csrf(client: Client, h: Any) -> None:
    address = await h.register(client)

    response = await client.post("/api/v1/tokens", headers=h.basic(address, h.password))

    assert response.status == 201
    token = (await response.json())["token"]
    listing = await client.get("/api/v1/messages", headers=bearer(token))
    assert listing.status == 200
    assert "lp_session" not in {c.key for c in client.session.cookie_jar}


@pytest.mark.parametrize("credentials", ["wrong", "unknown", "none", "garbage"])
async def test_token_without_the_right_password_is_401(
    client: Client, h: Any, credentials: str
) -> None:
    address = await h.register(client)
    headers = {
        "wrong": h.basic(address, "not the password"),
        "unknown": h.basic(h.fresh_address(), h.password),
        "none": {},
        "garbage": {"Authorization": "Basic %%%"},
    }[credentials]

    response = await client.post("/api/v1/tokens", headers=headers)

    assert response.status == 401
    assert "token" not in await response.json()
    # RFC 9110 §11.6.1: the challenge names the scheme this call takes.
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


async def test_correct_token_requests_from_one_address_are_never_limited(
    client: Client, h: Any
) -> None:
    # A script asking for tokens (or a family behind one NAT): successes never count.
    address = await h.register(client)
    statuses = []
    for _ in range(25):
        response = await client.post("/api/v1/tokens", headers=h.basic(address, h.password))
        statuses.append(response.status)

    assert statuses == [201] * 25


async def test_failed_logins_on_the_page_and_the_api_share_one_limit(
    client: Client, h: Any
) -> None:
    address = await h.register(client)
    for _ in range(5):
        bad = await client.post("/api/v1/tokens", headers=h.basic(address, "not the password"))
        assert bad.status == 401
        token = await h.csrf_token(client)
        data = {"address": address, "password": "not the password", "csrf_token": token}
        assert (await client.post("/login", data=data)).status == 401

    # Ten failures from this client: its limit for the account, whichever the channel.
    refused = await client.post("/api/v1/tokens", headers=h.basic(address, h.password))

    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) > 0


async def test_a_revoked_token_stops_working(client: Client, h: Any) -> None:
    address = await h.register(client)
    created = await client.post("/api/v1/tokens", headers=h.basic(address, h.password))
    token, token_id = (await created.json())["token"], (await created.json())["id"]
    other = await h.api_token(client, await h.register(client))

    foreign = await client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(other))
    revoked = await client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(token))

    assert foreign.status == 404  # another account's token id, as for messages
    assert revoked.status == 204
    after = await client.get("/api/v1/messages", headers=bearer(token))
    assert after.status == 401
    assert after.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Bearer ", "Basic eDp5"])
async def test_a_bad_authorization_is_401_even_with_a_session_cookie(
    client: Client, h: Any, header: str
) -> None:
    address = await h.register(client)
    await h.login(client, address)

    response = await client.get("/api/v1/messages", headers={"Authorization": header})

    assert response.status == 401


# -- reading ---------------------------------------------------------------------------------


async def test_list_has_the_documented_shape_and_pages_with_next_cursor(
    client: Client, deliver: Any, owner: tuple[str, str]
) -> None:
    address, token = owner
    for n in range(3):
        await deliver(message(address, subject=f"m{n}", attachment=n == 0), rcpt_to=[address])

    first = await (await client.get("/api/v1/messages?limit=2", headers=bearer(token))).json()
    cursor = first["next_cursor"]
    second = await (
        await client.get(
            "/api/v1/messages", params={"limit": "2", "cursor": cursor}, headers=bearer(token)
        )
    ).json()

    assert set(first) == {"messages", "next_cursor"}
    assert isinstance(cursor, str)
    assert second["next_cursor"] is None
    rows = first["messages"] + second["messages"]
    assert [m["subject"] for m in rows] == ["m2", "m1", "m0"]  # newest first
    for row in rows:
        assert SUMMARY_KEYS <= set(row) <= SUMMARY_KEYS | EXTRA_KEYS
        assert isinstance(row["id"], int)
        assert row["from"] == {"name": "Ann Example", "address": "ann@example.com"}
        assert row["to"] == [{"name": "", "address": address}]
        assert row["cc"] == [{"name": "Cee", "address": "cee@example.com"}]
        assert row["preview"].startswith("Plain words of")
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d", row["date"])
        assert row["unread"] is True
    assert [m["has_attachments"] for m in rows] == [False, False, True]


@pytest.mark.parametrize(
    "query", ["folder=..%2Finbox", "limit=0", "limit=201", "limit=x", "cursor=not-a-cursor"]
)
async def test_list_refuses_bad_parameters_with_422(
    client: Client, owner: tuple[str, str], query: str
) -> None:
    response = await client.get(f"/api/v1/messages?{query}", headers=bearer(owner[1]))

    assert response.status == 422
    assert (await response.json())["fields"]


async def test_one_message_has_text_sanitised_html_and_attachments(
    client: Client, deliver: Any, owner: tuple[str, str]
) -> None:
    address, token = owner
    await deliver(message(address, subject="Full", attachment=True), rcpt_to=[address])
    listing = await (await client.get("/api/v1/messages", headers=bearer(token))).json()
    (entry,) = [m["id"] for m in listing["messages"]]

    msg = await (await client.get(f"/api/v1/messages/{entry}", headers=bearer(token))).json()

    assert set(msg) >= SUMMARY_KEYS
    assert msg["subject"] == "Full"
    assert msg["text"].startswith("Plain words of Full")
    assert "<p>Rich Full</p>" in msg["html"]
    assert "script" not in msg["html"]
    (attachment,) = msg["attachments"]
    assert attachment["filename"] == "a.pdf"
    assert attachment["content_type"] == "application/pdf"
    assert attachment["size"] == len(b"%PDF-1.4")
    download = await client.get(attachment["url"], headers=bearer(token))
    assert await download.read() == b"%PDF-1.4"


async def test_raw_is_the_message_as_delivered(
    client: Client, deliver: Any, owner: tuple[str, str]
) -> None:
    address, token = owner
    raw = message(address)
    await deliver(raw, rcpt_to=[address])
    listing = await (await client.get("/api/v1/messages", headers=bearer(token))).json()

    response = await client.get(
        f"/api/v1/messages/{listing['messages'][0]['id']}/raw", headers=bearer(token)
    )

    assert response.status == 200
    assert response.content_type == "message/rfc822"
    assert await response.read() == raw


async def test_search_has_the_list_shape(
    client: Client, deliver: Any, owner: tuple[str, str]
) -> None:
    address, token = owner
    await deliver(message(address, subject="Quarterly numbers"), rcpt_to=[address])
    await deliver(message(address, subject="Lunch"), rcpt_to=[address])

    found = await (
        await client.get("/api/v1/search", params={"q": "quarterly"}, headers=bearer(token))
    ).json()
    bad = await client.get("/api/v1/search", params={"q": "before:never"}, headers=bearer(token))

    assert set(found) == {"messages", "next_cursor"}
    assert [m["subject"] for m in found["messages"]] == ["Quarterly numbers"]
    assert SUMMARY_KEYS <= set(found["messages"][0]) <= SUMMARY_KEYS | EXTRA_KEYS
    assert bad.status == 422


# -- sending and deleting --------------------------------------------------------------------


async def test_send_is_202_with_an_id_and_needs_no_csrf_with_a_bearer(
    client: Client, h: Any, submission: Any, owner: tuple[str, str]
) -> None:
    handler, _ = submission
    address, token = owner
    rcpt = await h.register(client)
    body = {"to": [rcpt], "cc": [], "subject": "Via API\r\nBcc: spy@other.test", "text": "Hi"}

    response = await client.post("/api/v1/messages", json=body, headers=bearer(token))

    assert response.status == 202, await response.text()
    sent = await response.json()
    assert isinstance(sent["id"], str)
    assert sent["id"]
    envelope, raw = handler.messages[-1]
    assert envelope.mail_from == address
    assert envelope.rcpt_tos == [rcpt]
    assert b"\nBcc:" not in raw  # CR/LF in a field never makes a header
    assert envelope.id == sent["id"]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"to": ["nobody@localpost.test"], "text": "x"}, "to", "Unknown recipient"),
        ({"to": ["not an address"], "text": "x"}, "to", "Not an address"),
        ({"to": ["x@example.com"], "text": "x"}, "to", "delivers only to addresses @"),
        ({"to": ["ok@localpost.test"], "cc": ["@@"], "text": "x"}, "cc", "Not an address"),
        ({"subject": "no recipient"}, "to", "at least one recipient"),
        ({"to": "ok@localpost.test"}, "to", "list"),
        ({"to": ["ok@localpost.test"], "subject": 5}, "subject", "string"),
    ],
)
async def test_send_is_422_with_reasons(
    client: Client, owner: tuple[str, str], body: dict[str, Any], field: str, reason: str
) -> None:
    response = await client.post("/api/v1/messages", json=body, headers=bearer(owner[1]))

    assert response.status == 422, await response.text()
    fields = (await response.json())["fields"]
    assert reason.lower() in fields[field].lower(), fields


async def test_delete_moves_to_trash_then_deletes_forever(
    client: Client, deliver: Any, owner: tuple[str, str]
) -> None:
    address, token = owner
    await deliver(message(address), rcpt_to=[address])
    listing = await (await client.get("/api/v1/messages", headers=bearer(token))).json()
    entry = listing["messages"][0]["id"]

    first = await client.delete(f"/api/v1/messages/{entry}", headers=bearer(token))
    trash = await (await client.get("/api/v1/messages?folder=trash", headers=bearer(token))).json()
    second = await client.delete(f"/api/v1/messages/{entry}", headers=bearer(token))
    gone = await client.get(f"/api/v1/messages/{entry}", headers=bearer(token))

    assert first.status == 200
    assert [m["id"] for m in trash["messages"]] == [entry]
    assert second.status == 200
    assert (await second.json())["deleted"] is True
    assert gone.status == 404


async def test_delete_with_only_a_session_cookie_needs_the_csrf_token(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(message(address), rcpt_to=[address])
    await h.login(client, address)
    entry = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]

    refused = await client.delete(f"/api/v1/messages/{entry}")
    token = await h.csrf_token(client, "/mail/inbox")
    allowed = await client.delete(f"/api/v1/messages/{entry}", headers={"X-CSRF-Token": token})

    assert refused.status == 403
    assert allowed.status == 200


@pytest.mark.parametrize("entry", ["0", "9223372036854775807", "9999999999999999999"])
async def test_ids_that_cannot_exist_are_404(
    client: Client, owner: tuple[str, str], entry: str
) -> None:
    for method in ("GET", "DELETE"):
        response = await client.request(
            method, f"/api/v1/messages/{entry}", headers=bearer(owner[1])
        )
        assert response.status == 404, method


# -- the OpenAPI document --------------------------------------------------------------------


async def test_openapi_lists_every_api_route_with_its_methods(client: Client) -> None:
    response = await client.get("/api/v1/openapi.json")

    assert response.status == 200
    document = json.loads(await response.read())
    assert document["openapi"].startswith("3.")
    documented = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    served = set()
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api/v1/") and path != "/api/v1/openapi.json":
            # aiohttp writes a typed variable as {id:[0-9]{1,19}}; OpenAPI as {id}.
            served.add((re.sub(r"\{(\w+):[^/]*\}", r"{\1}", path), route.method))
    served -= {(path, "HEAD") for path, _ in served}
    assert served == documented


async def test_send_takes_bcc_into_the_envelope_only(
    client: Client, h: Any, submission: Any, owner: tuple[str, str]
) -> None:
    handler, _ = submission
    rcpt, hidden = await h.register(client), await h.register(client)
    body = {"to": [rcpt], "bcc": [hidden], "subject": "Blind", "text": "Hi"}

    response = await client.post("/api/v1/messages", json=body, headers=bearer(owner[1]))

    assert response.status == 202, await response.text()
    envelope, raw = handler.messages[-1]
    assert sorted(envelope.rcpt_tos) == sorted([rcpt, hidden])
    assert hidden.encode() not in raw


async def test_drafts_are_saved_replaced_and_listed(
    client: Client, h: Any, owner: tuple[str, str]
) -> None:
    headers = bearer(owner[1])
    first = await client.post(
        "/api/v1/drafts", json={"to": ["bob@"], "subject": "one", "text": "a"}, headers=headers
    )
    assert first.status == 201, await first.text()
    draft = (await first.json())["id"]
    second = await client.post(
        "/api/v1/drafts", json={"subject": "two", "replaces": draft}, headers=headers
    )
    listed = await (await client.get("/api/v1/messages?folder=drafts", headers=headers)).json()

    assert second.status == 201
    assert [(m["id"], m["subject"]) for m in listed["messages"]] == [
        ((await second.json())["id"], "two")
    ]
    bad = await client.post("/api/v1/drafts", json={"replaces": "1"}, headers=headers)
    assert bad.status == 422
