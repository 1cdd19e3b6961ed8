"""Fuzz targets of the parser.

- On arbitrary bytes, and on mutations of real commands, framing and parsing raise
  nothing but the wire layer's own errors (WireError), each with a response.
- Generated commands, written out with the encoder's value functions the way a
  client would write them, parse back to the command they were written from.

A normal run tries a few hundred examples each; LOCALPOST_FUZZ_EXAMPLES=20000
makes a fuzzing session of it (``make fuzz`` runs every test marked ``fuzz``).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from imap_gateway.wire import commands as c
from imap_gateway.wire import encoder
from imap_gateway.wire.errors import WireError
from imap_gateway.wire.fetch import BodySection, FetchAtt, FetchItem, Section
from imap_gateway.wire.framing import RawCommand
from imap_gateway.wire.limits import WireLimits
from imap_gateway.wire.parser import parse_command
from imap_gateway.wire.search import (
    SearchAnd,
    SearchDate,
    SearchKey,
    SearchNot,
    SearchOr,
    SearchSet,
    SearchSimple,
    SearchText,
)
from imap_gateway.wire.sequence import SequenceSet
from libs.smtplib_common.tests.fuzzing import fuzz_settings

pytestmark = pytest.mark.fuzz

LIMITS = WireLimits(max_nesting_depth=16)

SEEDS = [
    b"a1 LOGIN {3}\r\nbob {4+}\r\npass\r\n",
    b"a2 UID FETCH 1:*,$ (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From)]<0.10>) (CHANGEDSINCE 1)\r\n",
    b"a3 SEARCH RETURN (MIN) CHARSET UTF-8 OR NOT (FROM x) UID 1:4 SINCE 1-Feb-2020\r\n",
    b'a4 APPEND INBOX (\\Seen) " 1-Jan-2020 00:00:00 +0000" ~{3}\r\n\x00\x01\x02\r\n',
    b'a5 LIST (SUBSCRIBED) "" ("*" %) RETURN (STATUS (MESSAGES))\r\n',
    b"a6 SELECT INBOX (QRESYNC (1 2 1:9 (1:3 4:6)))\r\n",
    b"a7 STORE 1 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Deleted)\r\n",
]


def parse_or_error(data: bytes) -> None:
    """Frame and parse ``data``; only WireError (with a status to answer) may come out."""
    caught: WireError | None = None
    try:
        raw = RawCommand.frame(data, LIMITS)
        parse_command(raw, limits=LIMITS)
        parse_command(raw, utf8=True, limits=LIMITS)
    except ValueError as error:
        if "ends before" in str(error):
            return  # incomplete: the reader would wait for more
        raise
    except WireError as error:
        caught = error
    if caught is not None:
        assert caught.status in ("BAD", "NO", "BYE")
        assert caught.text


@given(st.binary(max_size=400))
@fuzz_settings(300)
@example(b"a SEARCH " + b"NOT " * 100 + b"ALL\r\n")
@example(b"a FETCH 1 BODY[" + b"1." * 300 + b"1]\r\n")
@example(b"a LOGIN {99999999999999999999}\r\n")
def test_arbitrary_bytes(data: bytes) -> None:
    parse_or_error(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    seed = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(seed)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(
            st.sampled_from([b" ", b"(", b")", b"{1}\r\n", b'"', b"*", b"\\", b"0", b"\r\n"])
        )
        if op == "insert":
            seed[at:at] = piece
        elif op == "delete":
            del seed[at : at + draw(st.integers(1, 5))]
        else:
            seed[at : at + 1] = piece
    return bytes(seed)


@given(mutated())
@fuzz_settings(300)
def test_mutated_commands(data: bytes) -> None:
    parse_or_error(data)


# --- parse(encode(command)) == command ------------------------------------------------------

TAGS = st.from_regex(r"\A[A-Za-z0-9.]{1,8}\Z")
NAMES = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
TEXT = st.binary(max_size=40).map(lambda b: b.replace(b"\x00", b""))
SETS = st.lists(
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)), min_size=1, max_size=4
).map(lambda ranges: SequenceSet(tuple((a or 0, b or 0) for a, b in ranges)))
FLAGS = st.lists(st.sampled_from(["\\Seen", "\\Deleted", "$Junk", "kw", "\\Ext"]), max_size=4)


def leaf_keys() -> st.SearchStrategy[SearchKey]:
    return st.one_of(
        st.sampled_from(["ALL", "SEEN", "UNSEEN", "DRAFT"]).map(SearchSimple),
        st.builds(SearchText, st.sampled_from(["FROM", "SUBJECT", "BODY"]), TEXT),
        st.builds(SearchSet, SETS, st.booleans()),
        st.builds(SearchDate, st.sampled_from(["SINCE", "ON"]), st.dates(dt.date(1000, 1, 1))),
    )


SEARCH_KEYS = st.recursive(
    leaf_keys(),
    lambda inner: st.one_of(
        st.builds(SearchNot, inner),
        st.builds(SearchOr, inner, inner),
        st.lists(inner, min_size=2, max_size=3).map(lambda keys: SearchAnd(tuple(keys))),
    ),
    max_leaves=6,
)


def write_key(key: SearchKey) -> bytes:
    """A search key as a client writes it (the inverse of parse_search_key)."""
    if isinstance(key, SearchSimple):
        return key.name.encode()
    if isinstance(key, SearchText):
        return key.name.encode() + b" " + encoder.astring(key.value, utf8=False)
    if isinstance(key, SearchSet):
        return (b"UID " if key.uid else b"") + key.sequence_set.encode()
    if isinstance(key, SearchDate):
        d = key.date
        return f"{key.name} {d.day}-{d.strftime('%b')}-{d.year:04d}".encode()
    if isinstance(key, SearchNot):
        return b"NOT " + write_key(key.key)
    if isinstance(key, SearchOr):
        return b"OR " + write_key(key.left) + b" " + write_key(key.right)
    assert isinstance(key, SearchAnd)
    return b"(" + b" ".join(write_key(k) for k in key.keys) + b")"


FETCH_ITEMS: st.SearchStrategy[list[FetchItem]] = st.lists(
    st.one_of(
        st.sampled_from(["FLAGS", "UID", "ENVELOPE", "RFC822.SIZE", "MODSEQ"]).map(FetchAtt),
        st.builds(
            BodySection,
            st.builds(Section, st.lists(st.integers(1, 9), max_size=3).map(tuple)),
            st.booleans(),
        ),
    ),
    min_size=1,
    max_size=4,
)


def write_fetch_item(item: FetchItem) -> bytes:
    if isinstance(item, FetchAtt):
        return item.name.encode()
    assert isinstance(item, BodySection)
    part = ".".join(str(n) for n in item.section.part).encode()
    return (b"BODY.PEEK[" if item.peek else b"BODY[") + part + b"]"


@st.composite
def commands(draw: st.DrawFn) -> tuple[bytes, c.Command]:
    tag = draw(TAGS)
    kind = draw(st.sampled_from(["login", "select", "fetch", "store", "copy", "search"]))
    head = tag.encode() + b" "
    if kind == "login":
        user, password = draw(TEXT), draw(TEXT)
        wire = b"LOGIN " + encoder.astring(user) + b" " + encoder.astring(password)
        return head + wire, c.Login(tag, user, password)
    if kind == "select":
        name = draw(NAMES)
        name = "INBOX" if name.upper() == "INBOX" else name
        return head + b"SELECT " + encoder.mailbox(name, utf8=False), c.Select(tag, name)
    sequence_set, uid = draw(SETS), draw(st.booleans())
    prefix = head + (b"UID " if uid else b"")
    if kind == "fetch":
        items = draw(FETCH_ITEMS)
        wire = b"FETCH " + sequence_set.encode() + b" "
        wire += encoder.paren_list(write_fetch_item(i) for i in items)
        return prefix + wire, c.Fetch(tag, sequence_set, tuple(items), uid)
    if kind == "store":
        flags = draw(FLAGS)
        wire = b"STORE " + sequence_set.encode() + b" +FLAGS " + encoder.flag_list(flags)
        return prefix + wire, c.Store(tag, sequence_set, c.StoreMode.ADD, tuple(flags), uid=uid)
    if kind == "copy":
        name = draw(NAMES)
        name = "INBOX" if name.upper() == "INBOX" else name
        wire = b"COPY " + sequence_set.encode() + b" " + encoder.mailbox(name, utf8=False)
        return prefix + wire, c.Copy(tag, sequence_set, name, uid)
    key = draw(SEARCH_KEYS)
    wire = b"SEARCH " + write_key(key)
    if isinstance(key, SearchAnd):  # the top level needs no parentheses
        wire = b"SEARCH " + b" ".join(write_key(k) for k in key.keys)
    return prefix + wire, c.Search(tag, key, uid)


@given(commands())
@fuzz_settings(300)
def test_generated_commands_parse_back(case: tuple[bytes, c.Command]) -> None:
    wire, command = case
    assert parse_command(RawCommand.frame(wire + b"\r\n"), limits=LIMITS) == command
