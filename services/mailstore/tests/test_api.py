from __future__ import annotations

import time
from email.header import Header
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore.db import searching
from mailstore.settings import DEV_MAILSTORE_TOKEN
from mailstore.views import messages as message_views

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
# The client and channel every login names; loopback is a trusted network, so only the
# per-account ceiling applies (test_logins.py checks the limits themselves).
LOGIN = {"client": "127.0.0.1", "channel": "web"}
ALICE, BOB = "alice@localpost.test", "bob@localpost.test"
PASSWORD = "correct horse battery"


def mail(
    subject: str = "Hello",
    *,
    sender: str = "Carol <carol@example.com>",
    to: str = ALICE,
    cc: str | None = None,
    body: str = "Just saying hello.",
    attachment: bool = False,
) -> bytes:
    headers = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
    headers += f"Cc: {cc}\r\n" if cc else ""
    headers += "Date: Tue, 1 Jul 2025 10:00:00 +0000\r\nMessage-ID: <m@example.com>\r\n"
    if not attachment:
        return (headers + "\r\n" + body + "\r\n").encode()
    return (
        headers + 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\n" + body + "\r\n"
        '--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="r.pdf"'
        "\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"
    ).encode()


async def create_account(client: Client, address: str, name: str = "") -> Any:
    body = {"address": address, "name": name, "password": PASSWORD}
    response = await client.post("/v1/accounts", json=body, headers=AUTH)
    assert response.status == 201, await response.text()
    return await response.json()


async def inbox_ids(client: Client, address: str = ALICE, folder: str = "inbox") -> list[int]:
    url = f"/v1/accounts/{address}/messages?folder={folder}&limit=200"
    response = await client.get(url, headers=AUTH)
    return [item["id"] for item in (await response.json())["messages"]]


@pytest.fixture
async def alice_and_bob(client: Client) -> None:
    await create_account(client, ALICE, "Alice Liddell")
    await create_account(client, BOB, "Bob")


# -- the service token -----------------------------------------------------------------------

V1_CALLS = [
    ("POST", "/v1/accounts"),
    ("POST", "/v1/auth/verify"),
    ("GET", f"/v1/mailboxes/{ALICE}"),
    ("GET", "/v1/directory?prefix=a"),
    ("GET", f"/v1/accounts/{ALICE}/folders"),
    ("GET", f"/v1/accounts/{ALICE}/messages"),
    ("GET", f"/v1/accounts/{ALICE}/search?q=x"),
    ("GET", f"/v1/accounts/{ALICE}/messages/1"),
    ("PATCH", f"/v1/accounts/{ALICE}/messages/1"),
    ("DELETE", f"/v1/accounts/{ALICE}/messages/1"),
    ("GET", f"/v1/accounts/{ALICE}/messages/1/raw"),
    ("GET", f"/v1/accounts/{ALICE}/messages/1/attachments/0"),
    ("POST", f"/v1/accounts/{ALICE}/messages/1/trash"),
    ("POST", f"/v1/accounts/{ALICE}/messages/1/restore"),
    ("POST", f"/v1/accounts/{ALICE}/messages/bulk"),
    ("POST", f"/v1/accounts/{ALICE}/trash/empty"),
    ("GET", f"/v1/accounts/{ALICE}/quota"),
    ("PUT", f"/v1/accounts/{ALICE}/quota"),
    ("POST", "/v1/sessions"),
    ("GET", "/v1/sessions/some-secret"),
    ("DELETE", "/v1/sessions/some-secret"),
    ("DELETE", f"/v1/accounts/{ALICE}/sessions"),
    ("POST", f"/v1/accounts/{ALICE}/tokens"),
    ("GET", f"/v1/accounts/{ALICE}/tokens"),
    ("DELETE", f"/v1/accounts/{ALICE}/tokens/1"),
    ("GET", "/v1/tokens/lp_some-token"),
    ("POST", "/v1/throttle"),
    ("DELETE", "/v1/throttle/login:1.2.3.4"),
]


