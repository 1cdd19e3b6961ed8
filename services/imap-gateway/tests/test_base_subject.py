"""The base subject of RFC 5256 §2.1 and the RFC 2047 decoding before it."""

from __future__ import annotations

import pytest

from imap_gateway.base_subject import base_subject, casemap, decode_words


@pytest.mark.parametrize(
    ("subject", "base", "reply_or_forward"),
    [
        ("Hello", "Hello", False),
        ("Re: Hello", "Hello", True),
        ("RE: Hello", "Hello", True),
        ("re:Hello", "Hello", True),
        ("Fw: Hello", "Hello", True),
        ("FWD: Hello", "Hello", True),
        ("Re : Hello", "Hello", True),  # *WSP before ":"
        ("Re: Re: Re: Hello", "Hello", True),
        ("Re[2]: Hello", "Hello", True),  # subj-refwd's own blob
        ("Re [2]: Hello", "Hello", True),
        ("[list] Re: Hello", "Hello", True),  # subj-leader = *subj-blob subj-refwd
        ("[list] [tag] Re: Hello", "Hello", True),
        ("[list] Hello", "Hello", False),  # step 4: a leading blob alone
        ("[list]", "[list]", False),  # step 4: not when nothing would remain
        ("[list]   ", "[list]", False),
        ("Re: [list]", "[list]", True),
        ("Hello (fwd)", "Hello", True),  # step 2
        ("Hello (FWD) (fwd)  ", "Hello", True),
        ("Hello(fwd)", "Hello", True),
        ("[Fwd: Hello]", "Hello", False),  # step 6
        ("[fwd: Re: Hello]", "Hello", True),
        ("Re: [fwd: Re: subj] (fwd)", "subj", True),
        ("[fwd: [fwd: Hello (fwd)]]", "Hello", True),
        ("[fwd: Hello", "[fwd: Hello", False),  # no closing "]": not a subj-fwd
        ("  Hello   world  ", "Hello world", False),  # step 1
        ("Hello\r\n\tworld", "Hello world", False),  # a continuation and a tab
        ("Reply: Hello", "Reply: Hello", False),  # "re" must be followed by ":"
        ("Fwdx: Hello", "Fwdx: Hello", False),
        ("Re: ", "", True),
        ("", "", False),
        ("[a[b]c] Hello", "[a[b]c] Hello", False),  # BLOBCHAR excludes "[" and "]"
        ("[ü] Hello", "[ü] Hello", False),  # and 8-bit octets
        ("Re: Hello Re: again", "Hello Re: again", True),  # only prefixes
    ],
)
def test_base_subject_follows_rfc_5256_section_2_1(
    subject: str, base: str, reply_or_forward: bool
) -> None:
    found = base_subject(subject)

    assert (found.text, found.reply_or_forward) == (base, reply_or_forward)


def test_encoded_words_are_decoded_before_the_extraction() -> None:
    subject = decode_words(b"=?utf-8?q?Re=3A_Gr=C3=BC=C3=9Fe?=")

    assert subject == "Re: Grüße"
    assert base_subject(subject).text == "Grüße"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"=?iso-8859-1?q?caf=E9?=", "café"),
        (b"=?UTF-8?B?w6l0w6k=?=", "été"),
        (b"=?UTF-8?B?w6l0w6k?=", "été"),  # padding missing
        (b"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # RFC 2047 §6.2: space between words goes
        (b"=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab"),
        (b"x =?utf-8?q?a?= y", "x a y"),
        (b"=?utf-8*en?q?hi?=", "hi"),  # RFC 2231 §5 language
        (b"=?x-unknown?q?h=C3=AF?=", "hï"),  # an unknown charset: read as UTF-8
        (b"=?utf-8?b?###?=", "=?utf-8?b?###?="),  # broken: kept as sent
        (b"caf\xc3\xa9", "café"),  # raw UTF-8
    ],
)
def test_decode_words(raw: bytes, text: str) -> None:
    assert decode_words(raw) == text


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("abcXYZ", b"ABCXYZ"),
        ("é", "E\u0301".encode()),  # titlecase, then the canonical decomposition
        ("Ä", "A\u0308".encode()),
        ("ﬁ", b"FI"),  # a compatibility decomposition counts too
        ("ß", "ß".encode()),  # only a SpecialCasing titlecase ("Ss"): kept
        ("한", "한".encode()),  # Hangul syllables are not in UnicodeData's mappings
        ("ǆ", b"DZ\xcc\x8c"),  # titlecase "ǅ", then its compatibility decomposition
    ],
)
def test_casemap_is_i_unicode_casemap(text: str, key: bytes) -> None:
    assert casemap(text) == key


def test_casemap_orders_ascii_as_i_ascii_casemap() -> None:
    assert casemap("a") < casemap("[")  # as "A" (0x41); unfolded "a" (0x61) sorts after "["
    assert casemap("Säying") > casemap("Saying")
