"""The in-memory SEARCH evaluator reads headers as the mail store's SEARCH does.

The cases are those the differential sessions against Dovecot found on the
corpus (tests/integration/test_imap_sessions_dovecot.py); the mail store's own
tests have the same (services/mailstore/tests/test_imap_search.py).
"""

from __future__ import annotations

import datetime as dt

import pytest

from imap_gateway.searching import Searchable, matches
from imap_gateway.wire.search import SearchHeader, SearchKey, SearchText

RAW = (
    'From: "Jöhn Doe" <jdöe@mächine.example>\r\n'
    "quite Delivered-To: a stray line that is no field\r\n"
    "Subject : 🎉 Monthly Newsletter\r\n"
    "X-Unknown: =?NONE?B?VEVTVA=?=\r\n"
    "X-Japanese: =?UTF-8?B?44G+44G/44KA44KB44KC?=\r\n"
    "\r\n"
    "Plain body\r\n"
).encode()
MESSAGE = Searchable(1, frozenset(), 1, dt.datetime(2025, 1, 1, tzinfo=dt.UTC), RAW)


@pytest.mark.parametrize(
    "key",
    [
        SearchText("FROM", "jöhn".encode()),
        SearchText("SUBJECT", "🎉".encode()),
        SearchText("TEXT", "まみむめも".encode()),
        SearchText("TEXT", b"plain BODY"),
        SearchHeader("X-Unknown", b"test"),
        SearchHeader("Subject", b""),
    ],
    ids=repr,
)
def test_header_text_is_found_as_a_reader_sees_it(key: SearchKey) -> None:
    assert matches(key, MESSAGE)


def test_text_still_misses_what_is_not_there() -> None:
    assert not matches(SearchText("TEXT", b"nowhere"), MESSAGE)


# imaptest's search-addresses messages (Dovecot's scripted suite): FROM, TO, CC
# and BCC search "the envelope structure's FROM field" (RFC 9051 §6.4.4).
ADDRESSES = [
    b"From: <user-from (comment)@ (comment) domain.org>\r\n",
    b"From: user-from@domain.org (RealFrom)\r\n",
    b"To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n"
    b"  groupname2: groupuser3@domain.org;\r\n",
    b"Bcc: Array\r\n",
]


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (ADDRESSES[0], SearchText("FROM", b"user-from@domain.org")),
        (ADDRESSES[1], SearchText("FROM", b"realfrom")),
        (ADDRESSES[1], SearchText("FROM", b"user-from@domain.org")),
        (ADDRESSES[2], SearchText("TO", b"groupname2")),
        (ADDRESSES[2], SearchText("TO", b"groupuser3@domain.org")),
        (ADDRESSES[3], SearchText("BCC", b"@")),
    ],
    ids=repr,
)
def test_address_keys_find_the_addresses_as_parsed(header: bytes, key: SearchKey) -> None:
    message = Searchable(1, frozenset(), 1, MESSAGE.internal_date, header + b"\r\nbody\r\n")
    assert matches(key, message)


def test_address_keys_miss_an_address_that_is_not_there() -> None:
    message = Searchable(1, frozenset(), 1, MESSAGE.internal_date, ADDRESSES[2] + b"\r\n")
    assert not matches(SearchText("TO", b"groupuser4"), message)
    assert not matches(SearchText("FROM", b"groupuser1"), message)