@pytest.mark.parametrize(("method", "path"), V1_CALLS)
@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer ", 401),
        (DEV_MAILSTORE_TOKEN, 401),  # no scheme
        ("Basic x", 401),
        # A wrong token is not a wrong user password (auth/verify's 401): a caller can
        # tell its own misconfiguration apart.
        ("Bearer wrong-token-of-some-length", 403),
        (f"Bearer {DEV_MAILSTORE_TOKEN}x", 403),
    ],
)
async def test_v1_without_the_right_token_is_401_or_403(
    client: Client, method: str, path: str, authorization: str | None, status: int
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = await client.request(method, path, headers=headers)

    assert response.status == status
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


# -- accounts --------------------------------------------------------------------------------


async def test_create_account_lowercases_and_refuses_duplicates(client: Client) -> None:
    created = await create_account(client, "Alice@LocalPost.test", "Alice")
    again = await client.post(
        "/v1/accounts",
        json={"address": "ALICE@localpost.test", "name": "", "password": PASSWORD},
        headers=AUTH,
    )

    assert (created["address"], created["name"]) == (ALICE, "Alice")
    assert again.status == 409


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"address", "password"}),
        ({"address": "x@elsewhere.test", "password": PASSWORD}, {"address"}),
        ({"address": "no at sign", "password": PASSWORD}, {"address"}),
        ({"address": "a b@localpost.test", "password": PASSWORD}, {"address"}),
        ({"address": ALICE, "password": "short"}, {"password"}),
        ({"address": ALICE, "password": PASSWORD, "name": "a\nb"}, {"name"}),
        ({"address": ALICE, "password": PASSWORD, "name": 5}, {"name"}),
    ],
)
async def test_create_account_field_errors_are_422(
    client: Client, body: dict[str, Any], fields: set[str]
) -> None:
    response = await client.post("/v1/accounts", json=body, headers=AUTH)

    assert response.status == 422
    assert set((await response.json())["fields"]) == fields


async def test_non_json_body_is_422(client: Client) -> None:
    response = await client.post("/v1/accounts", data=b"{nope", headers=AUTH)

    assert response.status == 422
    assert "body" in (await response.json())["fields"]


async def test_verify_accepts_the_password_and_records_the_login(
    client: Client, alice_and_bob: None, pool: Any
) -> None:
    good = await client.post(
        "/v1/auth/verify",
        json={"address": "ALICE@localpost.test", "password": PASSWORD, **LOGIN},
        headers=AUTH,
    )
    bad = await client.post(
        "/v1/auth/verify",
        json={"address": ALICE, "password": "wrong password", **LOGIN},
        headers=AUTH,
    )
    last_login = await pool.fetchval("SELECT last_login_at FROM accounts WHERE address = $1", ALICE)

    assert good.status == 200
    assert await good.json() == {"address": ALICE, "name": "Alice Liddell"}
    assert bad.status == 401
    assert last_login is not None


async def test_verify_takes_as_long_for_an_unknown_account(
    client: Client, alice_and_bob: None
) -> None:
    async def timed(address: str) -> float:
        started = time.perf_counter()
        response = await client.post(
            "/v1/auth/verify",
            json={"address": address, "password": "wrong!", **LOGIN},
            headers=AUTH,
        )
        assert response.status == 401
        return time.perf_counter() - started

    known = min([await timed(ALICE) for _ in range(5)])
    unknown = min([await timed("nobody@localpost.test") for _ in range(5)])

    # Both run one bcrypt; without the dummy hash "unknown" would skip it entirely.
    assert unknown > known * 0.5


async def test_mailbox_lookup(client: Client, alice_and_bob: None) -> None:
    found = await client.get("/v1/mailboxes/Alice@localpost.test", headers=AUTH)
    missing = await client.get("/v1/mailboxes/nobody@localpost.test", headers=AUTH)

    assert found.status == 200
    assert (await found.json())["address"] == ALICE
    assert missing.status == 404


async def test_directory_matches_address_or_name_prefix(
    client: Client, alice_and_bob: None
) -> None:
    await create_account(client, "zed@localpost.test", "Alan Turing")

    async def directory(query: str) -> list[str]:
        response = await client.get(f"/v1/directory?{query}", headers=AUTH)
        assert response.status == 200
        return [item["address"] for item in (await response.json())["accounts"]]

    assert await directory("prefix=al") == [ALICE, "zed@localpost.test"]
    assert await directory("prefix=B") == [BOB]
    assert await directory("prefix=%25") == []
    assert len(await directory("prefix=&limit=2")) == 2
    bad_limit = await client.get("/v1/directory?limit=201", headers=AUTH)
    assert bad_limit.status == 422


