"""The mail store backend's pure parts: error mapping, the search program's JSON form,
set formats and the event routing of the live hub (the whole backend runs against the
real mail store in tests/integration/test_imap_mailstore.py)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from imap_gateway import backend as bk
from imap_gateway.mailstore_backend import (
    Client,
    LiveHub,
    MailstoreBackend,
    ModseqForgotten,
    _error_for,
    _expand,
    _uid_set,
    search_program,
)
from imap_gateway.settings import load_config
from imap_gateway.wire.commands import StoreMode
from imap_gateway.wire.fetch import Section
from imap_gateway.wire.search import (
    SearchAnd,
    SearchDate,
    SearchNot,
    SearchOr,
    SearchSet,
    SearchSimple,
    SearchText,
)
from imap_gateway.wire.sequence import SequenceSet


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (404, "nonexistent", bk.FolderNotFound),
        (409, "alreadyexists", bk.FolderExists),
        (409, "haschildren", bk.FolderHasChildren),
        (409, "cannot", bk.OperationNotAllowed),
        (409, "inuse", bk.MaildropInUse),
        (409, "limit", bk.LimitReached),
        (409, "overquota", bk.QuotaExceeded),
        (413, "toobig", bk.MessageTooBig),
        (413, "limit", bk.SearchTooCostly),
        (422, None, bk.OperationNotAllowed),
        (410, "forgotten", ModseqForgotten),
        (503, "unavailable", bk.BackendUnavailable),
        (500, None, bk.BackendUnavailable),
    ],
)
def test_each_refusal_maps_to_its_error(status: int, code: str | None, error: type) -> None:
    found = _error_for(status, {"error": "x", "code": code}, "INBOX")
    assert type(found) is error


def test_uid_sets_round_trip() -> None:
    assert _uid_set([5, 1, 2, 3, 3]) == "1:3,5"
    assert _expand("1:3,5") == [1, 2, 3, 5]
    assert _expand("") == []


def test_search_program_mirrors_the_keys() -> None:
    key = SearchAnd(
        (
            SearchNot(SearchSimple("SEEN")),
            SearchOr(
                SearchText("SUBJECT", "grüße".encode()), SearchDate("ON", dt.date(2025, 7, 1))
            ),
            SearchSet(SequenceSet.parse("4:*"), uid=True),
        )
    )
    assert search_program(key) == {
        "key": "AND",
        "keys": [
            {"key": "NOT", "arg": {"key": "SEEN"}},
            {
                "key": "OR",
                "left": {"key": "SUBJECT", "value": "grüße"},
                "right": {"key": "ON", "date": "2025-07-01"},
            },
            {"key": "UID", "uids": f"4:{2**32 - 1}"},
        ],
    }


def test_sequence_numbers_never_reach_the_store() -> None:
    with pytest.raises(ValueError, match="resolved by the session"):
        search_program(SearchSet(SequenceSet.parse("1:3")))


class Poked:
    def __init__(self, key: tuple[str, str]) -> None:
        self.key = key
        self.pokes = 0

    def poke(self) -> None:
        self.pokes += 1


def test_the_hub_wakes_only_the_feeds_of_the_folder_named() -> None:
    hub = LiveHub()
    inbox, sent = Poked(("alice@x.test", "inbox")), Poked(("alice@x.test", "sent"))
    hub.add(inbox)  # type: ignore[arg-type]
    hub.add(sent)  # type: ignore[arg-type]

    hub.publish({"event": "stored", "entries": [{"account": "Alice@X.test", "folder": "inbox"}]})
    hub.publish({"event": "changed", "entries": [{"account": "bob@x.test", "folder_id": "sent"}]})
    hub.publish({"event": "changed", "entries": "garbage"})
    hub.publish(["not", "an", "event"])

    assert (inbox.pokes, sent.pokes) == (1, 0)
    hub.set_up(True)  # coming up: every feed catches up on what it may have missed
    assert (inbox.pokes, sent.pokes) == (2, 1)


# --- against a stand-in of the mail store's API --------------------------------------------

ALICE = "alice@x.test"


class FakeStore:
    """Just enough of /v1/auth/verify, /imap/select, /imap/changes and /imap/store."""

    def __init__(self) -> None:
        self.changes: dict[str, Any] = {"highestmodseq": 5, "vanished": "", "changed": []}
        self.asked: list[str] = []
        self.down = False
        self.inline = False  # /fetch sends the octets when asked
        self.raw_asked = 0

    def app(self) -> web.Application:
        app = web.Application()
        prefix = "/v1/accounts/{address}/imap"
        app.router.add_post("/v1/auth/verify", self.verify)
        app.router.add_get(prefix + "/select", self.select)
        app.router.add_get(prefix + "/changes", self.get_changes)
        app.router.add_post(prefix + "/store", self.store)
        app.router.add_post(prefix + "/fetch", self.fetch)
        app.router.add_get(prefix + "/raw", self.raw)
        return app

    async def fetch(self, request: web.Request) -> web.Response:
        line = {"uid": 1, "flags": [], "keywords": [], "modseq": 5, "size": 10}
        line["internaldate"] = "2026-12-05T10:00:00+00:00"
        if self.inline and (await request.json()).get("octets"):
            line["octets"] = base64.b64encode(b"Subject: x").decode()
        return web.Response(body=json.dumps(line).encode() + b"\n")

    async def raw(self, request: web.Request) -> web.Response:
        self.raw_asked += 1
        # The message was expunged between /fetch and /raw (the store's MessageNotFound).
        return web.json_response({"error": "not found"}, status=404)

    async def verify(self, request: web.Request) -> web.Response:
        body = await request.json()
        status = {"right": 200, "wrong": 401, "many": 429, "busy": 503}[body["password"]]
        assert body["channel"] == "imap"
        return web.json_response({"address": ALICE, "name": ""}, status=status)

    async def select(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "id": "inbox",
                "uidvalidity": 7,
                "uidnext": 3,
                "highestmodseq": 5,
                "exists": 2,
                "uids": "1:2",
                "flags": ["\\Seen", "$Work"],
                "first_unseen": 1,
            }
        )

    async def get_changes(self, request: web.Request) -> web.Response:
        self.asked.append(request.query["modseq"])
        if self.down:
            return web.json_response({"code": "unavailable"}, status=503)
        return web.json_response(self.changes)

    async def store(self, request: web.Request) -> web.Response:
        state = {"uid": 1, "flags": ["\\Seen"], "keywords": [], "modseq": 6}
        return web.json_response({"updated": [state], "modified": ""})


@pytest.fixture
async def store_and_backend() -> AsyncIterator[tuple[FakeStore, MailstoreBackend]]:
    fake = FakeStore()
    async with TestServer(fake.app()) as server, aiohttp.ClientSession() as session:
        config = load_config(
            {"MAILSTORE_URL": str(server.make_url("/")), "MAILSTORE_TOKEN": "t" * 32}
        )
        yield fake, MailstoreBackend(Client(session, config), LiveHub())


@pytest.mark.parametrize(
    ("password", "error"),
    [
        ("wrong", bk.AuthenticationFailed),
        ("many", bk.AuthenticationThrottled),
        ("busy", bk.BackendUnavailable),
    ],
)
async def test_login_refusals(
    store_and_backend: tuple[FakeStore, MailstoreBackend], password: str, error: type
) -> None:
    _, backend = store_and_backend
    with pytest.raises(error):
        await backend.authenticate(bk.Credentials(ALICE, password, "192.0.2.1"))


async def test_with_the_broker_down_each_command_asks_for_changes(
    store_and_backend: tuple[FakeStore, MailstoreBackend],
) -> None:
    fake, backend = store_and_backend
    user = await backend.authenticate(bk.Credentials(ALICE, "right", "192.0.2.1"))
    selected = await user.select("INBOX", read_only=False)
    feed = selected.changes()
    assert selected.snapshot.uids == (1, 2)
    assert "$Work" in selected.snapshot.permanent_flags

    await selected.store([1], StoreMode.ADD, ["\\Seen"])
    fake.changes = {
        "highestmodseq": 9,
        "vanished": "2",
        "changed": [
            {"uid": 1, "flags": ["\\Seen"], "keywords": [], "modseq": 6},
            {"uid": 3, "flags": [], "keywords": ["$Work"], "modseq": 8},
        ],
    }
    await feed.refresh()
    changes = feed.pending()
    fake.changes = {"highestmodseq": 9, "vanished": "", "changed": []}
    await feed.refresh()

    assert changes == [
        bk.MessagesExpunged((2,)),
        bk.MessagesAdded((3,), frozenset({"$Work"})),  # FLAGS names what new mail brings
        bk.FlagsChanged(bk.MessageFlags(1, frozenset({"\\Seen"}), 6), origin=selected),
    ]
    assert fake.asked == ["5", "9"]  # from the snapshot's MODSEQ, then the one answered
    assert feed.pending() == []
    await selected.close()


async def test_an_event_whose_asking_failed_is_asked_again_before_the_next_command(
    store_and_backend: tuple[FakeStore, MailstoreBackend],
) -> None:
    # A mail store restarting as an event arrives: the event is spent, the change must
    # still reach the session (before its next command), not wait for another event.
    fake, backend = store_and_backend
    backend.hub.up = True
    user = await backend.authenticate(bk.Credentials(ALICE, "right", "192.0.2.1"))
    selected = await user.select("INBOX", read_only=False)
    feed = selected.changes()
    await feed.refresh()  # the poke at SELECT, answered with nothing new
    fake.down = True
    fake.changes = {
        "highestmodseq": 7,
        "vanished": "",
        "changed": [{"uid": 3, "flags": [], "keywords": [], "modseq": 7}],
    }
    backend.hub.publish({"event": "stored", "entries": [{"account": ALICE, "folder": "inbox"}]})
    await feed.refresh()  # waits for the asking the event started, which fails
    assert feed.pending() == []

    fake.down = False
    await feed.refresh()

    assert feed.pending() == [bk.MessagesAdded((3,))]
    assert fake.asked == ["5", "5", "5"]
    await selected.close()


async def test_a_message_gone_between_fetch_and_raw_is_expunged_not_unavailable(
    store_and_backend: tuple[FakeStore, MailstoreBackend],
) -> None:
    """imaptest's stress mode: another session's EXPUNGE between the two requests of a
    FETCH BODY[] is NO [EXPUNGEISSUED] (it counted our [UNAVAILABLE] as an error)."""
    _, backend = store_and_backend
    user = await backend.authenticate(bk.Credentials(ALICE, "right", "192.0.2.1"))
    selected = await user.select("INBOX", read_only=False)
    [message] = [m async for m in selected.fetch([1])]

    body = await message.section(Section(), None)
    with pytest.raises(bk.MessageExpunged):
        [chunk async for chunk in body.chunks]
    await selected.close()


async def test_a_small_body_comes_with_the_fetch_line_and_needs_no_raw_request(
    store_and_backend: tuple[FakeStore, MailstoreBackend],
) -> None:
    fake, backend = store_and_backend
    fake.inline = True
    user = await backend.authenticate(bk.Credentials(ALICE, "right", "192.0.2.1"))
    selected = await user.select("INBOX", read_only=False)
    [message] = [m async for m in selected.fetch([1], needs=frozenset({bk.SECTIONS}))]

    whole = await message.section(Section(), None)
    part = await message.section(Section(), (2, 5))
    octets = (b"".join([c async for c in whole.chunks]), b"".join([c async for c in part.chunks]))
    await selected.close()

    assert (whole.size, part.size) == (10, 5)
    assert octets == (b"Subject: x", b"bject")
    assert fake.raw_asked == 0


async def test_sessions_of_a_folder_woken_by_one_event_ask_once(
    store_and_backend: tuple[FakeStore, MailstoreBackend],
) -> None:
    fake, backend = store_and_backend
    backend.hub.up = True
    user = await backend.authenticate(bk.Credentials(ALICE, "right", "192.0.2.1"))
    sessions = [await user.select("INBOX", read_only=False) for _ in range(3)]
    await asyncio.gather(*(s.changes().catch_up() for s in sessions))  # SELECT's pokes
    fake.asked.clear()
    fake.changes = {
        "highestmodseq": 6,
        "vanished": "",
        "changed": [{"uid": 3, "flags": [], "keywords": [], "modseq": 6}],
    }

    backend.hub.publish({"event": "stored", "entries": [{"account": ALICE, "folder_id": "inbox"}]})
    await asyncio.gather(*(s.changes().refresh() for s in sessions))

    assert fake.asked == ["5"]
    assert [s.changes().pending() for s in sessions] == [[bk.MessagesAdded((3,))]] * 3
    for s in sessions:
        await s.close()


async def test_a_session_asking_after_the_request_went_out_asks_anew(
    store_and_backend: tuple[FakeStore, MailstoreBackend],
) -> None:
    # Sharing an answer read before the asker was told of a change would lose it.
    fake, backend = store_and_backend
    user = await backend.authenticate(bk.Credentials(ALICE, "right", "192.0.2.1"))
    first, second = [await user.select("INBOX", read_only=False) for _ in range(2)]
    fake.asked.clear()
    asking = asyncio.create_task(first.read_changes(5))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the request is on its way
    await second.read_changes(5)
    await asking

    assert fake.asked == ["5", "5"]
    await first.close()
    await second.close()
