"""Folders in the web: the sidebar, user folders (create, rename, delete), move, star,
the Reply/Forward flags, and the hostile inputs of each (docs/security.md, "Web")."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]


def mail(to: str, subject: str = "Hello") -> bytes:
    return (
        f"From: Ann <ann@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        # One Message-ID each: messages sharing one are one conversation in the list.
        f"Message-ID: <{subject}@example.com>\r\n\r\nHi there\r\n"
    ).encode()


async def signed_in(client: Client, h: Any, deliver: Any, subjects: tuple[str, ...] = ()) -> str:
    address = await h.register(client)
    for subject in subjects:
        await deliver(mail(address, subject), rcpt_to=[address])
    await h.login(client, address)
    return address


async def post(
    client: Client, h: Any, path: str, data: dict[str, str], page: str = "/folders"
) -> Any:
    token = await h.csrf_token(client, page)
    return await client.post(path, data={**data, "csrf_token": token}, allow_redirects=False)


async def create(client: Client, h: Any, name: str, parent: str = "") -> str:
    response = await post(client, h, "/folders", {"name": name, "parent": parent})
    assert response.status == 303, await response.text()
    location: str = response.headers["Location"]
    assert re.fullmatch(r"/mail/f[0-9]+", location)
    return location.removeprefix("/mail/")


async def listing(client: Client, folder: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/messages", params={"folder": folder})
    assert response.status == 200, await response.text()
    messages: list[dict[str, Any]] = (await response.json())["messages"]
    return messages


async def test_the_sidebar_lists_standard_folders_in_order_then_user_folders_as_a_tree(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver, ("one",))
    work = await create(client, h, "Work")
    await create(client, h, "Zeta")
    child = await create(client, h, "Q1", parent=work)

    html = await (await client.get("/mail/inbox")).text()
    nav = html.split('aria-label="Folders"', 1)[1].split("</nav>", 1)[0]
    order = re.findall(r'href="/mail/([a-z0-9]+)"', nav)

    assert order == ["inbox", "drafts", "sent", "archive", "junk", "trash", "starred",
                     work, child, order[-1]]  # fmt: skip
    assert f'<li class="depth-1"><a href="/mail/{child}" dir="auto" title="Work/Q1"' in nav
    assert 'data-unread="inbox">1</span>' in nav


async def test_a_user_folder_is_a_page_and_drafts_lists_empty(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver)
    work = await create(client, h, "Work")

    page = await client.get(f"/mail/{work}")
    drafts = await client.get("/mail/drafts")

    assert page.status == 200
    assert '<h1><span dir="auto">Work</span></h1>' in await page.text()
    assert drafts.status == 200
    assert "No messages." in await drafts.text()


async def test_unknown_and_another_accounts_folders_are_404(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver)
    theirs = await create(client, h, "Theirs")
    await signed_in(client, h, deliver)

    for path in (f"/mail/{theirs}", "/mail/nosuch", "/mail/f999999999"):
        assert (await client.get(path)).status == 404, path


async def test_move_from_the_message_page_then_delete_is_trash_and_restore_returns(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver, ("keep",))
    work = await create(client, h, "Work")
    entry = (await listing(client, "inbox"))[0]["id"]
    page = await (await client.get(f"/messages/{entry}")).text()
    assert f'<option value="{work}" dir="auto">Work</option>' in page

    moved = await post(client, h, f"/messages/{entry}/move", {"folder": work}, "/mail/inbox")
    assert (moved.status, moved.headers["Location"]) == (303, "/mail/inbox")
    assert [m["id"] for m in await listing(client, work)] == [entry]
    await post(client, h, f"/messages/{entry}/trash", {}, "/mail/inbox")
    assert [m["id"] for m in await listing(client, "trash")] == [entry]
    await post(client, h, f"/messages/{entry}/restore", {}, "/mail/inbox")

    assert [m["id"] for m in await listing(client, work)] == [entry]


async def test_bulk_move_takes_the_selected_messages_to_the_chosen_folder(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver, ("a", "b", "c"))
    work = await create(client, h, "Work")
    ids = [m["id"] for m in await listing(client, "inbox")]
    token = await h.csrf_token(client, "/mail/inbox")
    form = [("csrf_token", token), ("action", "move"), ("folder", work), ("next", "/mail/inbox")]
    form += [("ids", str(i)) for i in ids[:2]]

    response = await client.post("/mail/actions", data=form, allow_redirects=False)

    assert response.status == 303
    assert sorted(m["id"] for m in await listing(client, work)) == sorted(ids[:2])
    assert [m["id"] for m in await listing(client, "inbox")] == ids[2:]


async def test_star_on_a_row_and_the_message_page_and_the_starred_page(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver, ("plain", "shiny"))
    shiny, plain = (m["id"] for m in await listing(client, "inbox"))

    row = await post(client, h, "/mail/actions", {"star": str(shiny), "next": "/mail/inbox"},
                     "/mail/inbox")  # fmt: skip
    inbox = await (await client.get("/mail/inbox")).text()
    starred = await (await client.get("/mail/starred")).text()

    assert (row.status, row.headers["Location"]) == (303, "/mail/inbox")
    assert f'name="unstar" value="{shiny}" aria-pressed="true"' in inbox
    assert f'name="star" value="{plain}" aria-pressed="false"' in inbox
    assert "shiny" in starred
    assert "plain" not in starred
    page = await post(client, h, f"/messages/{shiny}/unstar", {"next": f"/messages/{shiny}"},
                      "/mail/inbox")  # fmt: skip
    assert page.headers["Location"] == f"/messages/{shiny}"
    assert "☆ Star" in await (await client.get(f"/messages/{shiny}")).text()
    assert "shiny" not in await (await client.get("/mail/starred")).text()


REPLIES = [("reply", "answered", "Replied"), ("forward", "forwarded", "Forwarded")]


@pytest.mark.parametrize(("mode", "flag", "marker"), REPLIES)
async def test_reply_and_forward_flag_the_original_once_sent(
    client: Client, h: Any, deliver: Any, pool: Any, mode: str, flag: str, marker: str
) -> None:
    address = await signed_in(client, h, deliver, ("original",))
    entry = (await listing(client, "inbox"))[0]["id"]
    compose = await (await client.get(f"/compose?{mode}={entry}")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', compose)
    assert token
    assert f'name="source" value="{entry}"' in compose
    before = await (await client.get("/mail/inbox")).text()
    assert f'aria-label="{marker}"' not in before

    form = {
        "csrf_token": token[1], "to": address, "cc": "", "subject": "Re", "body": "x",
        "source": str(entry), "source_flag": flag,
    }  # fmt: skip
    sent = await client.post("/compose", data=form, allow_redirects=False)

    assert sent.status == 303
    row = await pool.fetchrow("SELECT answered, keywords FROM mailbox_entries WHERE id = $1", entry)
    assert (row["answered"], "$Forwarded" in row["keywords"]) == (
        flag == "answered", flag == "forwarded"
    )  # fmt: skip
    assert f'aria-label="{marker}"' in await (await client.get("/mail/inbox")).text()


async def test_rename_and_delete_an_empty_folder(client: Client, h: Any, deliver: Any) -> None:
    await signed_in(client, h, deliver)
    work = await create(client, h, "Work")

    renamed = await post(client, h, f"/folders/{work}/rename", {"name": "Jobs"})
    assert (renamed.status, renamed.headers["Location"]) == (303, f"/mail/{work}")
    assert 'title="Jobs"' in await (await client.get("/mail/inbox")).text()
    deleted = await post(client, h, f"/folders/{work}/delete", {})

    assert (deleted.status, deleted.headers["Location"]) == (303, "/folders")
    assert (await client.get(f"/mail/{work}")).status == 404


async def test_a_folder_with_messages_is_not_deleted_and_says_why(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver, ("keep",))
    work = await create(client, h, "Work")
    entry = (await listing(client, "inbox"))[0]["id"]
    await post(client, h, f"/messages/{entry}/move", {"folder": work}, "/mail/inbox")

    refused = await post(client, h, f"/folders/{work}/delete", {})

    assert refused.status == 422
    assert "This folder holds messages: move or delete them first." in await refused.text()
    assert [m["id"] for m in await listing(client, work)] == [entry]


@pytest.mark.parametrize("standard", ["inbox", "trash", "drafts"])
async def test_standard_folders_are_neither_renamed_nor_deleted(
    client: Client, h: Any, deliver: Any, standard: str
) -> None:
    await signed_in(client, h, deliver)

    renamed = await post(client, h, f"/folders/{standard}/rename", {"name": "Mine"})
    deleted = await post(client, h, f"/folders/{standard}/delete", {})

    assert (renamed.status, deleted.status) == (422, 422)
    assert (await client.get(f"/mail/{standard}")).status == 200


async def test_a_taken_name_is_shown_next_to_the_field_with_the_input_kept(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver)
    await create(client, h, "Work")

    again = await post(client, h, "/folders", {"name": "Work", "parent": ""})
    text = await again.text()

    assert again.status == 422
    assert (
        '<p class="field-error" id="name-error">A folder of that name exists already.</p>' in text
    )
    assert 'value="Work" aria-invalid="true" aria-describedby="name-error"' in text


# -- hostile input ---------------------------------------------------------------------------

# (id, name typed, expected: 422 with the name refused, or 303 and shown as text)
FOLDER_NAMES = [
    ("empty", "   ", 422),
    ("nul", "a\x00b", 422),
    ("newline", "a\r\nb", 422),
    ("tab", "a\tb", 422),
    ("bidi-override", "gpj.\u202eexe", 422),
    ("zero-width", "a\u200bb", 422),
    ("line-separator", "a\u2028b", 422),
    ("delimiter", "a/b", 422),
    ("dot-dot", "..", 422),
    ("dot", ".", 422),
    ("wildcard", "a*", 422),
    ("percent", "100%", 422),
    ("too-long", "x" * 101, 422),
    ("html", "<img src=x onerror=alert(1)>", 303),
    ("quotes", "\"'><svg onload=alert(1)>", 303),
    ("rtl", "\u05e2\u05d1\u05e8\u05d9\u05ea", 303),
]


@pytest.mark.parametrize(("name", "status"), [r[1:] for r in FOLDER_NAMES],
                         ids=[r[0] for r in FOLDER_NAMES])  # fmt: skip
async def test_hostile_folder_names_are_refused_or_shown_as_text(
    client: Client, h: Any, deliver: Any, name: str, status: int
) -> None:
    await signed_in(client, h, deliver)

    response = await post(client, h, "/folders", {"name": name, "parent": ""})

    assert response.status == status
    folders = (await (await client.get("/api/v1/folders")).json())["folders"]
    users = [f for f in folders if f["id"].startswith("f")]
    if status == 422:
        assert users == []
        assert 'id="name-error"' in await response.text()
        return
    assert [f["name"] for f in users] == [name]
    page = await client.get(response.headers["Location"])
    html = await page.text()
    nonce = h.csp_nonce(page.headers["Content-Security-Policy"])
    assert h.markup_problems(html, nonce=nonce) == []
    assert "<svg onload" not in html
    assert "<img src=x" not in html


async def test_a_rename_to_a_hostile_name_keeps_the_old_one(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver)
    work = await create(client, h, "Work")

    refused = await post(client, h, f"/folders/{work}/rename", {"name": "a\x00/.."})

    assert refused.status == 422
    assert f'id="rename-{work}-error"' in await refused.text()
    assert 'title="Work"' in await (await client.get("/mail/inbox")).text()


# (id, method, path with {theirs}, form): every route naming a folder, given another
# account's folder id: 404 or a refusal, and the folder and its mail untouched.
FOREIGN_FOLDER_ROUTES = [
    ("page", "GET", "/mail/{theirs}", None),
    ("rename", "POST", "/folders/{theirs}/rename", {"name": "Stolen"}),
    ("delete", "POST", "/folders/{theirs}/delete", {}),
    ("move-into", "POST", "/messages/{mine}/move", {"folder": "{theirs}"}),
    ("bulk-move-into", "POST", "/mail/actions",
     {"action": "move", "folder": "{theirs}", "ids": "{mine}", "next": "/mail/inbox"}),
    ("api-listing", "GET", "/api/v1/messages?folder={theirs}", None),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "form"), [r[1:] for r in FOREIGN_FOLDER_ROUTES],
                         ids=[r[0] for r in FOREIGN_FOLDER_ROUTES])  # fmt: skip
async def test_another_accounts_folder_id_is_404_or_refused(
    client: Client, h: Any, deliver: Any, method: str, path: str, form: dict[str, str] | None
) -> None:
    await signed_in(client, h, deliver)
    theirs = await create(client, h, "Theirs")
    await signed_in(client, h, deliver, ("mine",))
    mine = str((await listing(client, "inbox"))[0]["id"])
    fill = {"theirs": theirs, "mine": mine}
    url = path.format(**fill)
    data = {k: v.format(**fill) for k, v in form.items()} if form is not None else None
    if data is not None:
        data["csrf_token"] = await h.csrf_token(client, "/mail/inbox")

    response = await client.request(method, url, data=data, allow_redirects=False)

    assert response.status in (404, 422), await response.text()
    assert [str(m["id"]) for m in await listing(client, "inbox")] == [mine]


@pytest.mark.parametrize("path", ["/folders", "/folders/f1/rename", "/folders/f1/delete",
                                  "/messages/1/move"])  # fmt: skip
async def test_the_folder_forms_refuse_a_missing_csrf_token(
    client: Client, h: Any, deliver: Any, path: str
) -> None:
    await signed_in(client, h, deliver)

    response = await client.post(path, data={"name": "x", "folder": "inbox"})

    assert response.status == 403


# -- the JSON API mirrors ----------------------------------------------------------------------


async def test_the_api_creates_moves_stars_renames_and_deletes(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(mail(address, "api"), rcpt_to=[address])
    auth = {"Authorization": f"Bearer {await h.api_token(client, address)}"}
    entry = (await (await client.get("/api/v1/messages", headers=auth)).json())["messages"][0]

    created = await client.post("/api/v1/folders", json={"name": "Work"}, headers=auth)
    work = (await created.json())["id"]
    bad = await client.post("/api/v1/folders", json={"name": "a/b"}, headers=auth)
    moved = await client.post(
        f"/api/v1/messages/{entry['id']}/move", json={"folder": work}, headers=auth
    )
    starred = await client.patch(
        f"/api/v1/messages/{entry['id']}", json={"starred": True}, headers=auth
    )
    listed = await (await client.get("/api/v1/messages?folder=starred", headers=auth)).json()
    full = await client.delete(f"/api/v1/folders/{work}", headers=auth)
    renamed = await client.patch(f"/api/v1/folders/{work}", json={"name": "Jobs"}, headers=auth)

    assert (created.status, bad.status, full.status) == (201, 422, 422)
    assert (await moved.json())["folder"] == work
    assert (await starred.json())["starred"] is True
    assert [m["id"] for m in listed["messages"]] == [entry["id"]]
    assert await renamed.json() == {"id": work, "name": "Jobs"}
    await client.delete(f"/api/v1/messages/{entry['id']}", headers=auth)
    assert (await client.delete(f"/api/v1/folders/{work}", headers=auth)).status == 204
