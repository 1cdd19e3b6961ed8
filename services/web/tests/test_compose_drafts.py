"""Drafts and attachments on the compose page, on a real mail store (views.drafts,
views.compose): nothing typed or attached is lost to a form error, a size limit or an
ended session; a draft is a real message in Drafts, replaced by each save and deleted
when sent; another account's drafts and attachments are out of reach."""

from __future__ import annotations

import html
import io
import re
import socket
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.policy import SMTP
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from webmail.drafts import MAX_ATTACHMENTS_BYTES
from webmail.main import create_app
from webmail.settings import load_config
from webmail.views.drafts import SESSION_ENDED

Client = TestClient[web.Request, web.Application]


def form(token: str, files: list[tuple[str, bytes]] = (), **fields: Any) -> aiohttp.FormData:  # type: ignore[assignment]
    data = aiohttp.FormData()
    data.add_field("csrf_token", token)
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            data.add_field(name, item)
    for filename, content in files:
        data.add_field(
            "attachments", io.BytesIO(content), filename=filename, content_type="text/plain"
        )
    return data


async def page_token(client: Client, path: str = "/compose") -> tuple[str, str]:
    page = await (await client.get(path)).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page
    return page, token[1]


async def signed_in(client: Client, h: Any) -> tuple[str, str]:
    """A new account, logged in: its address and the compose page's CSRF token."""
    address = await h.register(client)
    await h.login(client, address)
    return address, (await page_token(client))[1]


async def drafts(client: Client) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/messages", params={"folder": "drafts"})
    assert response.status == 200, await response.text()
    return list((await response.json())["messages"])


def body_of(page: str) -> str:
    """The textarea's text as the browser reads it (one newline after the tag dropped)."""
    found = re.search(r'<textarea id="body"[^>]*>\n(.*?)</textarea>', page, re.S)
    assert found, "no body"
    return html.unescape(found[1])


def kept_refs(page: str) -> list[str]:
    return re.findall(r'name="keep" value="([0-9]+:[0-9]+)"', page)


async def test_save_draft_stores_it_in_drafts_and_opens_it_again(client: Client, h: Any) -> None:
    _, token = await signed_in(client, h)
    fields = {"to": "bob@localpost.test, not an address", "bcc": "carol@localpost.test",
              "subject": "Plans", "body": "\n\nHalf a thought\nand more"}  # fmt: skip

    # The form's Save draft button: Send's form with save=1.
    saved = await client.post(
        "/compose", data=form(token, save="1", **fields), allow_redirects=False
    )

    assert saved.status == 303
    location = saved.headers["Location"]
    (listed,) = await drafts(client)
    assert location == f"/compose?draft={listed['id']}&saved=1"
    page = await (await client.get(location)).text()
    assert "Draft saved." in page
    assert 'value="bob@localpost.test, not an address"' in page
    assert 'value="carol@localpost.test"' in page
    assert body_of(page) == "\n\nHalf a thought\nand more"
    assert f'name="draft" value="{listed["id"]}"' in page
    folder = await (await client.get("/mail/drafts")).text()
    assert f'href="/compose?draft={listed["id"]}"' in folder


async def test_saving_again_replaces_the_draft(client: Client, h: Any) -> None:
    _, token = await signed_in(client, h)
    first = await client.post(
        "/compose/draft", data=form(token, subject="one"), allow_redirects=False
    )
    draft = first.headers["Location"].split("=")[1].split("&")[0]

    await client.post(
        "/compose/draft", data=form(token, subject="two", draft=draft), allow_redirects=False
    )

    assert [m["subject"] for m in await drafts(client)] == ["two"]


async def test_a_form_error_keeps_the_text_and_the_attachment_and_send_removes_the_draft(
    client: Client, h: Any, submission: Any
) -> None:
    handler, _ = submission
    bob = await h.register(client)
    _, token = await signed_in(client, h)

    refused = await client.post(
        "/compose",
        data=form(token, [("notes.txt", b"the notes")], to="bob@", subject="S", body="Typed"),
    )

    assert refused.status == 422
    page = await refused.text()
    assert 'id="to-error"' in page
    assert 'value="bob@"' in page
    assert body_of(page) == "Typed"
    (ref,) = kept_refs(page)
    assert "notes.txt" in page
    (draft,) = await drafts(client)
    assert f'name="draft" value="{draft["id"]}"' in page
    assert handler.messages == []

    sent = await client.post(
        "/compose",
        data=form(token, to=bob, subject="S", body="Typed", keep=[ref], draft=str(draft["id"])),
        allow_redirects=False,
    )

    assert (sent.status, sent.headers["Location"]) == (303, "/mail/sent?sent=1")
    (part,) = message_from_bytes(handler.messages[-1][1], policy=SMTP).iter_attachments()
    assert (part.get_filename(), part.get_content()) == ("notes.txt", "the notes")
    assert await drafts(client) == []


