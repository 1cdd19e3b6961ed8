"""The settings page's calls: sessions listed and ended by id, the password changed."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore.settings import DEV_MAILSTORE_TOKEN

Client = TestClient[web.Request, web.Application]

AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE, BOB = "alice@localpost.test", "bob@localpost.test"
PASSWORD = "alice's long password"
NEW_PASSWORD = "a new and longer password"
# Not in LOCALPOST_TRUSTED_NETWORKS: the per-client limits apply (10 per account+client).
CLIENT = "192.0.2.7"


@pytest.fixture
async def accounts(client: Client, pool: Any) -> None:
    for address in (ALICE, BOB):
        body = {"address": address, "name": address[:3], "password": PASSWORD}
        assert (await client.post("/v1/accounts", json=body, headers=AUTH)).status == 201


async def start(client: Client, address: str = ALICE, device: str = "") -> tuple[str, int]:
    body = {"address": address, "device": device}
    secret = (await (await client.post("/v1/sessions", json=body, headers=AUTH)).json())["session"]
    owner = await (await client.get(f"/v1/sessions/{secret}", headers=AUTH)).json()
    return secret, owner["id"]


async def sessions(client: Client, address: str = ALICE) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/accounts/{address}/sessions", headers=AUTH)
    assert response.status == 200, await response.text()
    found: list[dict[str, Any]] = (await response.json())["sessions"]
    return found


async def alive(client: Client, secret: str) -> bool:
    return (await client.get(f"/v1/sessions/{secret}", headers=AUTH)).status == 200


async def change(client: Client, current: str, **extra: Any) -> int:
    body = {"current_password": current, "new_password": NEW_PASSWORD, "client": CLIENT, **extra}
    return (await client.post(f"/v1/accounts/{ALICE}/password", json=body, headers=AUTH)).status


async def verifies(client: Client, password: str) -> bool:
    body = {"address": ALICE, "password": password, "client": "127.0.0.1", "channel": "web"}
    return (await client.post("/v1/auth/verify", json=body, headers=AUTH)).status == 200


async def test_sessions_are_listed_with_their_device_and_no_secret(
    client: Client, accounts: None
) -> None:
    secret, session_id = await start(client, device="Firefox on Linux")
    await start(client, BOB)

    listed = await sessions(client)

    assert [(s["id"], s["device"]) for s in listed] == [(session_id, "Firefox on Linux")]
    assert secret not in str(listed)
    assert set(listed[0]) == {"id", "device", "created_at", "last_used_at"}


async def test_one_session_ends_by_id_and_another_accounts_id_is_404(
    client: Client, accounts: None
) -> None:
    secret, session_id = await start(client)
    bobs, bobs_id = await start(client, BOB)

    other = await client.delete(f"/v1/accounts/{ALICE}/sessions/{bobs_id}", headers=AUTH)
    mine = await client.delete(f"/v1/accounts/{ALICE}/sessions/{session_id}", headers=AUTH)

    assert (other.status, mine.status) == (404, 204)
    assert not await alive(client, secret)
    assert await alive(client, bobs)


async def test_every_other_session_ends_and_the_kept_one_stays(
    client: Client, accounts: None
) -> None:
    kept, kept_id = await start(client)
    other, _ = await start(client)
    bobs, _ = await start(client, BOB)

    response = await client.delete(
        f"/v1/accounts/{ALICE}/sessions", params={"except": str(kept_id)}, headers=AUTH
    )

    assert response.status == 204
    assert (await alive(client, kept), await alive(client, other), await alive(client, bobs)) == (
        True,
        False,
        True,
    )


@pytest.mark.parametrize("keep", ["", "x", "-1", "\u0661", "99999999999999999999"])
async def test_a_kept_session_that_is_no_id_is_422(
    client: Client, accounts: None, keep: str
) -> None:
    response = await client.delete(
        f"/v1/accounts/{ALICE}/sessions", params={"except": keep}, headers=AUTH
    )

    assert response.status == 422


async def test_a_password_change_ends_every_other_session_and_keeps_tokens(
    client: Client, accounts: None
) -> None:
    kept, kept_id = await start(client)
    other, _ = await start(client)
    bobs, _ = await start(client, BOB)
    created = await client.post(f"/v1/accounts/{ALICE}/tokens", json={"name": "s"}, headers=AUTH)
    token = (await created.json())["token"]

    assert await change(client, PASSWORD, keep_session=kept_id) == 204

    assert (await alive(client, kept), await alive(client, other), await alive(client, bobs)) == (
        True,
        False,
        True,
    )
    assert (await verifies(client, NEW_PASSWORD), await verifies(client, PASSWORD)) == (True, False)
    assert (await client.get(f"/v1/tokens/{token}", headers=AUTH)).status == 200


async def test_a_password_change_may_revoke_every_token(client: Client, accounts: None) -> None:
    created = await client.post(f"/v1/accounts/{ALICE}/tokens", json={"name": "s"}, headers=AUTH)
    token = (await created.json())["token"]

    assert await change(client, PASSWORD, revoke_tokens=True) == 204

    assert (await client.get(f"/v1/tokens/{token}", headers=AUTH)).status == 404


async def test_a_wrong_current_password_is_401_and_changes_nothing(
    client: Client, accounts: None
) -> None:
    secret, _ = await start(client)

    assert await change(client, "not the password") == 401

    assert await alive(client, secret)
    assert await verifies(client, PASSWORD)


async def test_wrong_current_passwords_meet_the_login_throttle(
    client: Client, accounts: None
) -> None:
    statuses = [await change(client, "not the password") for _ in range(11)]

    # The per-account-and-client limit (10 failures in 15 minutes), shared with logins.
    assert statuses == [401] * 10 + [429]
    assert await change(client, PASSWORD) == 429


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"new_password": "short"}, "new_password"),
        ({"new_password": "x" * 1025}, "new_password"),
        ({"new_password": None}, "new_password"),
        ({"current_password": 5}, "current_password"),
        ({"keep_session": "1"}, "keep_session"),
        ({"keep_session": True}, "keep_session"),
        ({"keep_session": 2**63}, "keep_session"),
        ({"revoke_tokens": "yes"}, "revoke_tokens"),
        ({"client": ""}, "client"),
    ],
)
async def test_a_malformed_password_change_is_422(
    client: Client, accounts: None, body: dict[str, Any], field: str
) -> None:
    full = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "client": CLIENT, **body}
    response = await client.post(f"/v1/accounts/{ALICE}/password", json=full, headers=AUTH)

    assert response.status == 422
    assert field in (await response.json())["fields"]
    assert await verifies(client, PASSWORD)


async def test_a_device_that_is_not_printable_is_422(client: Client, accounts: None) -> None:
    body = {"address": ALICE, "device": "Firefox\non Linux"}

    assert (await client.post("/v1/sessions", json=body, headers=AUTH)).status == 422


# -- profile: name, signature, time zone ---------------------------------------------------


async def test_a_profile_starts_empty_and_changes_field_by_field(
    client: Client, accounts: None
) -> None:
    path = f"/v1/accounts/{ALICE}/profile"
    first = await (await client.get(path, headers=AUTH)).json()
    changed = await client.patch(
        path, json={"signature": "Alice\n-- \nsent from Localpost", "time_zone": "Asia/Tokyo"},
        headers=AUTH,
    )  # fmt: skip
    renamed = await client.patch(path, json={"name": " Alice L. "}, headers=AUTH)

    assert first == {"name": "ali", "signature": "", "time_zone": "", "conversations": True}
    assert changed.status == 200
    assert await renamed.json() == {
        "name": "Alice L.",
        "signature": "Alice\n-- \nsent from Localpost",
        "time_zone": "Asia/Tokyo",
        "conversations": True,
    }


PROFILE_REFUSED = [
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"time_zone": "../../etc/passwd"}, "time_zone"),
    ({"time_zone": 5}, "time_zone"),
    ({"signature": "x" * 2001}, "signature"),
    ({"signature": "a\x00b"}, "signature"),
    ({"signature": "a\x1bb"}, "signature"),
    ({"signature": None}, "signature"),
    ({"name": "a\u2028b"}, "name"),
    ({"name": "x" * 201}, "name"),
]


@pytest.mark.parametrize(("body", "field"), PROFILE_REFUSED)
async def test_a_bad_profile_field_is_422_and_changes_nothing(
    client: Client, accounts: None, body: dict[str, Any], field: str
) -> None:
    path = f"/v1/accounts/{ALICE}/profile"

    response = await client.patch(
        path, json={**body, "signature": "kept"} if field != "signature" else body, headers=AUTH
    )

    assert response.status == 422
    assert field in (await response.json())["fields"]
    assert (await (await client.get(path, headers=AUTH)).json())["signature"] == ""


# -- deleting an account ---------------------------------------------------------------------


async def test_deleting_an_account_takes_its_mail_and_keeps_what_others_hold(
    client: Client, accounts: None, deliver: Any, pool: Any
) -> None:
    shared = b"From: a@example.com\r\nSubject: both\r\n\r\nx\r\n"
    await deliver(shared, rcpt_to=[ALICE, BOB])
    await deliver(b"From: a@example.com\r\nSubject: mine\r\n\r\ny\r\n", rcpt_to=[ALICE])
    secret, _ = await start(client)
    path = f"/v1/accounts/{ALICE}/delete"

    wrong = await client.post(path, json={"password": "nope", "client": CLIENT}, headers=AUTH)
    right = await client.post(path, json={"password": PASSWORD, "client": CLIENT}, headers=AUTH)

    assert (wrong.status, right.status) == (401, 204)
    assert (await client.get(f"/v1/mailboxes/{ALICE}", headers=AUTH)).status == 404
    assert not await alive(client, secret)
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1  # Bob's copy only
    bobs = await (await client.get(f"/v1/accounts/{BOB}/messages", headers=AUTH)).json()
    assert [m["subject"] for m in bobs["messages"]] == ["both"]
    again = await client.post(path, json={"password": PASSWORD, "client": CLIENT}, headers=AUTH)
    assert again.status == 404


async def test_a_deleted_accounts_address_cannot_be_registered_again(
    client: Client, accounts: None
) -> None:
    path = f"/v1/accounts/{ALICE}/delete"
    deleted = await client.post(path, json={"password": PASSWORD, "client": CLIENT}, headers=AUTH)
    assert deleted.status == 204

    body = {"address": ALICE, "name": "Someone else", "password": "another password 123"}
    again = await client.post("/v1/accounts", json=body, headers=AUTH)

    assert again.status == 409
    assert (await client.get(f"/v1/mailboxes/{ALICE}", headers=AUTH)).status == 404
