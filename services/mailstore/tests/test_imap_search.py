"""The exact evaluation of SEARCH's text keys on a message's octets (mailstore.imap_search).

Each case is one that the differential sessions against Dovecot
(tests/integration/test_imap_sessions_dovecot.py) found on the shared corpus.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mailstore.imap_search import (
    STORED_KEYS,
    Candidate,
    has_header_end,
    header_values,
    matches,
    needs_body,
    split_message,
    stored_keys,
    stored_texts,
)

# The shared corpus sits beside the repository (only a developer checkout has it).
CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "emails"

RAW = (
    'From: "Jöhn Doe" <jdöe@mächine.example>\r\n'
    "Subject: 🎉 Monthly Newsletter\r\n"
    "X-Unknown: =?NONE?B?VEVTVA=?=\r\n"
    "X-Language: =?iso-8859-2*sl?Q?Doma=e8e?=\r\n"
    "X-Japanese: =?UTF-8?B?44G+44G/44KA44KB44KC?=\r\n"
    "\r\n"
    "Plain body\r\n"
).encode()


def candidate(raw: bytes) -> Candidate:
    when = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    return Candidate(1, frozenset(), frozenset(), 1, when, len(raw), raw)


def test_utf8_header_octets_are_read_as_utf8() -> None:
    # RFC 6532 §3.2: a header may hold UTF-8 as it is, without encoded words.
    assert header_values(RAW, "from") == ['"Jöhn Doe" <jdöe@mächine.example>']
    assert header_values(RAW, "Subject") == ["🎉 Monthly Newsletter"]


def test_an_encoded_word_in_an_unknown_charset_or_with_a_language_is_decoded() -> None:
    assert header_values(RAW, "X-Unknown") == ["TEST"]
    # RFC 2231 §5: "*sl" after the charset names the language.
    assert header_values(RAW, "X-Language") == ["Domače"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("FROM", "jöhn"),
        ("SUBJECT", "🎉"),
        ("TEXT", "まみむめも"),
        ("TEXT", "JÖHN DOE"),
        ("TEXT", "plain BODY"),
    ],
)
def test_text_keys_find_what_a_reader_sees(key: str, value: str) -> None:
    assert matches({"key": key, "value": value}, candidate(RAW))


def test_text_still_misses_what_is_not_there() -> None:
    assert not matches({"key": "TEXT", "value": "nowhere"}, candidate(RAW))


def test_a_line_that_is_no_field_does_not_end_the_header() -> None:
    # mikel-mail/plain_emails__raw_email_incorrect_header.eml: ENVELOPE reads on
    # past such a line (mailstore.imap_structure, as Dovecot does), so SEARCH does.
    raw = b"Received: x\r\nquite Delivered-To: y\r\nSubject: Stop adware\r\n\r\nBody\r\n"
    assert header_values(raw, "Subject") == ["Stop adware"]
    assert matches({"key": "HEADER", "field": "Subject", "value": ""}, candidate(raw))


def test_obsolete_space_before_the_colon_and_a_byte_order_mark() -> None:
    # RFC 5322 §4.5: obs-optional allows white space before the colon.
    raw = "\ufeffFrom: a@example.org\r\nSubject  : Saying Hello\r\n\r\n".encode()
    assert header_values(raw, "subject") == ["Saying Hello"]
    assert matches({"key": "SUBJECT", "value": "hello"}, candidate(raw))


# imaptest's search-addresses cases (Dovecot's scripted suite): FROM, TO, CC and BCC
# search "the envelope structure's FROM field" (RFC 9051 §6.4.4), the parsed addresses.
COMMENTED = b"From: <user-from (comment)@ (comment) domain.org>\r\n"
NAMED_BY_COMMENT = b"From: user-from@domain.org (RealFrom)\r\n"
GROUPS = (
    b"To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n"
    b"  groupname2: groupuser3@domain.org;\r\n"
)


@pytest.mark.parametrize(
    ("header", "key", "value"),
    [
        (COMMENTED, "FROM", "user-from@domain.org"),
        (NAMED_BY_COMMENT, "FROM", "realfrom"),
        (NAMED_BY_COMMENT, "FROM", "user-from@domain.org"),
        (GROUPS, "TO", "groupname2"),
        (GROUPS, "TO", "groupuser3@domain.org"),
        (b"Bcc: Array\r\n", "BCC", "array@missing_domain"),
    ],
)
def test_address_keys_find_the_addresses_as_parsed(header: bytes, key: str, value: str) -> None:
    assert matches({"key": key, "value": value}, candidate(header + b"\r\nbody\r\n"))


def test_address_keys_miss_an_address_that_is_not_there() -> None:
    message = candidate(GROUPS + b"\r\n")
    assert not matches({"key": "TO", "value": "groupuser4"}, message)
    assert not matches({"key": "FROM", "value": "groupuser1"}, message)


def test_only_body_and_text_keys_need_more_than_the_header() -> None:
    header_only = {"key": "OR", "left": {"key": "SUBJECT", "value": "a"}, "right": {"key": "SEEN"}}
    assert not needs_body(
        {"key": "AND", "keys": [header_only, {"key": "SENTON", "date": "2025-01-01"}]}
    )
    assert needs_body({"key": "NOT", "arg": {"key": "BODY", "value": "a"}})
    assert needs_body(
        {"key": "OR", "left": {"key": "SEEN"}, "right": {"key": "TEXT", "value": "a"}}
    )


@pytest.mark.parametrize("raw", [RAW, RAW.replace(b"\r\n", b"\n"), b"\r\nbody\r\n", b"A: b\n\n"])
def test_every_prefix_that_holds_the_empty_line_has_the_whole_header(raw: bytes) -> None:
    # SEARCH reads only a prefix of the message for header keys (db.imap_search):
    # when the prefix holds the empty line, it must read as the same header.
    header = split_message(raw)[0]
    for end in range(len(raw) + 1):
        prefix = raw[:end]
        assert has_header_end(prefix) == (end >= len(header))
        if has_header_end(prefix):
            assert split_message(prefix)[0] == header


def test_a_message_without_an_empty_line_never_has_its_header_end() -> None:
    raw = b"Subject: no body\r\nFrom: a@b\r\n"
    assert not any(has_header_end(raw[:end]) for end in range(len(raw) + 1))


def _split_line_by_line(raw: bytes) -> tuple[bytes, bytes] | None:
    """The header as a reader walks the LF-ended lines: the first that is LF or CRLF
    alone ends it (the reference for split_message's byte search); None without one."""
    offset = 0
    for piece in raw.split(b"\n")[:-1]:
        offset += len(piece) + 1
        if piece in (b"", b"\r"):
            return raw[:offset], raw[offset:]
    return None


@given(st.lists(st.sampled_from([b"a", b":", b" ", b"\r", b"\n", b"\r\n"]), max_size=14))
@example([b"a", b"\n", b"\n", b"\r\n", b"\r\n"])  # LF LF before LF CRLF
@example([b"a", b"\n", b"\r\n", b"\n", b"\n"])  # LF CRLF before LF LF
def test_split_message_agrees_with_a_line_by_line_reading(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    expected = _split_line_by_line(raw)
    assert has_header_end(raw) == (expected is not None)
    assert split_message(raw) == (expected or (raw, b""))


@pytest.mark.parametrize(
    ("raw", "needle", "found"),
    [
        (b"Subject: plain words\r\n\r\n", "WORDS", True),
        (b"Subject: plain words\r\n\r\n", "absent", False),
        # An encoded word hides the text from a byte search: read exactly.
        (b"Subject: =?utf-8?q?hidden_word?=\r\n\r\n", "hidden word", True),
        # U+017F LATIN SMALL LETTER LONG S casefolds to "s": non-ASCII is read exactly.
        ("Subject: \u017ftop\r\n\r\n".encode(), "STOP", True),
        # Folded lines are one value joined by CRLF (header_fields).
        (b"Subject: one\r\n two\r\n\r\n", "one\r\n two", True),
        (b"Subject: one\r\n two\r\n\r\n", "TWO", True),
        (b"Subject: ascii\r\n\r\n", "\u00e9", False),
    ],
)
def test_subject_search_skips_only_messages_that_cannot_match(
    raw: bytes, needle: str, found: bool
) -> None:
    assert matches({"key": "SUBJECT", "value": needle}, candidate(raw)) is found


# -- stored texts (migration 0016): SQL's exact answer must be the octets' answer ------------


def stored_answer(texts: dict[str, list[str]], key: str, needle: str) -> bool | None:
    """What the SQL of imap_search._stored_text_sql answers from the stored texts
    (``strpos`` of the folded needle); None where it defers to the octets."""
    member = STORED_KEYS[key]
    if member not in texts:
        return None
    return any(needle.casefold() in text for text in texts[member])


def needles(texts: list[str]) -> list[str]:
    """Texts a client could look for: pieces of what is there, in other cases, and misses."""
    found = ["", "zq-not-there", "\u00e9", "\r\n"]
    for text in texts:
        middle = len(text) // 2
        found += [text, text.upper(), text[middle : middle + 5], text[:3].title()]
    return found


def corpus_messages() -> list[Path]:
    return sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not corpus_messages(), reason=f"no shared corpus at {CORPUS}")
def test_stored_texts_answer_every_corpus_message_as_its_octets_do() -> None:
    compared = 0
    for path in corpus_messages():
        raw = path.read_bytes()
        texts = stored_texts(raw)
        for key, member in STORED_KEYS.items():
            for needle in needles(texts.get(member, [])):
                program = {"key": key, "value": needle}
                answer = stored_answer(texts, key, needle)
                if answer is not None:
                    assert answer is matches(program, candidate(raw)), (path.name, key, needle)
                    compared += 1
    assert compared > 10_000


_HEADER_TEXT = st.lists(
    st.sampled_from(
        [
            "a",
            "B",
            "\u00df",
            "\u017f",
            "=?utf-8?q?",
            "?=",
            "_",
            "=C3=A9",
            "<",
            ">",
            "@",
            ",",
            ";",
            ":",
            "(",
            ")",
            '"',
            " ",
            "\r\n ",
            "\x00",
            "\udcff",  # the octet 0xff, not UTF-8
        ]
    ),
    max_size=12,
).map("".join)


@given(
    subject=_HEADER_TEXT,
    sender=_HEADER_TEXT,
    needle=st.lists(
        st.sampled_from(["a", "b", "ss", "\u00e9", "s", "@", " ", "<"]), max_size=3
    ).map("".join),
)
@example(subject="=?utf-8?q?=C3=A9?=", sender="", needle="\u00c9")
@example(subject="Stra\u00dfe", sender="", needle="STRASSE")
def test_stored_texts_answer_generated_headers_as_the_octets_do(
    subject: str, sender: str, needle: str
) -> None:
    raw = f"Subject: {subject}\r\nFrom: {sender}\r\nCc: {subject}\r\n\r\nbody\r\n".encode(
        "utf-8", "surrogateescape"
    )
    texts = stored_texts(raw)
    for key in STORED_KEYS:
        answer = stored_answer(texts, key, needle)
        if answer is not None:
            assert answer is matches({"key": key, "value": needle}, candidate(raw))


def test_a_text_postgresql_cannot_hold_is_left_to_the_octets() -> None:
    texts = stored_texts(b"Subject: a\x00b\r\nTo: x@y.example\r\n\r\n")

    assert "subject" not in texts
    assert texts["to"] == ["x@y.example", "x@y.example"]
    assert texts["from"] == []


def test_a_repeated_subject_keeps_each_value() -> None:
    texts = stored_texts(b"Subject: One\r\nSubject: =?utf-8?q?T=C3=A9st?=\r\n\r\n")

    assert texts["subject"] == ["one", "t\u00e9st"]


@pytest.mark.parametrize(
    ("program", "keys"),
    [
        ({"key": "SUBJECT", "value": "x"}, ["subject"]),
        (
            {
                "key": "AND",
                "keys": [{"key": "UNSEEN"}, {"key": "NOT", "arg": {"key": "TO", "value": "x"}}],
            },
            ["to"],
        ),
        (
            {
                "key": "OR",
                "left": {"key": "FROM", "value": "x"},
                "right": {"key": "BCC", "value": ""},
            },
            ["bcc", "from"],
        ),
        (
            {
                "key": "AND",
                "keys": [{"key": "SUBJECT", "value": "x"}, {"key": "BODY", "value": "y"}],
            },
            None,
        ),
        (
            {
                "key": "OR",
                "left": {"key": "CC", "value": "x"},
                "right": {"key": "HEADER", "field": "a", "value": ""},
            },
            None,
        ),
        ({"key": "SENTON", "date": "2025-01-01"}, None),
    ],
)
def test_only_subject_and_address_keys_are_decided_by_the_stored_texts(
    program: dict[str, object], keys: list[str] | None
) -> None:
    assert stored_keys(program) == keys