async def test_an_unticked_attachment_is_removed_one_by_one(client: Client, h: Any) -> None:
    _, token = await signed_in(client, h)
    files = [("a.txt", b"A"), ("b.txt", b"B")]
    saved = await client.post("/compose/draft", data=form(token, files, subject="x"))
    _a_ref, b_ref = kept_refs(await saved.text())
    draft = saved.url.query["draft"]

    again = await client.post(
        "/compose/draft", data=form(token, subject="x", keep=[b_ref], draft=draft)
    )

    page = await again.text()
    assert "b.txt" in page
    assert "a.txt" not in page
    assert len(kept_refs(page)) == 1


async def test_too_much_attached_is_a_field_error_with_the_text_kept(
    client: Client, h: Any, submission: Any
) -> None:
    handler, _ = submission
    _, token = await signed_in(client, h)
    big = [("film.bin", b"x" * (MAX_ATTACHMENTS_BYTES + 1))]

    response = await client.post(
        "/compose", data=form(token, big, to="bob@localpost.test", subject="S", body="Mine")
    )

    assert response.status == 422
    page = await response.text()
    assert 'id="attachments-error"' in page
    assert "too large" in page
    assert body_of(page) == "Mine"
    assert 'value="bob@localpost.test"' in page
    assert handler.messages == []
    assert [m["subject"] for m in await drafts(client)] == ["S"]


async def test_the_limit_is_stated_next_to_the_file_input(client: Client, h: Any) -> None:
    await h.login(client, await h.register(client))
    page, _ = await page_token(client)
    assert f'data-max-bytes="{MAX_ATTACHMENTS_BYTES}"' in page
    assert re.search(r'id="attachments-limit">At most 18 MB in all', page)
    assert 'aria-describedby="attachments-limit"' in page


async def test_another_accounts_draft_and_attachments_are_out_of_reach(
    client: Client, h: Any, submission: Any
) -> None:
    handler, _ = submission
    owner, intruder = await h.register(client), await h.register(client)
    await h.login(client, owner)
    _, token = await page_token(client)
    saved = await client.post(
        "/compose/draft", data=form(token, [("secret.txt", b"secret")], subject="mine")
    )
    (ref,) = kept_refs(await saved.text())
    draft = ref.split(":")[0]
    await h.login(client, intruder)
    _, token = await page_token(client)

    assert (await client.get(f"/compose?draft={draft}")).status == 404
    response = await client.post(
        "/compose", data=form(token, to=intruder, subject="s", body="b", keep=[ref], draft=draft)
    )
    assert response.status == 422
    assert handler.messages == []
    (own,) = await drafts(client)  # a draft of the intruder's own, without the secret
    assert own["has_attachments"] is False
    await h.login(client, owner)
    assert [m["subject"] for m in await drafts(client)] == ["mine"]


async def test_a_message_outside_drafts_does_not_open_as_a_draft(
    client: Client, h: Any, deliver: Any
) -> None:
    me = await h.register(client)
    await deliver(b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n", rcpt_to=[me])
    await h.login(client, me)
    inbox = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]
    assert (await client.get(f"/compose?draft={inbox}")).status == 404


async def test_a_session_that_ended_while_writing_comes_back_to_the_draft(
    client: Client, h: Any
) -> None:
    me, token = await signed_in(client, h)
    await client.post("/logout", data={"csrf_token": token})  # ended elsewhere, say

    ended = await client.post(
        "/compose/draft", data=form(token, to="bob@localpost.test", subject="S", body="Long text")
    )

    assert ended.status == 401
    page = await ended.text()
    assert SESSION_ENDED.replace(":", "") in page.replace(":", "")
    assert 'name="stash_body" value="Long text"' in page
    login_token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert login_token
    fields = dict(re.findall(r'name="(stash_[a-z_]+)" value="([^"]*)"', page))
    back = await client.post(
        "/login",
        data={"address": me, "password": h.password, "csrf_token": login_token[1], **fields},
        allow_redirects=False,
    )
    assert back.status == 303
    assert re.fullmatch(r"/compose\?draft=[0-9]+&restored=1", back.headers["Location"])
    restored = await (await client.get(back.headers["Location"])).text()
    assert body_of(restored) == "Long text"
    assert 'value="bob@localpost.test"' in restored
    assert [m["subject"] for m in await drafts(client)] == ["S"]


