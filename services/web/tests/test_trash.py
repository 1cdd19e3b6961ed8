"""Destructive actions (issue 15): "Moved to Trash" with its Undo, the question before
deleting forever, and Trash's purge stated."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from webmail import notices

Client = TestClient[web.Request, web.Application]


def mail(to: str, subject: str) -> bytes:
    return (
        f"From: Ann <ann@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.com>\r\n\r\nHi there\r\n"
    ).encode()


async def signed_in(client: Client, h: Any, deliver: Any, *subjects: str) -> dict[str, int]:
    """A fresh account, signed in, with these messages in its Inbox: id by subject."""
    address = await h.register(client)
    for subject in subjects:
        await deliver(mail(address, subject), rcpt_to=[address])
    await h.login(client, address)
    listing = await (await client.get("/api/v1/messages?folder=inbox")).json()
    return {m["subject"]: m["id"] for m in listing["messages"]}


async def post(client: Client, h: Any, path: str, data: Any) -> Any:
    token = await h.csrf_token(client, "/mail/inbox")
    if isinstance(data, dict):
        data = list(data.items())
    return await client.post(path, data=[("csrf_token", token), *data], allow_redirects=False)


def undo_form(page: str) -> dict[str, str]:
    """The hidden fields of the notice's Undo form."""
    form = re.search(r'<form method="post" action="/mail/undo">(.*?)</form>', page, re.S)
    assert form is not None, "no Undo form on the page"
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', form.group(1))
    }


