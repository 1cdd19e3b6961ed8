"""Envelope paths, ESMTP parameters and xtext (address.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtplib_common.address import (
    MAX_LOCAL_PART_OCTETS,
    MAX_PATH_OCTETS,
    AddressError,
    ParameterError,
    Path,
    parse_mailbox,
    parse_params,
    parse_path,
    split_path,
    xtext_decode,
    xtext_encode,
)


def reason(argument: str, **kwargs: bool) -> str:
    options = {"smtputf8": False, "allow_null": True, **kwargs}
    with pytest.raises(AddressError) as excinfo:
        parse_path(argument, **options)
    return excinfo.value.reason


# --- paths -------------------------------------------------------------------------


def test_path_in_angle_brackets_with_parameters() -> None:
    path = parse_path(
        "<alice@example.test> size=100 BODY=8BITMIME SMTPUTF8", smtputf8=False, allow_null=True
    )

    assert path == Path("alice@example.test", {"SIZE": "100", "BODY": "8BITMIME", "SMTPUTF8": None})
    assert not path.is_null


def test_null_path_is_allowed_only_where_asked() -> None:
    assert parse_path("<>", smtputf8=False, allow_null=True).is_null
    assert reason("<>", allow_null=False) == AddressError.SYNTAX


def test_path_without_angle_brackets_is_accepted() -> None:
    assert parse_path("alice@example.test SIZE=1", smtputf8=False, allow_null=False) == Path(
        "alice@example.test", {"SIZE": "1"}
    )


def test_space_before_the_path_is_tolerated() -> None:
    assert split_path(" <a@example.test>") == ("a@example.test", "")


@pytest.mark.parametrize(
    "argument",
    [
        "<a@example.test",
        "<a@example.test>junk",
        "<no-at-sign>",
        "<a@@b.test>",
        "<a@b..test>",
        "<@b.test>",
        "<a@-b.test>",
    ],
)
def test_malformed_paths_are_syntax_errors(argument: str) -> None:
    assert reason(argument) == AddressError.SYNTAX


@pytest.mark.parametrize(
    ("argument", "address"),
    [
        ('<"john doe"@example.test>', '"john doe"@example.test'),
        ('<"a>b"@example.test>', '"a>b"@example.test'),  # '>' inside quotes
        ('<"a\\"b"@example.test>', '"a\\"b"@example.test'),
        ("<a@[192.0.2.1]>", "a@[192.0.2.1]"),
        ("<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]"),
        ("<@hop1.test,@hop2.test:a@example.test>", "a@example.test"),  # source route dropped
        ("<a.b+tag@sub.example.test>", "a.b+tag@sub.example.test"),
    ],
)
def test_valid_mailboxes(argument: str, address: str) -> None:
    assert parse_path(argument, smtputf8=False, allow_null=False).address == address


@pytest.mark.parametrize("name", ["postmaster", "Postmaster", "POSTMASTER"])
def test_domainless_postmaster_is_accepted_only_where_asked(name: str) -> None:
    path = parse_path(f"<{name}>", smtputf8=False, allow_null=False, allow_postmaster=True)

    assert path.address == name
    assert reason(f"<{name}>", allow_postmaster=False) == AddressError.SYNTAX


# --- lengths (RFC 5321 §4.5.3.1) ---------------------------------------------------------


def test_local_part_of_64_octets_is_accepted_and_65_is_too_long() -> None:
    assert parse_mailbox("a" * 64 + "@example.test", smtputf8=False)
    with pytest.raises(AddressError) as excinfo:
        parse_mailbox("a" * 65 + "@example.test", smtputf8=False)
    assert excinfo.value.reason == AddressError.TOO_LONG


def test_local_part_length_is_counted_in_octets() -> None:
    two_octets = "\u00e9"  # é is two octets in UTF-8

    assert parse_mailbox(two_octets * 32 + "@example.test", smtputf8=True)
    with pytest.raises(AddressError) as excinfo:
        parse_mailbox(two_octets * 33 + "@example.test", smtputf8=True)
    assert excinfo.value.reason == AddressError.TOO_LONG


def test_path_of_256_octets_is_accepted_and_257_is_too_long() -> None:
    labels = ".".join(["b" * 63] * 5)  # labels of at most 63 octets (RFC 1035)
    fits = "a@" + labels[: MAX_PATH_OCTETS - len("<a@>")]
    assert len(f"<{fits}>") == MAX_PATH_OCTETS

    assert parse_mailbox(fits, smtputf8=False) == fits
    with pytest.raises(AddressError) as excinfo:
        parse_mailbox(fits + "d", smtputf8=False)
    assert excinfo.value.reason == AddressError.TOO_LONG


def test_max_local_part_constant_is_rfc_5321s() -> None:
    assert MAX_LOCAL_PART_OCTETS == 64


# --- internationalised addresses (RFC 6531 §3.3) --------------------------------------------


def test_non_ascii_needs_smtputf8() -> None:
    assert reason("<j\u00f6ran@example.test>") == AddressError.NON_ASCII
    assert reason("<a@b\u00fccher.test>") == AddressError.NON_ASCII


def test_non_ascii_is_accepted_with_smtputf8() -> None:
    path = parse_path("<\u7528\u6237@\u4f8b\u3048.test>", smtputf8=True, allow_null=False)

    assert path.address == "\u7528\u6237@\u4f8b\u3048.test"


def test_smtputf8_parameter_on_the_same_command_allows_non_ascii() -> None:
    path = parse_path("<j\u00f6ran@example.test> SMTPUTF8", smtputf8=False, allow_null=True)

    assert path.address == "j\u00f6ran@example.test"


# --- parameters ---------------------------------------------------------------------------


def test_parameter_keywords_are_case_insensitive_and_values_kept() -> None:
    assert parse_params(" size=10  Body=8bitmime x-flag") == {
        "SIZE": "10",
        "BODY": "8bitmime",
        "X-FLAG": None,
    }


@pytest.mark.parametrize(
    "text", ["=x", "SIZE=1 size=2", "A=b=c", "-LEADING-DASH", "K=", "K=\u00e9"]
)
def test_malformed_parameters_are_refused(text: str) -> None:
    with pytest.raises(ParameterError):
        parse_params(text)


# --- xtext (RFC 3461 §4) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [("alice+2Bsub@example.test", "alice+sub@example.test"), ("a+3Db", "a=b"), ("plain", "plain")],
)
def test_xtext_decode(encoded: str, decoded: str) -> None:
    assert xtext_decode(encoded) == decoded


@pytest.mark.parametrize("bad", ["a+2b", "a+G0", "a+", "a+2", "a=b", "a b", "\u00e9", "+C3"])
def test_invalid_xtext_is_refused(bad: str) -> None:
    with pytest.raises(ParameterError):
        xtext_decode(bad)


def test_xtext_encode_escapes_plus_equals_and_non_printables() -> None:
    assert xtext_encode("a+b=c d\x01") == "a+2Bb+3Dc+20d+01"


def test_xtext_of_non_ascii_round_trips() -> None:
    assert (
        xtext_decode(xtext_encode("j\u00f6ran@b\u00fccher.test")) == "j\u00f6ran@b\u00fccher.test"
    )


@given(st.text(max_size=50))
def test_xtext_round_trips_any_text(text: str) -> None:
    encoded = xtext_encode(text)

    assert all(33 <= ord(c) <= 126 and c != "=" for c in encoded)
    assert xtext_decode(encoded) == text
