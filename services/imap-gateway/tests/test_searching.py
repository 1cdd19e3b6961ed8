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