async def message(client: Client, entry: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/messages/{entry}")
    assert response.status == 200, await response.text()
    found: dict[str, Any] = await response.json()
    return found


async def folder_of(client: Client, entry: int) -> str | None:
    response = await client.get(f"/api/v1/messages/{entry}")
    return str((await response.json())["folder"]) if response.status == 200 else None


# -- Moved to Trash, Undo ----------------------------------------------------------------------


async def test_delete_on_the_message_page_offers_an_undo_that_brings_it_back_with_its_flags(
    client: Client, h: Any, deliver: Any
) -> None:
    entry = (await signed_in(client, h, deliver, "keep me"))["keep me"]
    await client.get(f"/messages/{entry}")  # read
    await post(client, h, f"/messages/{entry}/star", {})

    deleted = await post(client, h, f"/messages/{entry}/trash", {"next": "/mail/inbox"})
    page = await (await client.get("/mail/inbox")).text()
    again = await (await client.get("/mail/inbox")).text()
    form = undo_form(page)
    undone = await post(client, h, "/mail/undo", form)
    after = await (await client.get("/mail/inbox")).text()
    restored = await message(client, entry)

    assert (deleted.status, deleted.headers["Location"]) == (303, "/mail/inbox")
    assert "Moved 1 message to Trash." in page
    assert form == {"csrf_token": form["csrf_token"], "ids": str(entry), "next": "/mail/inbox"}
    assert "Moved 1 message to Trash." not in again  # shown once
    assert (undone.status, undone.headers["Location"]) == (303, "/mail/inbox")
    assert "Restored 1 message to where it was." in after
    assert (restored["folder"], restored["unread"], restored["starred"]) == ("inbox", False, True)


async def test_the_notice_cookie_is_httponly_lax_short_lived_and_cleared_once_shown(
    client: Client, h: Any, deliver: Any
) -> None:
    entry = (await signed_in(client, h, deliver, "one"))["one"]

    deleted = await post(client, h, f"/messages/{entry}/trash", {})
    shown = await client.get("/mail/inbox")
    cookie, cleared = deleted.cookies[notices.COOKIE], shown.cookies[notices.COOKIE]

    assert cookie.value == f"moved:1:{entry}"
    assert (cookie["httponly"], cookie["samesite"], cookie["path"]) == (True, "Lax", "/")
    assert cookie["max-age"] == str(notices.MAX_AGE)
    assert (cleared.value, cleared["max-age"]) == ("", "0")


async def test_an_undo_of_messages_no_longer_in_trash_says_so(
    client: Client, h: Any, deliver: Any
) -> None:
    ids = await signed_in(client, h, deliver, "one", "two")
    await post(client, h, "/mail/actions", [("action", "trash"), ("ids", str(ids["one"])),
                                            ("ids", str(ids["two"]))])  # fmt: skip
    form = undo_form(await (await client.get("/mail/inbox")).text())
    await post(client, h, f"/messages/{ids['one']}/restore", {})

    await post(client, h, "/mail/undo", form)
    partly = await (await client.get("/mail/inbox")).text()
    await post(client, h, "/mail/undo", form)
    nothing = await (await client.get("/mail/inbox")).text()

    assert "Restored 1 of 2 messages; the others are no longer in Trash." in partly
    assert "Nothing was restored: those messages are no longer in Trash." in nothing


async def test_a_bulk_delete_from_a_search_returns_there_and_so_does_its_undo(
    client: Client, h: Any, deliver: Any
) -> None:
    ids = await signed_in(client, h, deliver, "invoice one", "invoice two", "other")
    here = "/search?q=invoice"
    chosen = [("ids", str(ids["invoice one"])), ("ids", str(ids["invoice two"]))]

    deleted = await post(client, h, "/mail/actions", [("action", "trash"), ("next", here),
                                                      *chosen])  # fmt: skip
    page = await (await client.get(here)).text()
    form = undo_form(page)
    undone = await post(client, h, "/mail/undo", form)

    assert deleted.headers["Location"] == here
    assert "Moved 2 messages to Trash." in page
    assert form["next"] == here
    assert undone.headers["Location"] == here
    assert {await folder_of(client, i) for i in ids.values()} == {"inbox"}


async def test_the_undo_takes_back_only_what_the_delete_moved(
    client: Client, h: Any, deliver: Any
) -> None:
    ids = await signed_in(client, h, deliver, "already", "now")
    await post(client, h, f"/messages/{ids['already']}/trash", {})
    await client.get("/mail/inbox")  # shows and forgets that notice

    await post(client, h, "/mail/actions", [("action", "trash"), ("ids", str(ids["already"])),
                                            ("ids", str(ids["now"]))])  # fmt: skip
    page = await (await client.get("/mail/inbox")).text()

    assert "Moved 1 message to Trash." in page
    assert undo_form(page)["ids"] == str(ids["now"])


async def test_the_undo_of_another_accounts_messages_restores_nothing(
    client: Client, h: Any, deliver: Any, pool: Any
) -> None:
    theirs = (await signed_in(client, h, deliver, "theirs"))["theirs"]
    await post(client, h, f"/messages/{theirs}/trash", {})
    client.session.cookie_jar.clear()
    await signed_in(client, h, deliver)

    undone = await post(client, h, "/mail/undo", {"ids": str(theirs), "next": "/mail/inbox"})
    page = await (await client.get("/mail/inbox")).text()
    folder = await pool.fetchval("SELECT folder_id FROM mailbox_entries WHERE id = $1", theirs)

    assert undone.status == 303
    assert "Nothing was restored" in page
    assert folder == "trash"


# (id, the Undo form's ids): each a clear 422, nothing restored.
UNDO_IDS = [
    ("empty", ""),
    ("letters", "abc"),
    ("commas", "1,2"),
    ("trailing-dot", "1."),
    ("leading-dot", ".1"),
    ("double-dot", "1..2"),
    ("negative", "-1"),
    ("over-bigint", "1" * 20),
    ("space", "1 2"),
    ("nul", "1\x002"),
    ("fullwidth-digit", "\uff11"),
    ("more-than-a-cookie-holds", "1." * 2000 + "1"),
]


@pytest.mark.parametrize("ids", [r[1] for r in UNDO_IDS], ids=[r[0] for r in UNDO_IDS])
async def test_an_undo_with_junk_ids_is_a_clear_422(
    client: Client, h: Any, deliver: Any, ids: str
) -> None:
    await signed_in(client, h, deliver, "one")

    response = await post(client, h, "/mail/undo", {"ids": ids, "next": "/mail/inbox"})

    assert response.status == 422
    assert "Nothing to undo" in await response.text()


async def test_an_undo_goes_back_only_to_a_page_of_this_site(
    client: Client, h: Any, deliver: Any
) -> None:
    entry = (await signed_in(client, h, deliver, "one"))["one"]

    response = await post(client, h, "/mail/undo", {"ids": str(entry), "next": "//evil.test/"})

    assert response.headers["Location"] == "/mail/inbox"


# (id, the notice cookie's value): the browser's own, so anything; no notice, never a 5xx.
NOTICE_COOKIES = [
    ("ids-not-numbers", "moved:1:abc"),
    ("count-not-a-number", "moved:x"),
    ("restored-without-asked", "restored:1"),
    ("negative", "deleted:-1"),
    ("longer-than-a-cookie", "moved:1:1" + ".1" * 3000),
    ("markup", "<b>"),
    ("count-too-large", "moved:99999999:1"),
]


@pytest.mark.parametrize(
    "value", [r[1] for r in NOTICE_COOKIES], ids=[r[0] for r in NOTICE_COOKIES]
)
async def test_a_junk_notice_cookie_shows_nothing(
    client: Client, h: Any, deliver: Any, value: str
) -> None:
    await signed_in(client, h, deliver)
    client.session.cookie_jar.update_cookies({notices.COOKIE: value})

    response = await client.get("/mail/inbox")

    assert response.status == 200
    assert 'class="notice action-notice"' not in await response.text()


def test_a_delete_of_more_ids_than_a_cookie_holds_has_no_undo() -> None:
    many = notices.moved(range(10**6, 10**6 + 2000))

    assert many == "moved:2000"
    assert notices.read(many) == notices.Notice("Moved 2000 messages to Trash. "
                                                "Open Trash to restore them.")  # fmt: skip
    assert notices.moved([]) is None


# -- Delete forever asks first --------------------------------------------------------------


async def test_delete_forever_asks_first_then_deletes(client: Client, h: Any, deliver: Any) -> None:
    entry = (await signed_in(client, h, deliver, "old news"))["old news"]
    await post(client, h, f"/messages/{entry}/trash", {})

    asked = await post(client, h, f"/messages/{entry}/delete", {"next": "/mail/trash"})
    question = await asked.text()
    still = await folder_of(client, entry)
    deleted = await post(client, h, f"/messages/{entry}/delete",
                         {"next": "/mail/trash", "confirmed": "1"})  # fmt: skip
    page = await (await client.get("/mail/trash")).text()

    assert asked.status == 200
    assert "Delete this message forever?" in question
    assert "“old news” will be gone for good" in question
    assert 'name="confirmed" value="1"' in question
    assert f'href="/messages/{entry}?back=%2Fmail%2Ftrash">Cancel' in question
    assert still == "trash"
    assert (deleted.status, deleted.headers["Location"]) == (303, "/mail/trash")
    assert await folder_of(client, entry) is None
    assert "Deleted 1 message forever." in page


async def test_a_bulk_delete_forever_asks_with_the_chosen_messages(
    client: Client, h: Any, deliver: Any
) -> None:
    ids = await signed_in(client, h, deliver, "one", "two", "three")
    chosen = [("ids", str(ids["one"])), ("ids", str(ids["two"]))]
    await post(client, h, "/mail/actions", [("action", "trash"), *chosen])

    asked = await post(client, h, "/mail/actions", [("action", "delete"),
                                                    ("next", "/mail/trash"), *chosen])  # fmt: skip
    question = await asked.text()
    fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', question)
    still = [await folder_of(client, ids[s]) for s in ("one", "two")]
    deleted = await post(client, h, "/mail/actions", [(n, html.unescape(v)) for n, v in fields
                                                      if n != "csrf_token"])  # fmt: skip

    assert "Delete 2 messages forever?" in question
    assert still == ["trash", "trash"]
    assert deleted.headers["Location"] == "/mail/trash"
    assert [await folder_of(client, ids[s]) for s in ("one", "two", "three")] == [
        None, None, "inbox"]  # fmt: skip


async def test_deleting_all_of_trash_forever_asks_with_the_scope_not_the_ids(
    client: Client, h: Any, deliver: Any
) -> None:
    ids = await signed_in(client, h, deliver, "one", "two", "three")
    await post(client, h, "/mail/actions", [("action", "trash"), ("scope", "inbox")])
    every = {"action": "delete", "scope": "trash", "next": "/mail/trash"}

    asked = await post(client, h, "/mail/actions", every)
    question = await asked.text()
    still = [await folder_of(client, i) for i in ids.values()]
    await post(client, h, "/mail/actions", {**every, "confirmed": "1"})

    assert "Delete 3 messages forever?" in question
    assert '<input type="hidden" name="scope" value="trash">' in question
    assert 'name="ids"' not in question
    assert still == ["trash"] * 3
    assert [await folder_of(client, i) for i in ids.values()] == [None] * 3


async def test_delete_forever_of_another_accounts_message_is_404(
    client: Client, h: Any, deliver: Any, pool: Any
) -> None:
    theirs = (await signed_in(client, h, deliver, "theirs"))["theirs"]
    client.session.cookie_jar.clear()
    await signed_in(client, h, deliver)

    asked = await post(client, h, f"/messages/{theirs}/delete", {})
    forced = await post(client, h, f"/messages/{theirs}/delete", {"confirmed": "1"})
    bulk = await post(client, h, "/mail/actions",
                      {"action": "delete", "ids": str(theirs), "confirmed": "1"})  # fmt: skip

    assert (asked.status, forced.status, bulk.status) == (404, 404, 303)
    assert await pool.fetchval("SELECT count(*) FROM mailbox_entries WHERE id = $1", theirs) == 1


async def test_empty_trash_asks_first(client: Client, h: Any, deliver: Any) -> None:
    ids = await signed_in(client, h, deliver, "one", "two")
    chosen = [("ids", str(i)) for i in ids.values()]
    await post(client, h, "/mail/actions", [("action", "trash"), *chosen])
    trash = await (await client.get("/mail/trash")).text()

    asked = await post(client, h, "/mail/trash/empty", {})
    question = await asked.text()
    still = [await folder_of(client, i) for i in ids.values()]
    emptied = await post(client, h, "/mail/trash/empty", {"confirmed": "1"})
    page = await (await client.get("/mail/trash")).text()

    assert '<form method="post" action="/mail/trash/empty">' in trash
    assert "Empty Trash?" in question
    assert 'href="/mail/trash">Cancel' in question
    assert still == ["trash", "trash"]
    assert emptied.headers["Location"] == "/mail/trash"
    assert "Deleted 2 messages forever." in page
    assert [await folder_of(client, i) for i in ids.values()] == [None, None]


async def test_only_confirmed_1_confirms(client: Client, h: Any, deliver: Any) -> None:
    entry = (await signed_in(client, h, deliver, "one"))["one"]
    await post(client, h, f"/messages/{entry}/trash", {})

    for value in ("yes", "true", "", "1 "):
        response = await post(client, h, f"/messages/{entry}/delete", {"confirmed": value})
        assert response.status == 200
    assert await folder_of(client, entry) == "trash"


# -- Trash says when it purges ----------------------------------------------------------------


async def test_trash_says_when_its_messages_go_forever(
    client: Client, h: Any, deliver: Any
) -> None:
    await signed_in(client, h, deliver, "one")

    trash = await (await client.get("/mail/trash")).text()
    inbox = await (await client.get("/mail/inbox")).text()

    assert "Messages in Trash are deleted forever after 30 days." in trash
    assert "deleted forever after" not in inbox
