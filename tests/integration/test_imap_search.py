"""The mail store's IMAP SEARCH against the gateway's in-memory evaluator, key by key.

For each search key of a table, on a handful of messages APPENDed with chosen flags,
keywords and internal dates, ``POST .../imap/search`` (the program written by
``imap_gateway.mailstore_backend.search_program``) must give the UIDs that
``imap_gateway.searching.matches`` gives over the same messages' data.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio

from imap_gateway.mailstore_backend import search_program
from imap_gateway.searching import Searchable, matches
from imap_gateway.wire.search import (
    SearchAnd,
    SearchDate,
    SearchHeader,
    SearchKey,
    SearchKeyword,
    SearchModSeq,
    SearchNot,
    SearchOr,
    SearchSet,
    SearchSimple,
    SearchSize,
    SearchText,
)
from imap_gateway.wire.sequence import SequenceSet
from tests.integration.mailapi import MailstoreAPI

pytestmark = pytest.mark.asyncio(loop_scope="module")

UTC = dt.UTC
MESSAGES: list[tuple[bytes, list[str], dt.datetime]] = [
    (
        b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n"
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus Berlin\r\n"
        b"Date: Mon, 30 Jun 2025 23:30:00 -0700\r\nCc: Carol <carol@example.net>\r\n\r\n"
        b"Hallo Bob, STRASSE und stra\xc3\x9fe.\r\n",
        ["\\Seen", "$Work"],
        dt.datetime(2025, 7, 1, 0, 30, tzinfo=UTC),
    ),
    (
        b"From: bob@example.org\r\nTo: alice@example.org\r\nSubject: Re: lunch\r\n"
        b"Date: Tue, 1 Jul 2025 09:00:00 +0200\r\nX-Priority: 1\r\n\r\n"
        b"Lunch at noon?\r\n",
        ["\\Flagged", "\\Answered"],
        dt.datetime(2025, 6, 30, 23, 59, tzinfo=UTC),
    ),
    (
        b"From: news@example.com\r\nTo: alice@example.org\r\nBcc: archive@example.org\r\n"
        b"Subject: Weekly news\r\n\r\n" + b"All the news that fits. " * 200 + b"\r\n",
        ["\\Deleted", "$Junk"],
        dt.datetime(2025, 7, 2, 12, 0, tzinfo=UTC),
    ),
    (
        b"From: Dave <dave@example.net>\r\nTo: alice@example.org\r\nSubject: draft\r\n"
        b"Date: not a date\r\n\r\nUnfinished\r\n",
        ["\\Draft"],
        dt.datetime(2025, 7, 3, 8, 0, tzinfo=UTC),
    ),
    (
        # Addresses found only as parsed (imaptest's search-addresses).
        b"From: <news (desk)@ (hq) example.com>\r\n"
        b"To: team: carol@example.net, dave@example.net;, (Nobody) eve@example.org\r\n"
        b"Bcc: Array\r\nSubject: parsed\r\n\r\nAddresses\r\n",
        [],
        dt.datetime(2025, 7, 4, 8, 0, tzinfo=UTC),
    ),
]

D = dt.date
KEYS: list[SearchKey] = [
    SearchSimple("ALL"),
    *(SearchSimple(n) for n in ("SEEN", "UNSEEN", "FLAGGED", "UNFLAGGED", "ANSWERED")),
    *(SearchSimple(n) for n in ("UNANSWERED", "DELETED", "UNDELETED", "DRAFT", "UNDRAFT")),
    SearchSimple("NEW"),
    SearchSimple("OLD"),
    SearchSimple("RECENT"),
    SearchKeyword("KEYWORD", "$Work"),
    SearchKeyword("UNKEYWORD", "$Junk"),
    SearchKeyword("KEYWORD", "$work"),  # keywords compare as stored
    SearchText("FROM", b"ALICE"),
    SearchText("FROM", b"example.net"),
    SearchText("TO", b"bob@"),
    SearchText("CC", b"carol"),
    SearchText("BCC", b"archive"),
    SearchText("FROM", b"news@example.com"),
    SearchText("TO", b"eve@example.org"),
    SearchText("BCC", b"array@missing_domain"),
    SearchText("SUBJECT", "grüße".encode()),
    SearchText("SUBJECT", b"LUNCH"),
    SearchText("BODY", "straße".encode()),
    SearchText("BODY", b"noon"),
    SearchText("TEXT", b"x-priority"),
    SearchText("TEXT", b"nowhere at all"),
    SearchHeader("X-Priority", b""),
    SearchHeader("subject", b"news"),
    SearchDate("BEFORE", D(2025, 7, 1)),
    SearchDate("ON", D(2025, 7, 1)),
    SearchDate("SINCE", D(2025, 7, 2)),
    SearchDate("SENTBEFORE", D(2025, 7, 1)),
    SearchDate("SENTON", D(2025, 6, 30)),
    SearchDate("SENTON", D(2025, 7, 1)),
    SearchDate("SENTSINCE", D(2025, 7, 1)),
    SearchSize("LARGER", 1000),
    SearchSize("SMALLER", 200),
    SearchModSeq(1),
    SearchSet(SequenceSet.parse("2:3"), uid=True),
    SearchSet(SequenceSet.parse("3:*"), uid=True),
    SearchNot(SearchSimple("SEEN")),
    SearchOr(SearchText("SUBJECT", b"lunch"), SearchKeyword("KEYWORD", "$Junk")),
    SearchAnd((SearchSimple("UNDELETED"), SearchText("TO", b"alice"))),
    SearchNot(SearchOr(SearchText("BODY", b"news"), SearchSimple("FLAGGED"))),
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def folder(mailstore: MailstoreAPI, endpoints: Any) -> tuple[str, list[Searchable]]:
    """An account whose Archive holds MESSAGES; the Searchable data of each."""
    address = f"search-{id(MESSAGES)}@{endpoints.domain}"
    await mailstore.create_account(address, "a long enough search password")
    imap = f"/v1/accounts/{quote(address)}/imap"
    form = aiohttp.FormData()
    meta = {
        "folder": "Archive",
        "messages": [{"flags": f, "internal_date": d.isoformat()} for _, f, d in MESSAGES],
    }
    form.add_field("meta", json.dumps(meta), content_type="application/json")
    for raw, _, _ in MESSAGES:
        form.add_field("message", raw, filename="m.eml", content_type="message/rfc822")
    status, appended = await mailstore.call("POST", imap + "/append", data=form)
    assert status == 200, appended
    status, lines = await mailstore.call(
        "POST", imap + "/fetch", json={"folder": "Archive", "uids": f"1:{2**32 - 1}"}
    )
    assert status == 200
    found = []
    for line, (raw, _, _) in zip(bytes(lines).splitlines(), MESSAGES, strict=True):
        data = json.loads(line)
        flags = frozenset([*data["flags"], *data["keywords"]])
        date = dt.datetime.fromisoformat(data["internaldate"])
        found.append(Searchable(data["uid"], flags, data["modseq"], date, raw))
    return imap, found


@pytest.mark.parametrize("key", KEYS, ids=[repr(k)[:60] for k in KEYS])
async def test_the_store_finds_what_the_evaluator_finds(
    mailstore: MailstoreAPI, folder: tuple[str, list[Searchable]], key: SearchKey
) -> None:
    imap, messages = folder
    body = {"folder": "Archive", "program": search_program(key)}
    status, found = await mailstore.call("POST", imap + "/search", json=body)
    assert status == 200, found
    expected = [m.uid for m in messages if matches(key, m)]
    got = [uid for item in filter(None, found["uids"].split(",")) for uid in _range(item)]
    assert got == expected


def _range(item: str) -> range:
    low, _, high = item.partition(":")
    return range(int(low), int(high or low) + 1)


async def test_a_malformed_program_is_422(
    mailstore: MailstoreAPI, folder: tuple[str, list[Searchable]]
) -> None:
    imap, _ = folder
    for program in ({"key": "NOPE"}, {"key": "LARGER", "size": -1}, {"key": "AND", "keys": []}):
        body = {"folder": "Archive", "program": program}
        status, _ = await mailstore.call("POST", imap + "/search", json=body)
        assert status == 422, program


async def test_an_unknown_folder_is_404_nonexistent(
    mailstore: MailstoreAPI, folder: tuple[str, list[Searchable]]
) -> None:
    imap, _ = folder
    body = {"folder": "Nope", "program": {"key": "ALL"}}
    status, answer = await mailstore.call("POST", imap + "/search", json=body)
    assert (status, answer["code"]) == (404, "nonexistent")