# -- listing and reading ---------------------------------------------------------------------


async def test_delivered_message_is_listed_and_readable(
    client: Client, alice_and_bob: None, deliver: Any
) -> None:
    raw = mail(subject="Report", cc=f"Bob <{BOB}>", attachment=True)
    outcome = await deliver(raw, rcpt_to=[ALICE, BOB])
    alice_entry = next(e.id for e in outcome.entries if e.address == ALICE)

    listing = await (await client.get(f"/v1/accounts/{ALICE}/messages", headers=AUTH)).json()
    message = await (
        await client.get(f"/v1/accounts/{ALICE}/messages/{alice_entry}", headers=AUTH)
    ).json()
    raw_response = await client.get(
        f"/v1/accounts/{ALICE}/messages/{alice_entry}/raw", headers=AUTH
    )
    attachment = await client.get(
        f"/v1/accounts/{ALICE}/messages/{alice_entry}/attachments/0", headers=AUTH
    )

    (item,) = listing["messages"]
    assert listing["next_cursor"] is None
    assert item["id"] == alice_entry
    assert item["from"] == {"name": "Carol", "address": "carol@example.com"}
    assert item["to"] == [{"name": "", "address": ALICE}]
    assert item["cc"] == [{"name": "Bob", "address": BOB}]
    assert (item["subject"], item["read"], item["has_attachments"]) == ("Report", False, True)
    assert item["preview"] == "Just saying hello."
    assert item["date"] == "2025-07-01T10:00:00+00:00"
    assert message["text"].strip() == "Just saying hello."
    assert message["message_id_header"] == "<m@example.com>"
    assert message["attachments"] == [
        {
            "index": 0,
            "filename": "r.pdf",
            "content_type": "application/pdf",
            "size": 5,
            "content_id": None,
            "disposition": "attachment",
        }
    ]
    assert raw_response.status == 200
    assert raw_response.content_type == "message/rfc822"
    assert await raw_response.read() == raw
    assert attachment.status == 200
    assert await attachment.read() == b"%PDF-"
    assert attachment.headers["Content-Type"] == "application/pdf"
    assert attachment.headers["X-Content-Type-Options"] == "nosniff"
    assert attachment.headers["Content-Disposition"].startswith("attachment;")


async def test_gateway_sender_check_is_in_the_listing_and_the_message(
    client: Client, alice_and_bob: None, deliver: Any
) -> None:
    verdict = (
        "Authentication-Results: localpost.test;\r\n"
        "\tlocalpost-sender=fail header.from=bob@localpost.test (not authenticated)\r\n"
    )
    forged = await deliver(verdict.encode() + mail(sender=f"Bob <{BOB}>"), rcpt_to=[ALICE])
    await deliver(mail(), rcpt_to=[ALICE])
    forged_id = forged.entries[0].id

    listing = await (await client.get(f"/v1/accounts/{ALICE}/messages", headers=AUTH)).json()
    message = await (
        await client.get(f"/v1/accounts/{ALICE}/messages/{forged_id}", headers=AUTH)
    ).json()

    checks = {
        item["id"]: (item["sender_check"], item["sender_claimed"]) for item in listing["messages"]
    }
    assert checks.pop(forged_id) == ("fail", BOB)
    assert list(checks.values()) == [(None, None)]
    assert (message["sender_check"], message["sender_claimed"]) == ("fail", BOB)


