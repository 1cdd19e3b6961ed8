"""/v1/admin/...: the web's /admin pages' calls, each recorded in the audit log in the
action's own transaction; invitations used once; the CLI's actions audited too."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore import cli, db

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": "Bearer dev-mailstore-token-not-a-secret"}
ADMIN, ALICE, BOB = "root@localpost.test", "alice@localpost.test", "bob@localpost.test"
PASSWORD = "a long password"


async def _accounts(client: Client, *addresses: str) -> None:
    for address in addresses:
        body = {"address": address, "name": address.split("@")[0], "password": PASSWORD}
        assert (await client.post("/v1/accounts", json=body, headers=AUTH)).status == 201


async def _post(client: Client, path: str, body: dict[str, Any] | None = None) -> Any:
    return await client.post(path, json={"actor": ADMIN, **(body or {})}, headers=AUTH)


async def _audit(pool: Any) -> list[tuple[str, str, str]]:
    rows = await pool.fetch("SELECT actor, action, target FROM admin_audit ORDER BY id")
    return [(row["actor"], row["action"], row["target"]) for row in rows]


async def test_account_actions_are_done_and_audited(client: Client, pool: Any) -> None:
    await _accounts(client, ADMIN, ALICE)
    await db.set_admin(pool, address=ADMIN, admin=True)

    created = await _post(
        client, "/v1/admin/accounts", {"address": BOB, "name": "Bob", "password": PASSWORD}
    )
    assert created.status == 201
    listed = await (await client.get("/v1/admin/accounts?q=RO", headers=AUTH)).json()
    assert [a["address"] for a in listed["accounts"]] == [ADMIN]
    assert listed["accounts"][0]["is_admin"] is True
    first = await (await client.get("/v1/admin/accounts?limit=2", headers=AUTH)).json()
    assert [a["address"] for a in first["accounts"]] == [ALICE, BOB]
    rest = await client.get(f"/v1/admin/accounts?after={first['next']}", headers=AUTH)
    assert [a["address"] for a in (await rest.json())["accounts"]] == [ADMIN]

    session = await client.post("/v1/sessions", json={"address": BOB}, headers=AUTH)
    secret = (await session.json())["session"]
    assert (await _post(client, f"/v1/admin/accounts/{BOB}/disable")).status == 200
    assert (await client.get(f"/v1/sessions/{secret}", headers=AUTH)).status == 404
    assert (await _post(client, f"/v1/admin/accounts/{BOB}/enable")).status == 200
    granted = await _post(client, f"/v1/admin/accounts/{BOB}/admin", {"admin": True})
    assert granted.status == 200
    reset = await _post(client, f"/v1/admin/accounts/{BOB}/reset-link")
    assert "/reset/" in (await reset.json())["link"]
    assert (await _post(client, f"/v1/admin/accounts/{BOB}/delete")).status == 204
    assert await db.get_account(pool, address=BOB) is None

    assert [action for _, action, _ in await _audit(pool)] == [
        "create_account",
        "disable",
        "enable",
        "grant_admin",
        "reset_link",
        "delete_account",
    ]
    page = await (await client.get("/v1/admin/audit?limit=2", headers=AUTH)).json()
    assert [e["action"] for e in page["entries"]] == ["delete_account", "reset_link"]
    older = await client.get(f"/v1/admin/audit?before={page['next']}", headers=AUTH)
    assert (await older.json())["entries"][0]["action"] == "grant_admin"


async def test_a_quota_is_parsed_set_and_audited(client: Client, pool: Any) -> None:
    await _accounts(client, ALICE)
    path = f"/v1/admin/accounts/{ALICE}/quota"
    answer = await _post(client, path, {"quota": "2 MiB"})
    assert answer.status == 200
    assert (await answer.json())["limit"] == 2 * 1024**2
    listed = await (await client.get("/v1/admin/accounts", headers=AUTH)).json()
    assert listed["default_quota"] == 0
    assert [(a["quota"], a["quota_used"]) for a in listed["accounts"]] == [(2 * 1024**2, 0)]
    unlimited = await (await _post(client, path, {"quota": "0"})).json()
    assert (unlimited["quota"], unlimited["limit"]) == (0, None)
    back = await (await _post(client, path, {"quota": "DEFAULT"})).json()
    assert back["quota"] is None
    for bad in ("lots", "5 PiB", "-1", "9" * 30, "1\x00", 5, None, "x" * 100):
        refused = await _post(client, path, {"quota": bad})
        assert refused.status == 422, bad
        assert "quota" in (await refused.json())["fields"], bad
    assert (await _post(client, "/v1/admin/accounts/ghost@localpost.test/quota",
                        {"quota": "1MiB"})).status == 404  # fmt: skip
    rows = await pool.fetch("SELECT actor, action, target, detail FROM admin_audit ORDER BY id")
    assert [(r["actor"], r["action"], r["target"], r["detail"]) for r in rows] == [
        (ADMIN, "set_quota", ALICE, {"quota": 2 * 1024**2}),
        (ADMIN, "set_quota", ALICE, {"quota": 0}),
        (ADMIN, "set_quota", ALICE, {"quota": None}),
    ]  # the refused and the missing account left no row
    assert await pool.fetchval("SELECT quota FROM accounts WHERE address = $1", ALICE) is None


async def test_the_last_administrator_is_kept(client: Client, pool: Any) -> None:
    await _accounts(client, ADMIN, ALICE)
    await db.set_admin(pool, address=ADMIN, admin=True)
    for path, body in (
        (f"/v1/admin/accounts/{ADMIN}/admin", {"admin": False}),
        (f"/v1/admin/accounts/{ADMIN}/disable", {}),
        (f"/v1/admin/accounts/{ADMIN}/delete", {}),
    ):
        refused = await _post(client, path, body)
        assert refused.status == 409, path
        assert (await refused.json())["code"] == "lastadmin"
    assert await _audit(pool) == []  # nothing done, nothing recorded
    # With a second one, the first may go.
    await _post(client, f"/v1/admin/accounts/{ALICE}/admin", {"admin": True})
    assert (await _post(client, f"/v1/admin/accounts/{ADMIN}/admin", {"admin": False})).ok


async def test_missing_and_hostile_targets_are_404_or_422_never_5xx(client: Client) -> None:
    for address in ("ghost@localpost.test", "a%00b@localpost.test", "x" * 400):
        for action in ("disable", "enable", "delete", "reset-link"):
            answer = await _post(client, f"/v1/admin/accounts/{address}/{action}")
            assert answer.status == 404, (address, action)
    assert (await _post(client, "/v1/admin/invitations/99999999999/revoke")).status == 404
    assert (await _post(client, "/v1/admin/unclaimed/NOPE/delete")).status == 404
    assert (await client.get("/v1/admin/unclaimed/%00/raw", headers=AUTH)).status == 404
    assert (await _post(client, "/v1/admin/aliases/none@localpost.test/delete")).status == 404
    no_actor = await client.post(f"/v1/admin/accounts/{ALICE}/disable", json={}, headers=AUTH)
    assert no_actor.status == 422
    for query in ("q=%00", "limit=0", "after=" + "a" * 400):
        assert (await client.get(f"/v1/admin/accounts?{query}", headers=AUTH)).status == 422
    assert (await client.get("/v1/admin/audit?before=x", headers=AUTH)).status == 422
    bad = await _post(client, "/v1/admin/registration", {"mode": "Open"})
    assert bad.status == 405  # PUT only
    bad = await client.put(
        "/v1/admin/registration", json={"actor": ADMIN, "mode": "Open"}, headers=AUTH
    )
    assert bad.status == 422


async def test_aliases_are_added_listed_and_removed(client: Client, pool: Any) -> None:
    await _accounts(client, ALICE, BOB)
    added = await _post(client, "/v1/admin/aliases", {"address": "info@localpost.test",
                                                       "targets": [ALICE, BOB]})  # fmt: skip
    assert (await added.json())["targets"] == [ALICE, BOB]
    shadow = await _post(client, "/v1/admin/aliases", {"address": ALICE, "targets": [BOB]})
    assert (await shadow.json())["fields"] == {"address": "is an account's address"}
    missing = await _post(
        client,
        "/v1/admin/aliases",
        {"address": "x@localpost.test", "targets": ["no@localpost.test"]},
    )
    assert "targets" in (await missing.json())["fields"]
    listed = await (await client.get("/v1/admin/aliases", headers=AUTH)).json()
    assert listed == {"aliases": [{"address": "info@localpost.test", "targets": [ALICE, BOB]}]}
    assert (await _post(client, "/v1/admin/aliases/info@localpost.test/delete")).status == 204
    assert [a for _, a, _ in await _audit(pool)] == ["add_alias", "remove_alias"]


async def test_the_registration_choice_is_stored_and_audited(client: Client, pool: Any) -> None:
    assert (await (await client.get("/v1/registration", headers=AUTH)).json())["mode"] is None
    chosen = await client.put(
        "/v1/admin/registration", json={"actor": ADMIN, "mode": "invite"}, headers=AUTH
    )
    assert (await chosen.json())["mode"] == "invite"
    now = await (await client.get("/v1/registration", headers=AUTH)).json()
    assert now["mode"] == "invite"
    assert now["changed_by"] == ADMIN
    assert await _audit(pool) == [(ADMIN, "set_registration", "invite")]


async def _invite(client: Client, **body: Any) -> str:
    created = await _post(client, "/v1/admin/invitations", body)
    assert created.status == 201
    link: str = (await created.json())["link"]
    return link.rpartition("/")[2]


async def test_an_invitation_makes_one_account_even_used_twice_at_once(
    client: Client, pool: Any
) -> None:
    secret = await _invite(client)
    assert (await client.get(f"/v1/invitations/{secret}", headers=AUTH)).status == 200

    async def sign_up(address: str) -> int:
        body = {"address": address, "password": PASSWORD, "invitation": secret}
        return (await client.post("/v1/accounts", json=body, headers=AUTH)).status

    statuses = await asyncio.gather(sign_up(ALICE), sign_up(BOB))
    assert sorted(statuses) == [201, 404]
    assert await pool.fetchval("SELECT count(*) FROM accounts") == 1
    assert (await client.get(f"/v1/invitations/{secret}", headers=AUTH)).status == 404
    assert await sign_up("carol@localpost.test") == 404


async def test_an_invitation_bound_to_an_address_revoked_or_expired_creates_nothing(
    client: Client, pool: Any
) -> None:
    bound = await _invite(client, address=ALICE)

    async def sign_up(address: str, secret: str) -> int:
        body = {"address": address, "password": PASSWORD, "invitation": secret}
        return (await client.post("/v1/accounts", json=body, headers=AUTH)).status

    assert await sign_up(BOB, bound) == 404
    assert await sign_up(ALICE, bound) == 201
    # A taken address leaves the invitation live.
    spare = await _invite(client)
    assert await sign_up(ALICE, spare) == 409
    assert (await client.get(f"/v1/invitations/{spare}", headers=AUTH)).status == 200
    listed = await (await client.get("/v1/admin/invitations", headers=AUTH)).json()
    spare_id = listed["invitations"][0]["id"]
    assert (await _post(client, f"/v1/admin/invitations/{spare_id}/revoke")).status == 204
    assert await sign_up(BOB, spare) == 404
    old = await _invite(client, days=1)
    await pool.execute("UPDATE invitations SET expires_at = now() - interval '1 second'")
    assert await sign_up(BOB, old) == 404
    bad = await _post(client, "/v1/admin/invitations", {"days": 0, "address": "x@elsewhere"})
    assert set((await bad.json())["fields"]) == {"days", "address"}
    assert [a for _, a, _ in await _audit(pool)] == [
        "create_invitation",
        "create_invitation",
        "revoke_invitation",
        "create_invitation",
    ]


async def test_mail_that_reached_nobody_is_listed_shown_and_deleted(
    client: Client, pool: Any, deliver: Any
) -> None:
    await _accounts(client, ALICE)
    await deliver(b"Subject: kept\r\n\r\nfor alice\r\n", rcpt_to=[ALICE])
    await deliver(b"Subject: lost\r\n\r\nnobody\r\n", rcpt_to=["postmaster@localpost.test"],
                  gateway_id="01AAAAAAAAAAAAAAAAAAAAAAAA")  # fmt: skip
    listed = await (await client.get("/v1/admin/unclaimed", headers=AUTH)).json()
    assert [(m["id"], m["subject"]) for m in listed["messages"]] == [
        ("01AAAAAAAAAAAAAAAAAAAAAAAA", "lost")
    ]
    raw = await client.get("/v1/admin/unclaimed/01AAAAAAAAAAAAAAAAAAAAAAAA/raw", headers=AUTH)
    assert b"nobody" in await raw.read()
    gone = await _post(client, "/v1/admin/unclaimed/01AAAAAAAAAAAAAAAAAAAAAAAA/delete")
    assert gone.status == 204
    assert (await (await client.get("/v1/admin/unclaimed", headers=AUTH)).json())["messages"] == []


async def test_the_cli_records_its_actions_as_the_os_user(
    config: Any, pool: Any, monkeypatch: Any, client: Client
) -> None:
    await _accounts(client, ALICE, BOB)
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    monkeypatch.setenv("LOCALPOST_DOMAIN", "localpost.test")
    monkeypatch.setenv("LOCALPOST_DEV", "1")
    monkeypatch.setenv("USER", "operator")
    monkeypatch.setenv("LOGNAME", "operator")
    for argv in (
        ["admin", "grant", ALICE],
        ["admin", "disable", BOB],
        ["reset-password", ALICE],
        ["alias", "add", "info@localpost.test", ALICE],
        ["admin", "quota", BOB, "1GiB"],
    ):
        assert await asyncio.to_thread(cli.main, argv) == 0, argv
    assert await _audit(pool) == [
        ("cli:operator", "grant_admin", ALICE),
        ("cli:operator", "disable", BOB),
        ("cli:operator", "reset_link", ALICE),
        ("cli:operator", "add_alias", "info@localpost.test"),
        ("cli:operator", "set_quota", BOB),
    ]


async def test_mail_that_reached_nobody_is_delivered_to_an_account(
    client: Client, pool: Any, deliver: Any
) -> None:
    await _accounts(client, ALICE)
    lost = "01BBBBBBBBBBBBBBBBBBBBBBBB"
    await deliver(b"Subject: for the admin\r\n\r\nhello\r\n", rcpt_to=["x@localpost.test"],
                  gateway_id=lost)  # fmt: skip
    path = f"/v1/admin/unclaimed/{lost}/deliver"
    assert (await _post(client, path, {"address": "ghost@localpost.test"})).status == 404
    assert (await _post(client, path, {})).status == 422
    assert (await _post(client, path, {"address": ALICE})).status == 204
    inbox = await client.get(f"/v1/accounts/{ALICE}/messages?folder=inbox", headers=AUTH)
    assert [m["subject"] for m in (await inbox.json())["messages"]] == ["for the admin"]
    assert (await client.get("/v1/admin/unclaimed", headers=AUTH)).status == 200
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE id = $1", lost) == 0
    assert (await _post(client, path, {"address": ALICE})).status == 404
    assert (ADMIN, "deliver_unclaimed", lost) in await _audit(pool)


async def test_lists_are_made_changed_and_deleted_each_change_audited(
    client: Client, pool: Any
) -> None:
    await _accounts(client, ALICE, BOB)
    team = "team@localpost.test"
    made = await _post(client, "/v1/admin/lists", {"address": team, "policy": "members"})
    assert made.status == 201
    taken = await _post(client, "/v1/admin/lists", {"address": ALICE, "policy": "members"})
    assert (await taken.json())["fields"] == {"address": "is an account's address"}
    bad = await _post(client, "/v1/admin/lists", {"address": "x@localpost.test", "policy": "all"})
    assert "policy" in (await bad.json())["fields"]
    added = await _post(client, f"/v1/admin/lists/{team}/members", {"members": [ALICE, BOB]})
    assert (await added.json())["members"] == [ALICE, BOB]
    unknown = await _post(client, f"/v1/admin/lists/{team}/members", {"members": [ADMIN]})
    assert unknown.status == 422
    assert "no account, alias or list" in (await unknown.json())["fields"]["members"]
    # A list may be its own member: expansion walks each list once (db/lists.py).
    assert (await _post(client, f"/v1/admin/lists/{team}/members", {"members": [team]})).ok
    gone = await _post(client, f"/v1/admin/lists/{team}/members/delete", {"members": [team, BOB]})
    assert (await gone.json())["members"] == [ALICE]
    policy = await _post(client, f"/v1/admin/lists/{team}/policy", {"policy": "anyone"})
    assert (await policy.json())["policy"] == "anyone"
    listed = await (await client.get("/v1/admin/lists", headers=AUTH)).json()
    assert listed == {"lists": [{"address": team, "policy": "anyone", "members": [ALICE]}]}
    for path, body in (
        ("/v1/admin/lists/none@localpost.test/members", {"members": [ALICE]}),
        ("/v1/admin/lists/none@localpost.test/policy", {"policy": "local"}),
        ("/v1/admin/lists/none@localpost.test/delete", {}),
        ("/v1/admin/lists/a%00b@localpost.test/delete", {}),
    ):
        assert (await _post(client, path, body)).status == 404, path
    assert (await client.get("/v1/admin/lists/none@localpost.test", headers=AUTH)).status == 404
    for members in ([], "x", ["a\x00"], [1], ["m"] * 60):
        answer = await _post(client, f"/v1/admin/lists/{team}/members", {"members": members})
        assert answer.status == 422, members
    assert (await _post(client, f"/v1/admin/lists/{team}/delete")).status == 204
    rows = await pool.fetch("SELECT actor, action, target, detail FROM admin_audit ORDER BY id")
    assert [(r["action"], r["target"]) for r in rows] == [
        ("create_list", team),
        ("add_members", team),
        ("add_members", team),
        ("remove_members", team),
        ("list_policy", team),
        ("delete_list", team),
    ]  # the refused ones rolled back with their rows
    assert rows[0]["detail"] == {"policy": "members"}
    assert {r["actor"] for r in rows} == {ADMIN}


async def test_a_domains_catchall_is_set_and_unset_audited(client: Client, pool: Any) -> None:
    await _accounts(client, ALICE)
    listed = await (await client.get("/v1/admin/catchalls", headers=AUTH)).json()
    assert {"domain": "localpost.test", "target": None} in listed["catchalls"]
    path = "/v1/admin/catchalls/localpost.test"
    nobody = await _post(client, path, {"target": "ghost@localpost.test"})
    assert "target" in (await nobody.json())["fields"]
    assert (await _post(client, path, {"target": ALICE})).status == 200
    listed = await (await client.get("/v1/admin/catchalls", headers=AUTH)).json()
    assert {"domain": "localpost.test", "target": ALICE} in listed["catchalls"]
    assert (
        await _post(client, "/v1/admin/catchalls/elsewhere.example", {"target": ALICE})
    ).status == 404
    assert (await _post(client, path + "/delete")).status == 204
    assert (await _post(client, path + "/delete")).status == 404
    assert await _audit(pool) == [
        (ADMIN, "set_catchall", "localpost.test"),
        (ADMIN, "unset_catchall", "localpost.test"),
    ]


async def test_the_list_and_catchall_commands_are_audited(
    config: Any, pool: Any, monkeypatch: Any, client: Client
) -> None:
    await _accounts(client, ALICE)
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    monkeypatch.setenv("LOCALPOST_DOMAIN", "localpost.test")
    monkeypatch.setenv("LOCALPOST_DEV", "1")
    monkeypatch.setenv("USER", "operator")
    monkeypatch.setenv("LOGNAME", "operator")
    team = "team@localpost.test"
    for argv in (
        ["list", "create", team],
        ["list", "add", team, ALICE],
        ["list", "policy", team, "local"],
        ["list", "remove", team, ALICE],
        ["list", "show", team],
        ["catchall", "set", "localpost.test", team],
        ["catchall", "unset", "localpost.test"],
        ["list", "delete", team],
    ):
        assert await asyncio.to_thread(cli.main, argv) == 0, argv
    assert await asyncio.to_thread(cli.main, ["list", "delete", team]) == 1
    assert await _audit(pool) == [
        ("cli:operator", action, target)
        for action, target in (
            ("create_list", team),
            ("add_members", team),
            ("list_policy", team),
            ("remove_members", team),
            ("set_catchall", "localpost.test"),
            ("unset_catchall", "localpost.test"),
            ("delete_list", team),
        )
    ]
