"""/admin (issue 16): administrators only, everyone else the 404 of an unknown page; every
action done through the mail store and recorded in the audit log; hostile input a field
error; invitations one-time."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from webmail.main import create_app
from webmail.settings import load_config

Client = TestClient[web.Request, web.Application]
GHOST = "ghost@localpost.test"

# Every admin route, GET and POST, with sample values (test_the_table_covers_every_route).
ADMIN_ROUTES = [
    ("GET", "/admin"),
    ("POST", "/admin/registration"),
    ("GET", "/admin/accounts"),
    ("POST", "/admin/accounts"),
    ("POST", "/admin/accounts/{address}/disable"),
    ("POST", "/admin/accounts/{address}/enable"),
    ("POST", "/admin/accounts/{address}/grant"),
    ("POST", "/admin/accounts/{address}/revoke"),
    ("POST", "/admin/accounts/{address}/reset-link"),
    ("POST", "/admin/accounts/{address}/quota"),
    ("GET", "/admin/accounts/{address}/delete"),
    ("POST", "/admin/accounts/{address}/delete"),
    ("GET", "/admin/aliases"),
    ("POST", "/admin/aliases"),
    ("POST", "/admin/aliases/{address}/delete"),
    ("GET", "/admin/lists"),
    ("POST", "/admin/lists"),
    ("GET", "/admin/lists/{address}"),
    ("POST", "/admin/lists/{address}/members"),
    ("POST", "/admin/lists/{address}/members/remove"),
    ("POST", "/admin/lists/{address}/policy"),
    ("POST", "/admin/lists/{address}/delete"),
    ("POST", "/admin/catchall"),
    ("GET", "/admin/invitations"),
    ("POST", "/admin/invitations"),
    ("POST", "/admin/invitations/1/revoke"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/unclaimed"),
    ("GET", "/admin/unclaimed/01AAAAAAAAAAAAAAAAAAAAAAAA/raw"),
    ("POST", "/admin/unclaimed/01AAAAAAAAAAAAAAAAAAAAAAAA/delete"),
    ("POST", "/admin/unclaimed/01AAAAAAAAAAAAAAAAAAAAAAAA/deliver"),
]


def test_the_table_covers_every_admin_route(client: Client) -> None:
    routed = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/admin")
        and route.method != "HEAD"
    }
    listed = set()
    for method, path in ADMIN_ROUTES:
        path = path.replace("/1/", "/{id}/").replace("/01AAAAAAAAAAAAAAAAAAAAAAAA/", "/{id}/")
        for action in ("disable", "enable", "grant", "revoke", "reset-link"):
            path = path.replace("{address}/" + action, "{address}/{action}")
        if path.startswith("/admin/lists/{address}/"):
            path = "/admin/lists/{address}/{action}"
        listed.add((method, path))
    assert listed == routed


async def _admin(client: Client, h: Any, pool: Any) -> str:
    address = await h.register(client)
    await pool.execute("UPDATE accounts SET is_admin = true WHERE address = $1", address)
    await h.login(client, address)
    return address


_PER_RESPONSE = re.compile(r'(nonce|name="csrf_token" value)="[^"]*"')


def _same_page(html: str) -> str:
    """The page without what changes at every response (the CSP nonce, the masked CSRF
    token)."""
    return _PER_RESPONSE.sub(r'\1=""', html)


async def _unknown_page(client: Client, method: str, token: str) -> tuple[int, str]:
    data = {"csrf_token": token} if method == "POST" else None
    response = await client.request(method, "/no-such-page", data=data, allow_redirects=False)
    return response.status, _same_page(await response.text())


@pytest.mark.parametrize("who", ["logged-out", "user", "revoked-admin", "bearer"])
@pytest.mark.parametrize(
    ("method", "path"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p in ADMIN_ROUTES]
)
async def test_everyone_but_an_administrator_gets_the_unknown_pages_404(
    client: Client, h: Any, pool: Any, who: str, method: str, path: str
) -> None:
    victim = await h.register(client)
    headers: dict[str, str] = {}
    if who == "user":
        await h.login(client, await h.register(client))
    elif who == "revoked-admin":
        # Made admin, logged in, then revoked: the next request is an ordinary user's.
        admin = await _admin(client, h, pool)
        await pool.execute("UPDATE accounts SET is_admin = false WHERE address = $1", admin)
    elif who == "bearer":
        admin = await h.register(client)
        await pool.execute("UPDATE accounts SET is_admin = true WHERE address = $1", admin)
        headers["Authorization"] = f"Bearer {await h.api_token(client, admin)}"
    token = await h.csrf_token(client, "/login" if who == "logged-out" else "/settings")
    expected = await _unknown_page(client, method, token)
    data = {"csrf_token": token, "mode": "closed", "address": "x@localpost.test",
            "targets": victim, "name": "X", "password": h.password, "days": "3",
            "confirmed": "1", "quota": "1MiB", "policy": "anyone", "members": victim,
            "member": victim, "domain": "localpost.test"}  # fmt: skip
    catchalls = await pool.fetchval("SELECT count(*) FROM catchalls")

    response = await client.request(
        method,
        path.format(address=victim),
        data=data if method == "POST" else None,
        headers=headers,
        allow_redirects=False,
    )

    if who == "bearer":
        assert response.status == 404
    else:
        assert (response.status, _same_page(await response.text())) == expected
    row = await pool.fetchrow(
        "SELECT disabled_at, is_admin, quota FROM accounts WHERE address = $1", victim
    )
    assert row is not None
    assert (row["disabled_at"], row["is_admin"], row["quota"]) == (None, False, None)
    assert await pool.fetchval("SELECT count(*) FROM service_settings") == 0
    assert await pool.fetchval("SELECT count(*) FROM catchalls") == catchalls
    assert not await pool.fetchval("SELECT count(*) FROM lists WHERE address = 'x@localpost.test'")


ADMIN_POSTS = [(m, p) for m, p in ADMIN_ROUTES if m == "POST"]


@pytest.mark.parametrize("token", [None, "", "AAAA"])
@pytest.mark.parametrize(("method", "path"), ADMIN_POSTS, ids=[p for _, p in ADMIN_POSTS])
async def test_an_administrators_posts_need_the_csrf_token(
    client: Client, h: Any, pool: Any, method: str, path: str, token: str | None
) -> None:
    await _admin(client, h, pool)
    victim = await h.register(client)
    data = {"mode": "closed", "confirmed": "1", "quota": "1MiB", "address": "l@localpost.test",
            "policy": "anyone", "domain": "localpost.test", "target": victim}  # fmt: skip
    if token is not None:
        data["csrf_token"] = token
    recorded = await pool.fetchval("SELECT count(*) FROM admin_audit")

    response = await client.post(path.format(address=victim), data=data, allow_redirects=False)

    assert response.status == 403
    assert await pool.fetchval("SELECT count(*) FROM admin_audit") == recorded
    assert await pool.fetchval("SELECT count(*) FROM service_settings") == 0


async def _form(client: Client, path: str, data: dict[str, str]) -> Any:
    data = {**data, "csrf_token": await client_token(client)}
    return await client.post(path, data=data, allow_redirects=False)


async def client_token(client: Client) -> str:
    page = await (await client.get("/admin")).text()
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


async def test_the_sidebar_links_to_admin_for_administrators_only(
    client: Client, h: Any, pool: Any
) -> None:
    await h.login(client, await h.register(client))
    assert 'href="/admin"' not in await (await client.get("/settings")).text()
    await _admin(client, h, pool)
    assert 'href="/admin"' in await (await client.get("/settings")).text()


# What an account's life through /admin (or the API) records, in order.
ACCOUNT_LIFE = [
    "create_account",
    "disable",
    "enable",
    "grant_admin",
    "revoke_admin",
    "reset_link",
    "delete_account",
]


async def test_an_administrator_manages_accounts_and_each_action_is_audited(
    client: Client, h: Any, pool: Any
) -> None:
    me = await _admin(client, h, pool)
    new = h.fresh_address()
    created = await _form(
        client, "/admin/accounts", {"name": "New One", "address": new, "password": h.password}
    )
    assert created.status == 303
    listing = await (await client.get(f"/admin/accounts?q={new.split('@')[0]}")).text()
    assert new in listing

    assert (await _form(client, f"/admin/accounts/{new}/disable", {})).status == 303
    assert await pool.fetchval(
        "SELECT disabled_at IS NOT NULL FROM accounts WHERE address = $1", new
    )
    assert (await _form(client, f"/admin/accounts/{new}/enable", {})).status == 303
    assert (await _form(client, f"/admin/accounts/{new}/grant", {})).status == 303
    assert (await _form(client, f"/admin/accounts/{new}/revoke", {})).status == 303
    link_page = await _form(client, f"/admin/accounts/{new}/reset-link", {})
    assert link_page.status == 200
    assert re.search(r"/reset/[A-Za-z0-9_-]{43}", await link_page.text())
    assert link_page.headers["Cache-Control"] == "no-store"

    confirm = await client.get(f"/admin/accounts/{new}/delete")
    assert "Delete forever" in await confirm.text()
    unconfirmed = await _form(client, f"/admin/accounts/{new}/delete", {})
    assert unconfirmed.status == 303  # back to the confirm page, nothing deleted
    assert await pool.fetchval("SELECT count(*) FROM accounts WHERE address = $1", new) == 1
    deleted = await _form(client, f"/admin/accounts/{new}/delete", {"confirmed": "1"})
    assert deleted.status == 303
    assert await pool.fetchval("SELECT count(*) FROM accounts WHERE address = $1", new) == 0

    rows = await pool.fetch(
        "SELECT actor, action FROM admin_audit WHERE target = $1 ORDER BY id", new
    )
    assert [(r["actor"], r["action"]) for r in rows] == [(me, a) for a in ACCOUNT_LIFE]
    audit = await (await client.get("/admin/audit")).text()
    assert "delete account" in audit
    assert new in audit


async def test_the_last_administrator_cannot_revoke_or_disable_themselves(
    client: Client, h: Any, pool: Any
) -> None:
    await pool.execute("UPDATE accounts SET is_admin = false")
    me = await _admin(client, h, pool)
    for action in ("revoke", "disable"):
        refused = await _form(client, f"/admin/accounts/{me}/{action}", {})
        assert refused.status == 409
        assert "only administrator" in await refused.text()
    refused = await _form(client, f"/admin/accounts/{me}/delete", {"confirmed": "1"})
    assert refused.status == 409


async def test_an_administrator_sets_a_quota_shown_with_the_usage_and_audited(
    client: Client, h: Any, pool: Any
) -> None:
    me = await _admin(client, h, pool)
    user = await h.register(client)
    local = user.split("@")[0]
    listing = await (await client.get(f"/admin/accounts?q={local}")).text()
    assert "0 bytes of" in listing
    assert "default (no limit)" in listing  # LOCALPOST_DEFAULT_QUOTA unset in the tests

    for typed, stored, shown in (
        ("500MiB", 500 * 1024**2, "500.0 MB"),
        ("2 GiB", 2 * 1024**3, "2.0 GB"),
        ("0", 0, "no limit"),
        ("default", None, "default (no limit)"),
    ):
        answer = await _form(client, f"/admin/accounts/{user}/quota", {"quota": typed})
        assert answer.status == 303, typed
        assert await pool.fetchval("SELECT quota FROM accounts WHERE address = $1", user) == stored
        assert shown in await (await client.get(f"/admin/accounts?q={local}")).text()
    rows = await pool.fetch(
        "SELECT actor, action, detail FROM admin_audit WHERE target = $1 ORDER BY id", user
    )
    assert [(r["actor"], r["action"]) for r in rows] == [(me, "set_quota")] * 4
    assert [r["detail"]["quota"] for r in rows] == [500 * 1024**2, 2 * 1024**3, 0, None]


HOSTILE_QUOTAS = ["", "   ", "lots", "1.5GiB", "-1", "5 PiB", "9" * 30, "1\x00", "1\u2028",
                  "x" * 100, "<b>1</b>"]  # fmt: skip


@pytest.mark.parametrize("typed", HOSTILE_QUOTAS)
async def test_hostile_quotas_are_field_errors_keeping_input(
    client: Client, h: Any, pool: Any, typed: str
) -> None:
    await _admin(client, h, pool)
    user = await h.register(client)
    recorded = await pool.fetchval("SELECT count(*) FROM admin_audit")

    response = await _form(client, f"/admin/accounts/{user}/quota", {"quota": typed})

    assert response.status == 422
    page = await response.text()
    assert 'id="quota-error"' in page
    assert f'data-account="{user}"' in page  # the account's row, whatever page it was on
    if typed.isprintable() and "<" not in typed:
        assert f'value="{typed}"' in page
    assert await pool.fetchval("SELECT quota FROM accounts WHERE address = $1", user) is None
    assert await pool.fetchval("SELECT count(*) FROM admin_audit") == recorded


@pytest.mark.parametrize("address", [GHOST, "a%00b@localpost.test", "x" * 400, "%E2%80%A8"])
async def test_a_quota_for_no_such_account_is_a_404_never_a_5xx(
    client: Client, h: Any, pool: Any, address: str
) -> None:
    await _admin(client, h, pool)
    recorded = await pool.fetchval("SELECT count(*) FROM admin_audit")
    for typed in ("1MiB", ""):
        response = await _form(client, f"/admin/accounts/{address}/quota", {"quota": typed})
        assert response.status in (404, 422), typed
    assert await pool.fetchval("SELECT count(*) FROM admin_audit") == recorded


# (field values, the field that must carry the error)
HOSTILE_ACCOUNTS = [
    ({"name": "", "address": "a", "password": "x"}, "name"),
    ({"name": "A\x00B", "address": "ok", "password": "long enough password"}, "name"),
    ({"name": "A\u2028B", "address": "ok", "password": "long enough password"}, "name"),
    ({"name": "A" * 300, "address": "ok", "password": "long enough password"}, "name"),
    ({"name": "A", "address": "a\x00b", "password": "long enough password"}, "address"),
    ({"name": "A", "address": "x" * 400, "password": "long enough password"}, "address"),
    ({"name": "A", "address": "\u0430lice", "password": "long enough password"}, "address"),
    (
        {"name": "A", "address": "x@elsewhere.example", "password": "long enough password"},
        "address",
    ),
    ({"name": "A", "address": "postmaster", "password": "long enough password"}, "address"),
    ({"name": "A", "address": "ok", "password": "short"}, "password"),
    ({"name": "A", "address": "ok", "password": "p" * 2000}, "password"),
]


@pytest.mark.parametrize(("values", "bad"), HOSTILE_ACCOUNTS)
async def test_hostile_account_forms_are_field_errors_keeping_input(
    client: Client, h: Any, pool: Any, values: dict[str, str], bad: str
) -> None:
    await _admin(client, h, pool)
    before = await pool.fetchval("SELECT count(*) FROM accounts")

    response = await _form(client, "/admin/accounts", values)

    assert response.status == 422
    page = await response.text()
    assert f'id="{bad}-error"' in page
    assert values["password"] not in page or len(values["password"]) < 6
    assert await pool.fetchval("SELECT count(*) FROM accounts") == before


HOSTILE_ALIASES = [
    ({"address": "", "targets": "x"}, "address"),
    ({"address": "a\x00b@localpost.test", "targets": "x"}, "address"),
    ({"address": "y" * 400, "targets": "x"}, "address"),
    ({"address": "info@elsewhere.example", "targets": "{me}"}, "address"),
    ({"address": "{me}", "targets": "{me}"}, "address"),
    ({"address": "info-{n}@localpost.test", "targets": ""}, "targets"),
    ({"address": "info-{n}@localpost.test", "targets": "nobody-{n}@localpost.test"}, "targets"),
    ({"address": "info-{n}@localpost.test", "targets": " ".join(["a"] * 60)}, "targets"),
]


@pytest.mark.parametrize(("values", "bad"), HOSTILE_ALIASES)
async def test_hostile_alias_forms_are_field_errors_keeping_input(
    client: Client, h: Any, pool: Any, values: dict[str, str], bad: str
) -> None:
    me = await _admin(client, h, pool)
    n = h.fresh_address().split("@")[0]
    values = {k: v.replace("{me}", me).replace("{n}", n) for k, v in values.items()}

    response = await _form(client, "/admin/aliases", values)

    assert response.status == 422
    assert f'id="{bad}-error"' in await response.text()
    assert await pool.fetchval("SELECT count(*) FROM aliases WHERE address LIKE $1", f"%{n}%") == 0


async def test_aliases_are_added_and_removed(client: Client, h: Any, pool: Any) -> None:
    me = await _admin(client, h, pool)
    alias = "team-" + h.fresh_address()
    added = await _form(client, "/admin/aliases", {"address": alias, "targets": me})
    assert added.status == 303
    assert alias in await (await client.get("/admin/aliases")).text()
    assert (await _form(client, f"/admin/aliases/{alias}/delete", {})).status == 303
    missing = await _form(client, f"/admin/aliases/{alias}/delete", {})
    assert missing.status == 404
    assert "no such alias" in await missing.text()


async def _list(client: Client, h: Any) -> str:
    address = "list-" + h.fresh_address()
    made = await _form(client, "/admin/lists", {"address": address, "policy": "members"})
    assert made.status == 303
    return address


async def test_an_administrator_runs_lists_and_catchalls_each_change_audited(
    client: Client, h: Any, pool: Any
) -> None:
    me = await _admin(client, h, pool)
    user = await h.register(client)
    team = await _list(client, h)
    page = await (await client.get("/admin/lists")).text()
    assert f'data-list="{team}"' in page
    assert "Members only" in page
    path = f"/admin/lists/{team}"
    assert (await _form(client, path + "/members", {"members": f"{me}, {user}"})).status == 303
    shown = await (await client.get(path)).text()
    assert f'data-member="{me}"' in shown
    assert f'data-member="{user}"' in shown
    assert (await _form(client, path + "/policy", {"policy": "anyone"})).status == 303
    assert (await _form(client, path + "/members/remove", {"member": me})).status == 303
    shown = await (await client.get(path)).text()
    assert f'data-member="{me}"' not in shown
    assert '<option value="anyone" selected>' in shown

    on = await _form(client, "/admin/catchall", {"domain": "localpost.test", "target": team})
    assert on.status == 303
    assert (
        await pool.fetchval("SELECT target FROM catchalls WHERE domain = 'localpost.test'") == team
    )
    off = await _form(client, "/admin/catchall", {"domain": "localpost.test", "target": ""})
    assert off.status == 303
    assert (
        await pool.fetchval("SELECT count(*) FROM catchalls WHERE domain = 'localpost.test'") == 0
    )
    assert (await _form(client, path + "/delete", {})).status == 303
    assert (await client.get(path)).status == 404

    rows = await pool.fetch(
        "SELECT action FROM admin_audit WHERE actor = $1 AND target = ANY($2) ORDER BY id",
        me,
        [team, "localpost.test"],
    )
    assert [r["action"] for r in rows] == [
        "create_list", "add_members", "list_policy", "remove_members", "set_catchall",
        "unset_catchall", "delete_list",
    ]  # fmt: skip


HOSTILE_LISTS = [
    ({"address": "", "policy": "members"}, "address"),
    ({"address": "a\x00b", "policy": "members"}, "address"),
    ({"address": "l" * 400, "policy": "members"}, "address"),
    ({"address": "l\u2028x", "policy": "members"}, "address"),
    ({"address": "team@elsewhere.example", "policy": "members"}, "address"),
    ({"address": "{me}", "policy": "members"}, "address"),
    ({"address": "list-{n}", "policy": "all"}, "policy"),
    ({"address": "list-{n}", "policy": ""}, "policy"),
]


@pytest.mark.parametrize(("values", "bad"), HOSTILE_LISTS)
async def test_hostile_list_forms_are_field_errors_keeping_input(
    client: Client, h: Any, pool: Any, values: dict[str, str], bad: str
) -> None:
    me = await _admin(client, h, pool)
    n = h.fresh_address().split("@")[0]
    values = {k: v.replace("{me}", me).replace("{n}", n) for k, v in values.items()}
    before = await pool.fetchval("SELECT count(*) FROM lists")

    response = await _form(client, "/admin/lists", values)

    assert response.status == 422
    page = await response.text()
    assert f'id="{bad}-error"' in page
    if values["address"].isprintable():
        assert f'value="{values["address"]}"' in page
    assert await pool.fetchval("SELECT count(*) FROM lists") == before


# (the form, its fields, the field that must carry the error)
HOSTILE_LIST_CHANGES = [
    ("members", {"members": ""}, "members"),
    ("members", {"members": "nobody-{n}"}, "members"),
    ("members", {"members": "a\x00b"}, "members"),
    ("members", {"members": "m" * 400}, "members"),
    ("members", {"members": " ".join(["a"] * 60)}, "members"),
    ("members/remove", {"member": "nobody-{n}@localpost.test"}, "member"),
    ("members/remove", {"member": ""}, "member"),
    ("policy", {"policy": "everyone"}, "policy"),
]


@pytest.mark.parametrize(("action", "values", "bad"), HOSTILE_LIST_CHANGES)
async def test_hostile_list_changes_are_field_errors(
    client: Client, h: Any, pool: Any, action: str, values: dict[str, str], bad: str
) -> None:
    await _admin(client, h, pool)
    team = await _list(client, h)
    n = h.fresh_address().split("@")[0]
    values = {k: v.replace("{n}", n) for k, v in values.items()}
    recorded = await pool.fetchval("SELECT count(*) FROM admin_audit")

    response = await _form(client, f"/admin/lists/{team}/{action}", values)

    assert response.status == 422
    assert f'id="{bad}-error"' in await response.text()
    assert await pool.fetchval("SELECT count(*) FROM admin_audit") == recorded


HOSTILE_CATCHALLS = [
    ({"domain": "localpost.test", "target": "nobody-{n}"}, "target"),
    ({"domain": "localpost.test", "target": "a\x00b"}, "target"),
    ({"domain": "localpost.test", "target": "t" * 400}, "target"),
    ({"domain": "elsewhere.example", "target": "{me}"}, "form"),
    ({"domain": "", "target": "{me}"}, "form"),
]


@pytest.mark.parametrize(("values", "bad"), HOSTILE_CATCHALLS)
async def test_hostile_catchall_forms_are_field_errors(
    client: Client, h: Any, pool: Any, values: dict[str, str], bad: str
) -> None:
    me = await _admin(client, h, pool)
    n = h.fresh_address().split("@")[0]
    values = {k: v.replace("{me}", me).replace("{n}", n) for k, v in values.items()}
    before = await pool.fetchval("SELECT count(*) FROM catchalls")

    response = await _form(client, "/admin/catchall", values)

    assert response.status == 422
    page = await response.text()
    assert 'role="alert"' in page if bad == "form" else f'id="{bad}-error"' in page
    assert await pool.fetchval("SELECT count(*) FROM catchalls") == before


@pytest.mark.parametrize("address", [GHOST, "a%00b@localpost.test", "x" * 400, "%2E%2E"])
async def test_an_unknown_list_is_a_clean_404(
    client: Client, h: Any, pool: Any, address: str
) -> None:
    await _admin(client, h, pool)
    assert (await client.get(f"/admin/lists/{address}")).status == 404
    for action, values in (
        ("members", {"members": GHOST}),
        ("members/remove", {"member": GHOST}),
        ("policy", {"policy": "anyone"}),
        ("delete", {}),
    ):
        response = await _form(client, f"/admin/lists/{address}/{action}", values)
        assert response.status in (404, 422), action


HOSTILE_INVITATIONS = [
    ({"address": "", "days": "0"}, "days"),
    ({"address": "", "days": "91"}, "days"),
    ({"address": "", "days": "٣"}, "days"),
    ({"address": "", "days": "1" * 400}, "days"),
    ({"address": "x@elsewhere.example", "days": "3"}, "address"),
    ({"address": "a\x00b", "days": "3"}, "address"),
]


@pytest.mark.parametrize(("values", "bad"), HOSTILE_INVITATIONS)
async def test_hostile_invitation_forms_are_field_errors(
    client: Client, h: Any, pool: Any, values: dict[str, str], bad: str
) -> None:
    await _admin(client, h, pool)
    before = await pool.fetchval("SELECT count(*) FROM invitations")
    response = await _form(client, "/admin/invitations", values)
    assert response.status == 422
    assert f'id="{bad}-error"' in await response.text()
    assert await pool.fetchval("SELECT count(*) FROM invitations") == before


async def test_missing_targets_are_clean_404s(client: Client, h: Any, pool: Any) -> None:
    await _admin(client, h, pool)
    for action in ("disable", "enable", "grant", "revoke", "reset-link"):
        response = await _form(client, f"/admin/accounts/{GHOST}/{action}", {})
        assert response.status == 404, action
    assert (await client.get(f"/admin/accounts/{GHOST}/delete")).status == 404
    assert (
        await _form(client, f"/admin/accounts/{GHOST}/delete", {"confirmed": "1"})
    ).status == 404
    assert (await _form(client, "/admin/invitations/999999999/revoke", {})).status == 404
    assert (await client.get("/admin/unclaimed/NOPE/raw")).status == 404
    assert (await client.get("/admin/unclaimed/..%2F..%2Fx/raw")).status == 404
    assert (await _form(client, "/admin/unclaimed/NOPE/delete", {})).status == 404
    for query in ("q=%00", "q=" + "x" * 400, "after=%0A"):
        assert (await client.get(f"/admin/accounts?{query}")).status == 422
    for page in ("/admin/audit?before=x", "/admin/unclaimed?before=%00"):
        assert (await client.get(page)).status == 422
    bad_mode = await _form(client, "/admin/registration", {"mode": "Open"})
    assert bad_mode.status == 422
    assert 'id="mode-error"' in await bad_mode.text()


async def _signup(client: Client, h: Any, path: str, address: str) -> Any:
    token = await h.csrf_token(client, "/login")
    form = {"name": "Invited", "address": address, "password": h.password,
            "confirm_password": h.password, "csrf_token": token}  # fmt: skip
    return await client.post(path, data=form, allow_redirects=False)


async def test_invite_mode_chosen_on_admin_needs_a_one_time_link(
    client: Client, h: Any, pool: Any, web_environ: dict[str, str]
) -> None:
    await _admin(client, h, pool)
    page = await (await client.get("/admin")).text()
    assert "from LOCALPOST_REGISTRATION" in page
    assert (await _form(client, "/admin/registration", {"mode": "invite"})).status == 303
    page = await (await client.get("/admin")).text()
    assert "chosen here by" in page

    made = await _form(client, "/admin/invitations", {"address": "", "days": "7"})
    assert made.status == 201
    match = re.search(r"(/invite/[A-Za-z0-9_-]{43})", await made.text())
    assert match
    link = match.group(1)

    app = create_app(load_config(web_environ), live=False)
    async with TestClient(TestServer(app)) as stranger:
        assert (await stranger.get("/register")).status == 403
        assert (await stranger.get(link)).status == 200
        first, second = h.fresh_address(), h.fresh_address()
        signed = await asyncio.gather(
            _signup(stranger, h, link, first), _signup(stranger, h, link, second)
        )
        assert sorted(r.status for r in signed) in ([303, 404], [303, 422])
        made_accounts = await pool.fetchval(
            "SELECT count(*) FROM accounts WHERE address = any($1::text[])", [first, second]
        )
        assert made_accounts == 1
        stranger.session.cookie_jar.clear()  # signed in by the sign-up: out again
        assert (await stranger.get(link)).status == 404
        assert (await stranger.get("/invite/" + "x" * 43)).status == 404
    listing = await (await client.get("/admin/invitations")).text()
    assert "used by" in listing


async def test_a_bound_invitation_shows_its_address_and_expires(
    client: Client, h: Any, pool: Any, web_environ: dict[str, str]
) -> None:
    await _admin(client, h, pool)
    await _form(client, "/admin/registration", {"mode": "invite"})
    bound = h.fresh_address()
    made = await _form(client, "/admin/invitations", {"address": bound, "days": "1"})
    match = re.search(r"(/invite/[A-Za-z0-9_-]{43})", await made.text())
    assert match
    link = match.group(1)
    app = create_app(load_config(web_environ), live=False)
    async with TestClient(TestServer(app)) as stranger:
        page = await (await stranger.get(link)).text()
        assert bound in page
        other = h.fresh_address()
        wrong = await _signup(stranger, h, link, other)
        assert wrong.status == 422
        text = await wrong.text()
        assert 'id="address-error"' in text
        assert other in text  # what was typed stays
        await pool.execute(
            "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE address = $1",
            bound,
        )
        assert (await stranger.get(link)).status == 404
        assert (await _signup(stranger, h, link, bound)).status == 404


async def test_closed_mode_chosen_on_admin_wins_over_the_environment(
    client: Client, h: Any, pool: Any
) -> None:
    await _admin(client, h, pool)
    assert (await _form(client, "/admin/registration", {"mode": "closed"})).status == 303
    assert (await client.post("/api/v1/accounts", json={})).status == 403
    await pool.execute("TRUNCATE service_settings")
    assert (await client.post("/api/v1/accounts", json={})).status == 422


async def test_mail_that_reached_nobody_is_shown_as_text_and_deleted(
    client: Client, h: Any, pool: Any, deliver: Any
) -> None:
    await _admin(client, h, pool)
    nobody = h.fresh_address()
    await deliver(b"Subject: <b>lost</b>\r\n\r\n<script>x</script>\r\n", rcpt_to=[nobody])
    message_id = await pool.fetchval("SELECT id FROM messages WHERE $1 = any(rcpt_to)", nobody)
    page = await (await client.get("/admin/unclaimed")).text()
    assert nobody in page
    assert "&lt;b&gt;lost&lt;/b&gt;" in page
    raw = await client.get(f"/admin/unclaimed/{message_id}/raw")
    assert raw.content_type == "text/plain"
    assert b"<script>x</script>" in await raw.read()
    assert (await _form(client, f"/admin/unclaimed/{message_id}/delete", {})).status == 303
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE id = $1", message_id) == 0


async def test_mail_that_reached_nobody_is_delivered_to_an_account(
    client: Client, h: Any, pool: Any, deliver: Any
) -> None:
    me = await _admin(client, h, pool)
    nobody = h.fresh_address()
    await deliver(b"Subject: misaddressed\r\n\r\nfor me\r\n", rcpt_to=[nobody])
    message_id = await pool.fetchval("SELECT id FROM messages WHERE $1 = any(rcpt_to)", nobody)
    path = f"/admin/unclaimed/{message_id}/deliver"
    for typed in ("", "ghost-" + nobody, "a\x00b", "x" * 400):
        refused = await _form(client, path, {"address": typed})
        assert refused.status == 422, typed
        page = await refused.text()
        assert f'id="deliver-{message_id}-error"' in page
    assert (await _form(client, path, {"address": me})).status == 303
    inbox = await (await client.get("/api/v1/messages?folder=inbox")).json()
    assert "misaddressed" in [m["subject"] for m in inbox["messages"]]
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE id = $1", message_id) == 0


# -- the admin JSON API -------------------------------------------------------------------

API_ROUTES = [
    ("GET", "/api/v1/admin/accounts"),
    ("POST", "/api/v1/admin/accounts"),
    ("POST", "/api/v1/admin/accounts/{address}/disable"),
    ("POST", "/api/v1/admin/accounts/{address}/grant"),
    ("POST", "/api/v1/admin/accounts/{address}/reset-link"),
    ("DELETE", "/api/v1/admin/accounts/{address}"),
    ("PUT", "/api/v1/admin/registration"),
    ("GET", "/api/v1/admin/audit"),
    ("PUT", "/api/v1/admin/accounts/{address}/quota"),
    ("GET", "/api/v1/admin/aliases"),
    ("POST", "/api/v1/admin/aliases"),
    ("DELETE", "/api/v1/admin/aliases/{address}"),
    ("GET", "/api/v1/admin/invitations"),
    ("POST", "/api/v1/admin/invitations"),
    ("DELETE", "/api/v1/admin/invitations/1"),
    ("GET", "/api/v1/admin/unclaimed"),
    ("DELETE", "/api/v1/admin/unclaimed/01AAAAAAAAAAAAAAAAAAAAAAAA"),
    ("POST", "/api/v1/admin/unclaimed/01AAAAAAAAAAAAAAAAAAAAAAAA/deliver"),
    ("GET", "/api/v1/admin/lists"),
    ("POST", "/api/v1/admin/lists"),
    ("GET", "/api/v1/admin/lists/{address}"),
    ("PATCH", "/api/v1/admin/lists/{address}"),
    ("DELETE", "/api/v1/admin/lists/{address}"),
    ("GET", "/api/v1/admin/catchalls"),
    ("PUT", "/api/v1/admin/catchalls/localpost.test"),
]


@pytest.mark.parametrize("who", ["nobody", "user-token", "admin-session"])
@pytest.mark.parametrize(("method", "path"), API_ROUTES, ids=[f"{m} {p}" for m, p in API_ROUTES])
async def test_the_admin_api_is_404_but_for_an_administrators_token(
    client: Client, h: Any, pool: Any, who: str, method: str, path: str
) -> None:
    victim = await h.register(client)
    headers: dict[str, str] = {}
    if who == "user-token":
        headers["Authorization"] = f"Bearer {await h.api_token(client, await h.register(client))}"
    elif who == "admin-session":
        await _admin(client, h, pool)
        headers["X-CSRF-Token"] = await h.csrf_token(client, "/settings")
    body = {"mode": "closed", "name": "X", "address": h.fresh_address(), "password": h.password,
            "quota": "1MiB", "targets": [victim], "policy": "anyone", "add": [victim],
            "target": victim}  # fmt: skip
    recorded = await pool.fetchval("SELECT count(*) FROM admin_audit")
    catchalls = await pool.fetchval("SELECT count(*) FROM catchalls")

    response = await client.request(method, path.format(address=victim), json=body, headers=headers)

    # Logged out, a POST without a CSRF token is 403 on any path, unknown ones too.
    unknown = await client.request(method, "/api/v1/no-such-call", json=body, headers=headers)
    assert (
        response.status == unknown.status == (403 if who == "nobody" and method != "GET" else 404)
    )
    assert await response.json() == await unknown.json()
    row = await pool.fetchrow(
        "SELECT disabled_at, is_admin, quota FROM accounts WHERE address = $1", victim
    )
    assert (row["disabled_at"], row["is_admin"], row["quota"]) == (None, False, None)
    assert await pool.fetchval("SELECT count(*) FROM service_settings") == 0
    assert await pool.fetchval("SELECT count(*) FROM admin_audit") == recorded
    assert await pool.fetchval("SELECT count(*) FROM catchalls") == catchalls


async def test_an_administrators_token_does_what_the_pages_do(
    client: Client, h: Any, pool: Any
) -> None:
    me = await h.register(client)
    await pool.execute("UPDATE accounts SET is_admin = true WHERE address = $1", me)
    bearer = {"Authorization": f"Bearer {await h.api_token(client, me)}"}
    new = h.fresh_address()

    created = await client.post(
        "/api/v1/admin/accounts",
        json={"name": "New", "address": new, "password": h.password},
        headers=bearer,
    )
    assert created.status == 201
    found = await client.get(f"/api/v1/admin/accounts?q={new}", headers=bearer)
    assert [a["address"] for a in (await found.json())["accounts"]] == [new]
    for action in ("disable", "enable", "grant", "revoke"):
        done = await client.post(f"/api/v1/admin/accounts/{new}/{action}", headers=bearer)
        assert done.status == 200, action
    link = await client.post(f"/api/v1/admin/accounts/{new}/reset-link", headers=bearer)
    assert "/reset/" in (await link.json())["link"]
    assert (await client.delete(f"/api/v1/admin/accounts/{new}", headers=bearer)).status == 204
    assert (await client.delete(f"/api/v1/admin/accounts/{new}", headers=bearer)).status == 404
    mode = await client.put("/api/v1/admin/registration", json={"mode": "x"}, headers=bearer)
    assert mode.status == 422
    bad = await client.post(
        "/api/v1/admin/accounts", json={"name": "\x00", "address": "a\x00"}, headers=bearer
    )
    assert set((await bad.json())["fields"]) >= {"name", "address"}
    audit = await (await client.get("/api/v1/admin/audit?limit=7", headers=bearer)).json()
    assert [(e["actor"], e["action"]) for e in reversed(audit["entries"])] == [
        (me, a) for a in ACCOUNT_LIFE
    ]
    assert (await client.get("/api/v1/admin/audit?before=x", headers=bearer)).status == 422


async def test_an_administrators_token_sets_quotas_aliases_invitations_and_unclaimed_mail(
    client: Client, h: Any, pool: Any, deliver: Any
) -> None:
    me = await h.register(client)
    await pool.execute("UPDATE accounts SET is_admin = true WHERE address = $1", me)
    bearer = {"Authorization": f"Bearer {await h.api_token(client, me)}"}
    user = await h.register(client)

    quota = await client.put(
        f"/api/v1/admin/accounts/{user}/quota", json={"quota": "2GiB"}, headers=bearer
    )
    assert (await quota.json())["limit"] == 2 * 1024**3
    bad = await client.put(
        f"/api/v1/admin/accounts/{user}/quota", json={"quota": "lots"}, headers=bearer
    )
    assert bad.status == 422
    assert "not a size" in (await bad.json())["fields"]["quota"]
    ghost = await client.put(
        f"/api/v1/admin/accounts/{GHOST}/quota", json={"quota": "1MiB"}, headers=bearer
    )
    assert ghost.status == 404

    alias = "api-" + h.fresh_address()
    added = await client.post(
        "/api/v1/admin/aliases", json={"address": alias, "targets": [user]}, headers=bearer
    )
    assert (await added.json())["targets"] == [user]
    refused = await client.post(
        "/api/v1/admin/aliases", json={"address": alias, "targets": "x"}, headers=bearer
    )
    assert refused.status == 422
    listed = await (await client.get("/api/v1/admin/aliases", headers=bearer)).json()
    assert {"address": alias, "targets": [user]} in listed["aliases"]
    assert (await client.delete(f"/api/v1/admin/aliases/{alias}", headers=bearer)).status == 204
    assert (await client.delete(f"/api/v1/admin/aliases/{alias}", headers=bearer)).status == 404

    invited = await client.post("/api/v1/admin/invitations", json={"days": 3}, headers=bearer)
    assert invited.status == 201
    made = await invited.json()
    assert "/invite/" in made["link"]
    listing = await (await client.get("/api/v1/admin/invitations", headers=bearer)).json()
    assert made["id"] in [i["id"] for i in listing["invitations"]]
    too_long = await client.post("/api/v1/admin/invitations", json={"days": 91}, headers=bearer)
    assert too_long.status == 422
    path = f"/api/v1/admin/invitations/{made['id']}"
    assert (await client.delete(path, headers=bearer)).status == 204
    assert (
        await client.delete("/api/v1/admin/invitations/999999999", headers=bearer)
    ).status == 404

    subject = "lost " + user
    raw = f"Subject: {subject}\r\n\r\nnobody\r\n".encode()
    await deliver(raw, rcpt_to=["nobody-" + user])
    page = await (await client.get("/api/v1/admin/unclaimed", headers=bearer)).json()
    [lost] = [m["id"] for m in page["messages"] if m["subject"] == subject]
    path = f"/api/v1/admin/unclaimed/{lost}/deliver"
    assert (await client.post(path, json={"address": GHOST}, headers=bearer)).status == 404
    assert (await client.post(path, json={"address": user}, headers=bearer)).status == 204
    gone = await client.delete(f"/api/v1/admin/unclaimed/{lost}", headers=bearer)
    assert gone.status == 404
    assert (await client.get("/api/v1/admin/unclaimed?before=%00", headers=bearer)).status == 422

    rows = await pool.fetch("SELECT action FROM admin_audit WHERE actor = $1 ORDER BY id", me)
    assert [r["action"] for r in rows] == [
        "set_quota", "add_alias", "remove_alias", "create_invitation", "revoke_invitation",
        "deliver_unclaimed",
    ]  # fmt: skip


async def test_an_administrators_token_runs_lists_and_catchalls(
    client: Client, h: Any, pool: Any
) -> None:
    me = await h.register(client)
    await pool.execute("UPDATE accounts SET is_admin = true WHERE address = $1", me)
    bearer = {"Authorization": f"Bearer {await h.api_token(client, me)}"}
    user = await h.register(client)
    team = "api-list-" + h.fresh_address()

    made = await client.post(
        "/api/v1/admin/lists", json={"address": team, "policy": "members"}, headers=bearer
    )
    assert made.status == 201
    taken = await client.post(
        "/api/v1/admin/lists", json={"address": me, "policy": "members"}, headers=bearer
    )
    assert (await taken.json())["fields"] == {"address": "is an account's address"}
    path = f"/api/v1/admin/lists/{team}"
    changed = await client.patch(
        path, json={"policy": "local", "add": [me, user], "remove": [me]}, headers=bearer
    )
    assert await changed.json() == {"address": team, "policy": "local", "members": [user]}
    unknown = await client.patch(path, json={"add": [GHOST]}, headers=bearer)
    assert unknown.status == 422
    assert "members" in (await unknown.json())["fields"]
    listed = await (await client.get("/api/v1/admin/lists", headers=bearer)).json()
    assert {"address": team, "policy": "local", "members": [user]} in listed["lists"]

    catchall = "/api/v1/admin/catchalls/localpost.test"
    on = await client.put(catchall, json={"target": team}, headers=bearer)
    assert (await on.json())["target"] == team
    domains = await (await client.get("/api/v1/admin/catchalls", headers=bearer)).json()
    assert {"domain": "localpost.test", "target": team} in domains["catchalls"]
    assert (await client.put(catchall, json={"target": GHOST}, headers=bearer)).status == 422
    assert (await client.put(catchall, json={"target": None}, headers=bearer)).status == 204
    elsewhere = "/api/v1/admin/catchalls/elsewhere.example"
    assert (await client.put(elsewhere, json={"target": team}, headers=bearer)).status == 404

    assert (await client.delete(path, headers=bearer)).status == 204
    assert (await client.get(path, headers=bearer)).status == 404
    assert (await client.patch(path, json={"policy": "anyone"}, headers=bearer)).status == 404
    rows = await pool.fetch("SELECT action FROM admin_audit WHERE actor = $1 ORDER BY id", me)
    assert [r["action"] for r in rows] == [
        "create_list", "list_policy", "add_members", "remove_members", "set_catchall",
        "unset_catchall", "delete_list",
    ]  # fmt: skip
