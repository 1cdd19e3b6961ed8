from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailstore.errors import InvalidSearch
from mailstore.search import (
    DEFAULT_FOLDERS,
    SearchFilter,
    may_hold_a_phrase,
    parse_search,
    relaxed_tsquery,
)


def test_plain_words_are_free_text() -> None:
    assert parse_search("quarterly report") == SearchFilter(text="quarterly report")


def test_empty_query_filters_nothing() -> None:
    assert parse_search("  ") == SearchFilter()


def test_operators_are_extracted_and_lowercased() -> None:
    result = parse_search('from:Alice to:bob@x.test subject:"Big News" budget has:attachment')

    assert result.text == "budget"
    assert result.from_terms == ("alice",)
    assert result.to_terms == ("bob@x.test",)
    assert result.subject_terms == ("big news",)
    assert result.has_attachment is True


def test_flags_dates_and_folders() -> None:
    result = parse_search("is:unread before:2025-02-01 after:2025-01-01 in:all")

    assert result.read is False
    assert result.before == datetime(2025, 2, 1, tzinfo=UTC)
    assert result.after == datetime(2025, 1, 1, tzinfo=UTC)
    assert result.folders == ("inbox", "sent", "trash")
    assert result.text is None


def test_default_search_leaves_out_trash() -> None:
    assert parse_search("x").folders == DEFAULT_FOLDERS


def test_unknown_prefixes_and_phrases_stay_free_text() -> None:
    result = parse_search('re:lunch "exact phrase" -spam')

    assert result.text == 're:lunch "exact phrase" -spam'


@pytest.mark.parametrize(
    "query", ["before:yesterday", "after:2025-13-01", "has:pictures", "is:starred", "in:spam"]
)
def test_unusable_operator_values_are_errors_naming_q(query: str) -> None:
    with pytest.raises(InvalidSearch) as excinfo:
        parse_search(query)

    assert set(excinfo.value.fields) == {"q"}


def test_overlong_query_is_refused() -> None:
    with pytest.raises(InvalidSearch):
        parse_search("x" * 1001)


@pytest.mark.parametrize(
    ("tsquery", "relaxed"),
    [
        # websearch_to_tsquery('simple', ...)::text of '"ask kind"', '"a b c" d', 'x or "y z"'
        ("'ask' <-> 'kind'", "'ask' & 'kind'"),
        ("'a' <-> 'b' <-> 'c' & 'd'", "'a' & 'b' & 'c' & 'd'"),
        ("'x' | 'y' <-> 'z'", "'x' | 'y' & 'z'"),
        ("( 'a' <2> 'b' ) & 'c'", "( 'a' & 'b' ) & 'c'"),
        # Quoted lexemes are left alone, whatever they hold.
        ("'it''s' <-> 'a<->b'", "'it''s' & 'a<->b'"),
        ("'pre':* <-> 'fix':AB", "'pre':* & 'fix':AB"),
        # Nothing to relax, or relaxing could leave matches out.
        ("'ask' & 'kind'", None),
        ("'a'", None),
        ("", None),
        ("'a' <-> 'b' & !'c'", None),
        ("!( 'a' <-> 'b' )", None),
        ("'a' <-> 'b' ??", None),
    ],
)
def test_a_phrase_relaxes_to_an_and_of_its_words(tsquery: str, relaxed: str | None) -> None:
    assert relaxed_tsquery(tsquery) == relaxed


# What websearch_to_tsquery('simple', ...) makes of each (checked on PostgreSQL 15).
@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("other", False),  # 'other'
        ("abc123 xyz", False),  # 'abc123' & 'xyz'
        ("  Привет мир ", False),  # 'привет' & 'мир'
        ("naïve café", False),
        ("x or y", False),  # 'x' | 'y'
        ('"ask kind"', True),  # 'ask' <-> 'kind'
        ("e-mail", True),  # 'e-mail' <-> 'e' <-> 'mail'
        ("o'brien", True),  # 'o' <-> 'brien'
        ("foo_bar", True),  # 'foo' <-> 'bar'
        ("-spam eggs", True),  # asked, though a negation is never relaxed
        ("foo.bar", True),  # 'foo.bar': asked, nothing to relax
    ],
)
def test_only_words_of_letters_and_digits_skip_asking_for_the_tsquery(
    text: str, phrase: bool
) -> None:
    assert may_hold_a_phrase(text) is phrase
