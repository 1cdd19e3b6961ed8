from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailstore.errors import InvalidSearch
from mailstore.search import (
    SearchFilter,
    parse_search,
    prefixed_tsquery,
    relaxed_tsquery,
    split_cjk,
    tsquery_lexemes,
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
    assert result.folder == "all"
    assert result.text is None


def test_default_search_leaves_out_trash() -> None:
    assert parse_search("x").folder is None
    assert parse_search("x in:f12").folder == "f12"


def test_unknown_prefixes_and_phrases_stay_free_text() -> None:
    result = parse_search('re:lunch "exact phrase" -spam')

    assert result.text == 're:lunch "exact phrase" -spam'


@pytest.mark.parametrize(
    "query", ["before:yesterday", "after:2025-13-01", "has:pictures", "is:starred", "in:Spam!"]
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
    ("text", "rest", "runs"),
    [
        ("日本語", "", ("日本語",)),
        ("invoice 日本語 請求書", "invoice", ("日本語", "請求書")),
        ("한국어 메일", "", ("한국어", "메일")),
        ('"日本語" -スパム report', "report", ("日本語", "スパム")),
        ("日本語 日本語", "", ("日本語",)),
        ("Привет мир", "Привет мир", ()),
    ],
)
def test_cjk_runs_leave_the_free_text(text: str, rest: str, runs: tuple[str, ...]) -> None:
    assert split_cjk(text) == (rest, runs)


def test_a_cjk_only_query_has_no_free_text() -> None:
    result = parse_search("from:tanaka 日本語")

    assert result.text is None
    assert result.cjk_terms == ("日本語",)
    assert result.from_terms == ("tanaka",)


def test_filename_is_an_operator() -> None:
    result = parse_search('filename:"Q3 report.pdf" budget')

    assert result.filename_terms == ("q3 report.pdf",)
    assert result.text == "budget"


@pytest.mark.parametrize(
    ("tsquery", "stems", "prefixed"),
    [
        ("'invoice'", {"invoice": "invoic"}, "'invoic':*"),
        ("'invoices'", {"invoices": "invoic"}, "'invoic':*"),
        ("'happy'", {"happy": "happi"}, "( 'happy':* | 'happi':* )"),
        ("'at' & 'noon'", {"noon": "noon"}, "'at' & 'noon':*"),
        ("'the'", {}, "'the':*"),  # a stop word has no stem: the word itself
        ("'ask' <-> 'kind'", {}, "'ask':* <-> 'kind':*"),
        ("!'spam'", {}, "!'spam':*"),
        ("'o''brien'", {}, "'o''brien':*"),
        ("'ab' & 'runs'", {"runs": "run"}, "'ab' & 'run':*"),
        ("'news'", {"news": "ne"}, "'news':*"),  # a stem under 3 characters is not used
    ],
)
def test_words_become_prefixes_of_themselves_or_their_stems(
    tsquery: str, stems: dict[str, str], prefixed: str
) -> None:
    assert prefixed_tsquery(tsquery, stems) == prefixed
    assert tsquery_lexemes("'o''brien' & 'x'") == ["o'brien", "x"]