async def test_raw_message_is_sent_in_slices_byte_for_byte(
    client: Client, alice_and_bob: None, deliver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(message_views, "RAW_SLICE", 1000)
    raw = mail(subject="Big", body="0123456789" * 1050, attachment=True)
    entry = (await deliver(raw, rcpt_to=[ALICE])).entries[0].id

    response = await client.get(f"/v1/accounts/{ALICE}/messages/{entry}/raw", headers=AUTH)

    assert response.status == 200
    assert response.content_length == len(raw)
    assert await response.read() == raw


async def test_other_accounts_messages_are_404_on_every_route(
    client: Client, alice_and_bob: None, deliver: Any
) -> None:
    outcome = await deliver(mail(attachment=True), rcpt_to=[ALICE])
    (entry,) = outcome.entries
    own = f"/v1/accounts/{ALICE}/messages/{entry.id}"
    foreign = f"/v1/accounts/{BOB}/messages/{entry.id}"
    missing = f"/v1/accounts/{ALICE}/messages/{entry.id + 1000}"
    huge = f"/v1/accounts/{ALICE}/messages/99999999999999999999"
    no_account = f"/v1/accounts/nobody@localpost.test/messages/{entry.id}"
    calls = [
        ("GET", ""),
        ("GET", "/raw"),
        ("GET", "/attachments/0"),
        ("PATCH", ""),
        ("POST", "/trash"),
        ("POST", "/restore"),
        ("DELETE", ""),
    ]

    for method, suffix in calls:
        for base in (foreign, missing, huge, no_account):
            response = await client.request(
                method, base + suffix, json={"read": True}, headers=AUTH
            )
            assert response.status == 404, (method, base + suffix)
    missing_attachment = await client.get(own + "/attachments/1", headers=AUTH)
    still_there = await client.get(own, headers=AUTH)

    assert missing_attachment.status == 404
    assert still_there.status == 200
    assert (await still_there.json())["read"] is False


async def test_account_routes_for_a_missing_account_are_404(client: Client) -> None:
    for path in ("folders", "messages", "search?q=x"):
        response = await client.get(f"/v1/accounts/nobody@localpost.test/{path}", headers=AUTH)
        assert response.status == 404


async def test_pagination_is_complete_and_stable_across_equal_timestamps(
    client: Client, alice_and_bob: None, deliver: Any, pool: Any
) -> None:
    for number in range(7):
        await deliver(mail(subject=f"m{number}"), rcpt_to=[ALICE])
    # Every entry at the same instant: only the id can order them.
    await pool.execute("UPDATE mailbox_entries SET created_at = '2025-01-01T00:00:00Z'")
    await deliver(mail(subject="newest"), rcpt_to=[ALICE])

    seen: list[dict[str, Any]] = []
    cursor = ""
    pages = 0
    while True:
        response = await client.get(f"/v1/accounts/{ALICE}/messages?limit=3{cursor}", headers=AUTH)
        assert response.status == 200
        body = await response.json()
        seen += body["messages"]
        pages += 1
        if body["next_cursor"] is None:
            break
        cursor = f"&cursor={body['next_cursor']}"

    assert pages == 3
    assert seen[0]["subject"] == "newest"
    ids = [item["id"] for item in seen[1:]]
    assert ids == sorted(ids, reverse=True)
    assert len({item["id"] for item in seen}) == 8


async def test_a_page_says_where_it_stands_and_leads_back_to_the_page_before(
    client: Client, alice_and_bob: None, deliver: Any, pool: Any
) -> None:
    for number in range(8):
        await deliver(mail(subject=f"m{number}"), rcpt_to=[ALICE])
    await deliver(mail(subject="for bob"), rcpt_to=[BOB])
    # Equal timestamps: the position must follow the same (created_at, id) order.
    await pool.execute("UPDATE mailbox_entries SET created_at = '2025-01-01T00:00:00Z'")
    url = f"/v1/accounts/{ALICE}/messages"

    async def page(cursor: str | None) -> Any:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=params, headers=AUTH)
        assert response.status == 200
        return await response.json()

    pages = [await page(None)]
    while pages[-1]["next_cursor"]:
        pages.append(await page(pages[-1]["next_cursor"]))
    back = [await page(p["prev_cursor"]) for p in pages[1:]]

    assert [(p["total"], p["offset"], len(p["messages"])) for p in pages] == [
        (8, 0, 3),
        (8, 3, 3),
        (8, 6, 2),
    ]
    assert [p["prev_cursor"] is None for p in pages] == [True, True, False]
    assert [b["messages"] for b in back] == [p["messages"] for p in pages[:-1]]


