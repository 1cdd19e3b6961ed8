"""Envelope paths, ESMTP parameters and xtext (address.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from libs.smtplib_common.tests.fuzzing import fuzz_settings
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


# --- fuzzing the command-argument parser (make fuzz runs it longer) -----------------

# Fragments of MAIL/RCPT arguments that matter to the grammar, plus the bytes
# that must never reach a Received: header or a downstream MTA.
_FRAGMENTS = st.sampled_from(
    [
        "<", ">", "@", ".", ",", ":", '"', "\\", " ", "=", "+", "[", "]",
        "alice", "example.test", "[192.0.2.1]", "[IPv6:2001:db8::1]", "@relay.test:",
        "postmaster", " SIZE=100", " BODY=8BITMIME", " SMTPUTF8", " AUTH=<>", " size=1",
        "\u00e9", "\u4e2d", "\x00", "\r", "\n", "\t", "\x7f", "a" * 64, "b" * 250,
    ]
)  # fmt: skip
_LOCAL = st.one_of(
    st.from_regex(
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*", fullmatch=True
    ),
    st.from_regex(r'"([\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"', fullmatch=True),
    st.just("\u00e9l\u00e8ve"),
)
_DOMAIN = st.sampled_from(
    ["example.test", "a-b.c", "[192.0.2.1]", "[IPv6:2001:db8::1]", "b\u00fccher.test"]
)
_PARAMS = st.lists(
    st.sampled_from([" SIZE=100", " BODY=8BITMIME", " SMTPUTF8", " AUTH=<>", " X-FOO=bar"]),
    max_size=3,
).map("".join)


@st.composite
def near_valid_arguments(draw: st.DrawFn) -> str:
    """A well-formed path with parameters, then a fragment or two put anywhere."""
    route = draw(st.sampled_from(["", "@relay.test:", "@a.test,@b.test:"]))
    text = f"<{route}{draw(_LOCAL)}@{draw(_DOMAIN)}>{draw(_PARAMS)}"
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:at] + draw(_FRAGMENTS) + text[at:]
    return text


ARGUMENTS = st.one_of(
    near_valid_arguments(), st.lists(_FRAGMENTS, max_size=16).map("".join), st.text(max_size=80)
)


@pytest.mark.fuzz
@fuzz_settings(300)
@given(argument=ARGUMENTS, smtputf8=st.booleans(), allow_null=st.booleans())
def test_parse_path_accepts_only_clean_paths_and_reparses_its_own_output(
    argument: str, smtputf8: bool, allow_null: bool
) -> None:
    """For any argument text: a syntax error of our own, or a path that is
    safe to copy into headers and that parses back to itself."""
    try:
        path = parse_path(argument, smtputf8=smtputf8, allow_null=allow_null, allow_postmaster=True)
    except (AddressError, ParameterError):
        event("refused")
        return
    event("parsed")
    address = path.address
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in address), address
    assert len(address.encode("utf-8")) + 2 <= MAX_PATH_OCTETS
    assert address.isascii() or smtputf8 or "SMTPUTF8" in path.params
    assert address or allow_null
    for key, value in path.params.items():
        assert re.fullmatch(r"[A-Z0-9][A-Z0-9-]*", key), key
        assert value is None or (value.isascii() and value.isprintable() and " " not in value)
    rendered = f"<{address}>" + "".join(
        f" {key}" if value is None else f" {key}={value}" for key, value in path.params.items()
    )
    again = parse_path(rendered, smtputf8=smtputf8, allow_null=allow_null, allow_postmaster=True)
    assert again == path
