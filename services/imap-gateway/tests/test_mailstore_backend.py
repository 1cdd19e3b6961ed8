"""The mail store backend's pure parts: error mapping, the search program's JSON form,
set formats and the event routing of the live hub (the whole backend runs against the
real mail store in tests/integration/test_imap_mailstore.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from imap_gateway import backend as bk
from imap_gateway.mailstore_backend import (
    LiveHub,
    ModseqForgotten,
    _error_for,
    _expand,
    _uid_set,
    search_program,
)
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