async def test_the_starred_page_counts_flagged_messages_outside_trash(
    client: Client, alice_and_bob: None, deliver: Any, pool: Any
) -> None:
    for number in range(4):
        await deliver(mail(subject=f"m{number}"), rcpt_to=[ALICE])
    await pool.execute("UPDATE mailbox_entries SET flagged = true")
    ids = await inbox_ids(client)
    await client.post(f"/v1/accounts/{ALICE}/messages/{ids[0]}/trash", headers=AUTH)
    url = f"/v1/accounts/{ALICE}/starred"

    first = await (await client.get(url, params={"limit": "2"}, headers=AUTH)).json()
    cursor = first["next_cursor"]
    second = await (
        await client.get(url, params={"limit": "2", "cursor": cursor}, headers=AUTH)
    ).json()

    assert (first["total"], first["offset"], second["offset"]) == (3, 0, 2)
    assert [m["id"] for m in first["messages"] + second["messages"]] == ids[1:]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=x", "cursor=%%%", "cursor=bm9wZQ", "folder=..%2Finbox"]
)
async def test_bad_listing_parameters_are_422(
    client: Client, alice_and_bob: None, query: str
) -> None:
    response = await client.get(f"/v1/accounts/{ALICE}/messages?{query}", headers=AUTH)

    assert response.status == 422
    assert (await response.json())["fields"]


# -- flags, folders, Trash -------------------------------------------------------------------


async def test_read_flag_counts_trash_restore_and_delete(
    client: Client, alice_and_bob: None, deliver: Any, pool: Any
) -> None:
    first = (await deliver(mail(subject="one"), rcpt_to=[ALICE])).entries[0].id
    second = (await deliver(mail(subject="two"), rcpt_to=[ALICE])).entries[0].id
    sent = await deliver(mail(subject="mine", to=BOB), rcpt_to=[BOB], submitted_by=ALICE)
    sent_id = next(e.id for e in sent.entries if e.folder == "sent")
    base = f"/v1/accounts/{ALICE}/messages"

    async def counts() -> dict[str, tuple[int, int]]:
        url = f"/v1/accounts/{ALICE}/folders"
        body = await (await client.get(url, headers=AUTH)).json()
        both = {f["id"]: (f["total"], f["unread"]) for f in body["folders"]}
        # The unread-only form (every web page) agrees with the full one.
        unread = await (await client.get(url, params={"counts": "unread"}, headers=AUTH)).json()
        assert [(f["id"], f["unread"]) for f in unread["folders"]] == [
            (name, pair[1]) for name, pair in both.items()
        ]
        assert all("total" not in f for f in unread["folders"])
        # Drafts, Junk and Archive stay empty here; the three the test moves mail between.
        return {k: v for k, v in both.items() if k in ("inbox", "sent", "trash")}

    assert await counts() == {"inbox": (2, 2), "sent": (1, 0), "trash": (0, 0)}

    marked = await client.patch(f"{base}/{first}", json={"read": True}, headers=AUTH)
    assert marked.status == 200
    assert (await marked.json())["read"] is True
    assert await counts() == {"inbox": (2, 1), "sent": (1, 0), "trash": (0, 0)}
    bad = await client.patch(f"{base}/{first}", json={"read": "yes"}, headers=AUTH)
    assert bad.status == 422

    for entry in (second, sent_id, second):  # trashing twice is harmless
        trashed = await client.post(f"{base}/{entry}/trash", headers=AUTH)
        assert (await trashed.json())["folder"] == "trash"
    assert await counts() == {"inbox": (1, 0), "sent": (0, 0), "trash": (2, 1)}
    assert sorted(await inbox_ids(client, folder="trash")) == sorted([second, sent_id])

    restored = await client.post(f"{base}/{sent_id}/restore", headers=AUTH)
    assert (await restored.json())["folder"] == "sent"
    restored = await client.post(f"{base}/{second}/restore", headers=AUTH)
    assert (await restored.json())["folder"] == "inbox"
    assert await counts() == {"inbox": (2, 1), "sent": (1, 0), "trash": (0, 0)}

    deleted = await client.delete(f"{base}/{first}", headers=AUTH)
    assert deleted.status == 204
    assert (await client.get(f"{base}/{first}", headers=AUTH)).status == 404
    assert (await client.delete(f"{base}/{first}", headers=AUTH)).status == 404
    assert await counts() == {"inbox": (1, 1), "sent": (1, 0), "trash": (0, 0)}
    # Bob still holds the message Alice sent him; only her entry went.
    await client.delete(f"{base}/{sent_id}", headers=AUTH)
    assert await pool.fetchval("SELECT count(*) FROM messages") == 2