async def test_a_stale_form_of_a_live_session_comes_back_unsaved(client: Client, h: Any) -> None:
    await h.login(client, await h.register(client))
    response = await client.post(
        "/compose/draft", data=form("not-the-token", subject="S", body="Still here")
    )
    assert response.status == 403
    assert body_of(await response.text()) == "Still here"
    assert await drafts(client) == []


async def test_autosave_answers_json(client: Client, h: Any) -> None:
    _, token = await signed_in(client, h)
    response = await client.post(
        "/compose/draft",
        data=form(token, [("n.txt", b"n")], subject="auto"),
        headers={"Accept": "application/json"},
    )
    assert response.status == 200
    answer = await response.json()
    assert [a["filename"] for a in answer["attachments"]] == ["n.txt"]
    assert (
        answer["attachments"][0]["ref"]
        == f"{answer['draft']}:{answer['attachments'][0]['ref'].split(':')[1]}"
    )
    assert [m["id"] for m in await drafts(client)] == [answer["draft"]]


FORWARDED = (
    b"From: Ann <ann@example.com>\r\nSubject: report\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b'--b\r\nContent-Type: multipart/related; boundary="r"\r\n\r\n'
    b'--r\r\nContent-Type: text/html\r\n\r\n<p>see <img src="cid:logo@x"></p>\r\n'
    b"--r\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
    b"Content-Disposition: inline\r\n\r\nPNG\r\n--r--\r\n"
    b'--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="one.txt"'
    b"\r\n\r\nfirst\r\n"
    b'--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="two.txt"'
    b"\r\n\r\nsecond\r\n--b--\r\n"
)


async def test_forward_carries_the_attachments_each_removable(
    client: Client, h: Any, deliver: Any, submission: Any
) -> None:
    handler, _ = submission
    me = await h.register(client)
    await deliver(FORWARDED, rcpt_to=[me])
    await h.login(client, me)
    entry = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]
    page, token = await page_token(client, f"/compose?forward={entry}")
    refs = kept_refs(page)
    assert "one.txt" in page
    assert "two.txt" in page
    assert len(refs) == 2

    sent = await client.post(
        "/compose",
        data=form(token, to=me, subject="Fwd", body="b", keep=refs[1:], source=str(entry),
                  source_flag="forwarded"),
        allow_redirects=False,
    )  # fmt: skip

    assert sent.status == 303
    parts = message_from_bytes(handler.messages[-1][1], policy=SMTP).iter_attachments()
    assert [p.get_filename() for p in parts] == ["two.txt"]


async def test_a_partial_delivery_leaves_the_form_and_says_who_did_not_get_it(
    client: Client, h: Any, submission: Any
) -> None:
    handler, _ = submission
    bob = await h.register(client)
    _, token = await signed_in(client, h)

    sent = await client.post(
        "/compose",
        data=form(token, to=f"{bob}, nobody@localpost.test", subject="S", body="b"),
        allow_redirects=False,
    )

    assert sent.status == 303
    assert sent.headers["Location"] == "/mail/sent"
    page = await (await client.get(sent.headers["Location"])).text()
    assert "Sent, but not delivered to: nobody@localpost.test." in page
    # A link cannot say so: the notice comes only from the cookie Send set.
    crafted = await (await client.get("/mail/sent?sent=1&undelivered=everyone")).text()
    assert "not delivered" not in crafted
    assert len(handler.messages) == 1
    # The sent message says so too; the copy received says nothing of the envelope.
    (copy,) = (await (await client.get("/api/v1/messages?folder=sent")).json())["messages"]
    sent_page = await (await client.get(f"/messages/{copy['id']}")).text()
    assert re.search(
        r'id="undelivered">Sent, but not delivered to: nobody@localpost\.test\.', sent_page
    )
    await h.login(client, bob)
    (received,) = (await (await client.get("/api/v1/messages")).json())["messages"]
    assert 'id="undelivered"' not in await (await client.get(f"/messages/{received['id']}")).text()


@pytest.fixture
async def no_submission(web_environ: dict[str, str]) -> AsyncIterator[Client]:
    """The web service with nothing listening where the submission service should be."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    app = create_app(load_config({**web_environ, "SUBMISSION_PORT": str(closed)}), live=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_a_message_that_cannot_be_sent_now_waits_in_drafts(
    no_submission: Client, h: Any
) -> None:
    _, token = await signed_in(no_submission, h)
    fields = {"to": "bob@localpost.test", "subject": "Later", "body": "Still mine"}

    response = await no_submission.post("/compose", data=form(token, **fields))

    assert response.status == 503
    page = await response.text()
    assert "nothing was sent" in page
    assert body_of(page) == "Still mine"
    assert [m["subject"] for m in await drafts(no_submission)] == ["Later"]