async def test_folder_counts_other_than_all_or_unread_are_422(
    client: Client, alice_and_bob: None
) -> None:
    url = f"/v1/accounts/{ALICE}/folders"
    response = await client.get(url, params={"counts": "total"}, headers=AUTH)

    assert response.status == 422
    assert "counts" in (await response.json())["fields"]


async def test_deleting_the_last_entry_deletes_the_message(
    client: Client, alice_and_bob: None, deliver: Any, pool: Any
) -> None:
    outcome = await deliver(mail(attachment=True), rcpt_to=[ALICE, BOB])
    for entry in outcome.entries:
        url = f"/v1/accounts/{entry.address}/messages/{entry.id}"
        assert (await client.delete(url, headers=AUTH)).status == 204

    assert await pool.fetchval("SELECT count(*) FROM messages") == 0
    assert await pool.fetchval("SELECT count(*) FROM attachments") == 0


# -- search ----------------------------------------------------------------------------------


@pytest.fixture
async def searchable(
    client: Client, alice_and_bob: None, deliver: Any, pool: Any
) -> dict[str, int]:
    ids = {}
    for key, raw in {
        "budget": mail(
            subject="Budget 2025", body="The quarterly numbers are attached.", attachment=True
        ),
        "lunch": mail(subject="Lunch?", sender="Dave <dave@food.test>", body="Pizza or sushi"),
        "cyrillic": mail(subject="=?utf-8?b?0J/RgNC40LLQtdGC?=", body="Как дела"),
        "cc": mail(subject="Minutes", cc="Erin <erin@example.org>", body="Notes of the meeting"),
    }.items():
        ids[key] = (await deliver(raw, rcpt_to=[ALICE])).entries[0].id
    bob_only = await deliver(mail(subject="Budget secret", to=BOB), rcpt_to=[BOB])
    ids["bob"] = bob_only.entries[0].id
    await pool.execute(
        "UPDATE mailbox_entries SET created_at = '2025-03-10T12:00:00Z' WHERE id = $1",
        ids["lunch"],
    )
    await pool.execute("UPDATE mailbox_entries SET seen = true WHERE id = $1", ids["cc"])
    return ids


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("budget", {"budget"}),
        ("QUARTERLY", {"budget"}),
        ("pizza or minutes", {"lunch", "cc"}),
        ("Привет", {"cyrillic"}),
        ("дела", {"cyrillic"}),
        ("dave@food.test", {"lunch"}),
        ("from:dave", {"lunch"}),
        ("from:carol subject:budget", {"budget"}),
        ("to:erin", {"cc"}),
        ("to:alice", {"budget", "lunch", "cyrillic", "cc"}),
        ("has:attachment", {"budget"}),
        ("is:unread -pizza", {"budget", "cyrillic"}),
        ("is:read", {"cc"}),
        ("before:2025-03-11 after:2025-03-10", {"lunch"}),
        ("after:2025-03-11", {"budget", "cyrillic", "cc"}),
        ('"quarterly numbers"', {"budget"}),
        ('"numbers quarterly"', set()),
        ('"numbers attached"', set()),  # both words, not side by side
        ('"quarterly numbers" or pizza', {"budget", "lunch"}),
        ('budget -"quarterly numbers"', set()),
        ("secret", set()),  # Bob's mail never shows in Alice's results
        ("", {"budget", "lunch", "cyrillic", "cc"}),
        ("!!!", set()),
    ],
)
async def test_search(
    client: Client, searchable: dict[str, int], query: str, expected: set[str]
) -> None:
    response = await client.get(f"/v1/accounts/{ALICE}/search", params={"q": query}, headers=AUTH)

    assert response.status == 200, await response.text()
    found = {item["id"] for item in (await response.json())["messages"]}
    assert found == {searchable[key] for key in expected}


@pytest.mark.parametrize("walk", [1, 2, 2500])
async def test_search_pages_agree_whichever_statement_answers(
    client: Client, searchable: dict[str, int], monkeypatch: pytest.MonkeyPatch, walk: int
) -> None:
    # A walk over fewer entries than a page falls back to the GIN index; over more, it
    # answers alone. Either way the pages are the newest matches, in order.
    monkeypatch.setattr(searching, "WALK_ENTRIES", walk)
    seen: list[int] = []
    cursor = None
    while True:
        params = {"q": "carol", "limit": "2", **({"cursor": cursor} if cursor else {})}
        url = f"/v1/accounts/{ALICE}/search"
        body = await (await client.get(url, params=params, headers=AUTH)).json()
        seen += [item["id"] for item in body["messages"]]
        cursor = body["next_cursor"]
        if not cursor:
            break

    expected = [searchable[k] for k in ("cc", "cyrillic", "budget")]  # from Carol
    assert seen == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"quarterly numbers"', {"budget"}),
        ('"numbers attached"', set()),
        ('"budget secret"', set()),  # Bob's: the index finds it, Alice's entries do not
        ('"quarterly numbers" or "meeting notes"', {"budget"}),
        ('"notes of the meeting"', {"cc"}),
    ],
)
async def test_phrases_through_the_index_match_only_side_by_side_words(
    client: Client,
    searchable: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    expected: set[str],
) -> None:
    # A walk of one entry cannot answer: the GIN index does, looking up the words only.
    monkeypatch.setattr(searching, "WALK_ENTRIES", 1)
    response = await client.get(f"/v1/accounts/{ALICE}/search", params={"q": query}, headers=AUTH)

    found = {item["id"] for item in (await response.json())["messages"]}
    assert found == {searchable[key] for key in expected}


async def test_search_leaves_out_trash_unless_asked(
    client: Client, searchable: dict[str, int]
) -> None:
    url = f"/v1/accounts/{ALICE}/messages/{searchable['budget']}/trash"
    await client.post(url, headers=AUTH)

    async def search(query: str) -> set[int]:
        response = await client.get(
            f"/v1/accounts/{ALICE}/search", params={"q": query}, headers=AUTH
        )
        return {item["id"] for item in (await response.json())["messages"]}

    assert await search("budget") == set()
    assert await search("budget in:trash") == {searchable["budget"]}
    assert await search("budget in:all") == {searchable["budget"]}


async def test_search_pages_like_a_listing(client: Client, searchable: dict[str, int]) -> None:
    first = await (
        await client.get(
            f"/v1/accounts/{ALICE}/search", params={"q": "", "limit": "3"}, headers=AUTH
        )
    ).json()
    second = await (
        await client.get(
            f"/v1/accounts/{ALICE}/search",
            params={"q": "", "limit": "3", "cursor": first["next_cursor"]},
            headers=AUTH,
        )
    ).json()

    assert len(first["messages"]) == 3
    assert [m["id"] for m in second["messages"]] == [searchable["lunch"]]
    assert second["next_cursor"] is None


async def test_bad_search_operator_is_422(client: Client, alice_and_bob: None) -> None:
    response = await client.get(
        f"/v1/accounts/{ALICE}/search", params={"q": "before:soon"}, headers=AUTH
    )

    assert response.status == 422
    assert "q" in (await response.json())["fields"]


# -- search: CJK, word prefixes and stems, attachment names, folders -----------------------


def encoded(text: str) -> str:
    return str(Header(text, "utf-8").encode())


@pytest.fixture
async def findable(client: Client, alice_and_bob: None, deliver: Any) -> dict[str, int]:
    ids = {}
    for key, raw in {
        "japanese": mail(
            subject=encoded("会議の資料"),
            sender="Tanaka <tanaka@example.jp>",
            body="日本語のメールです。請求書を送ります。",
        ),
        "korean": mail(subject=encoded("안녕하세요"), body="한국어 메일"),
        "invoice": mail(subject="Your invoice", body="Payment due."),
        "invoices": mail(subject="Invoices for March", body="Three of them."),
        "happiness": mail(subject="Happiness report", body="Charts.", attachment=True),
    }.items():
        ids[key] = (await deliver(raw, rcpt_to=[ALICE])).entries[0].id
    bob_only = await deliver(
        mail(subject=encoded("日本語の秘密"), to=BOB, body="invoices"), rcpt_to=[BOB]
    )
    ids["bob"] = bob_only.entries[0].id
    return ids


async def found(client: Client, query: str) -> tuple[int, set[int]]:
    response = await client.get(f"/v1/accounts/{ALICE}/search", params={"q": query}, headers=AUTH)
    body = await response.json()
    return response.status, {item["id"] for item in body.get("messages", [])}


@pytest.mark.parametrize("walk", [1, 2500])
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("日本語", {"japanese"}),
        ("メール", {"japanese"}),  # inside a run the parser keeps as one lexeme
        ("請求書", {"japanese"}),
        ("会議", {"japanese"}),  # the subject
        ("日本語 請求書", {"japanese"}),
        ("中国語", set()),
        ("日本語 invoice", set()),  # every part must match
        ("日本語 tanaka", {"japanese"}),
        ("한국어", {"korean"}),
        ("안녕", {"korean"}),
        ("秘密", set()),  # Bob's mail never shows in Alice's results
        ("invoice", {"invoice", "invoices"}),
        ("invoices", {"invoice", "invoices"}),  # the stem "invoic" as a prefix
        ("INVOIC", {"invoice", "invoices"}),
        ("happy", {"happiness"}),  # "happi", the stem, begins "happiness"
        ("happ", {"happiness"}),
        ("-invoice march", set()),
        ("invoice -march", {"invoice"}),
        ('"your invoices"', {"invoice"}),  # a phrase of prefixes
        ("in", set()),  # too short to be a prefix: the word "in" only
        ("filename:r.pdf", {"happiness"}),
        ("filename:R.PDF happiness", {"happiness"}),
        ("filename:other.pdf", set()),
    ],
)
async def test_search_finds_cjk_prefixes_stems_and_file_names(
    client: Client,
    findable: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
    walk: int,
    query: str,
    expected: set[str],
) -> None:
    monkeypatch.setattr(searching, "WALK_ENTRIES", walk)  # 1: the GIN index answers

    status, ids = await found(client, query)

    assert status == 200
    assert ids == {findable[key] for key in expected}


async def test_search_in_one_folder_or_all_of_them(
    client: Client, findable: dict[str, int]
) -> None:
    created = await client.post(
        f"/v1/accounts/{ALICE}/folders", json={"name": "Work"}, headers=AUTH
    )
    work = (await created.json())["id"]
    entry = findable["invoices"]
    await client.post(
        f"/v1/accounts/{ALICE}/messages/{entry}/move", json={"folder": work}, headers=AUTH
    )
    moved = await client.get(f"/v1/accounts/{ALICE}/messages/{entry}", headers=AUTH)
    entry = (await moved.json())["id"]

    assert await found(client, "invoice") == (200, {findable["invoice"], entry})
    assert await found(client, f"invoice in:{work}") == (200, {entry})
    assert await found(client, "invoice in:inbox") == (200, {findable["invoice"]})
    assert await found(client, "invoice in:all") == (200, {findable["invoice"], entry})
    assert (await found(client, "invoice in:nosuch"))[0] == 422


async def test_filename_finds_attachments_not_inline_images(
    client: Client, alice_and_bob: None, deliver: Any
) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "carol@example.com", ALICE, "Logo and report"
    msg.set_content("See the logo.")
    msg.add_alternative('<p><img src="cid:logo@example.org"></p>', subtype="html")
    msg.get_payload()[1].add_related(
        b"\x89PNG",
        "image",
        "png",
        cid="<logo@example.org>",
        filename="logo.png",
        disposition="inline",
    )
    msg.add_attachment(b"%PDF-1.4", "application", "pdf", filename="q3-report.pdf")
    entry = (await deliver(msg.as_bytes(), rcpt_to=[ALICE])).entries[0].id

    assert await found(client, "filename:q3-report") == (200, {entry})
    assert await found(client, "filename:logo") == (200, set())


async def test_only_the_senders_sent_copy_names_the_envelope_recipients(
    client: Client, alice_and_bob: None, deliver: Any
) -> None:
    raw = mail("Partly", sender=ALICE, to=f"{BOB}, gone@localpost.test")
    await deliver(raw, rcpt_to=[BOB], mail_from=ALICE, submitted_by=ALICE)
    (sent,) = await inbox_ids(client, ALICE, "sent")
    (received,) = await inbox_ids(client, BOB)

    mine = await (await client.get(f"/v1/accounts/{ALICE}/messages/{sent}", headers=AUTH)).json()
    theirs = await (
        await client.get(f"/v1/accounts/{BOB}/messages/{received}", headers=AUTH)
    ).json()

    assert mine["delivered_to"] == [BOB]
    assert theirs["delivered_to"] is None
