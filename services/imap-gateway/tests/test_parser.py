"""Table tests of every command grammar: valid commands and the exact error of invalid ones."""

from __future__ import annotations

import datetime as dt

import pytest

from imap_gateway.wire import commands as c
from imap_gateway.wire import flags
from imap_gateway.wire.errors import InvalidMailboxName, NestingTooDeep, ParseError, UnknownCommand
from imap_gateway.wire.fetch import (
    BinarySection,
    BodySection,
    FetchAtt,
    Section,
)
from imap_gateway.wire.framing import RawCommand
from imap_gateway.wire.limits import WireLimits
from imap_gateway.wire.mailbox_names import NO_MAILBOX
from imap_gateway.wire.parser import is_done, parse_command
from imap_gateway.wire.search import (
    SearchAge,
    SearchAnd,
    SearchDate,
    SearchHeader,
    SearchKeyword,
    SearchModSeq,
    SearchNot,
    SearchOr,
    SearchSet,
    SearchSimple,
    SearchSize,
    SearchText,
    SortCriterion,
)
from imap_gateway.wire.sequence import STAR, SequenceSet


def parse(data: bytes, *, utf8: bool = False) -> c.Command:
    return parse_command(RawCommand.frame(data + b"\r\n"), utf8=utf8)


def seq(text: str) -> SequenceSet:
    return SequenceSet.parse(text)


ALL = SearchSimple("ALL")
PLUS7 = dt.timezone(dt.timedelta(hours=-7))

VALID: list[tuple[bytes, c.Command]] = [
    (b"a CAPABILITY", c.Capability("a")),
    (b"a noop", c.Noop("a")),
    (b"a LOGOUT", c.Logout("a")),
    (b"a STARTTLS", c.StartTLS("a")),
    (b"a ID NIL", c.Id("a", None)),
    (b'a ID ("name" "x" "os" NIL)', c.Id("a", ((b"name", b"x"), (b"os", None)))),
    (b"a ID ()", c.Id("a", ())),
    (b"a AUTHENTICATE plain", c.Authenticate("a", "PLAIN")),
    (b"a AUTHENTICATE PLAIN =", c.Authenticate("a", "PLAIN", b"")),
    (b"a AUTHENTICATE PLAIN AGJvYgBwdw==", c.Authenticate("a", "PLAIN", b"\0bob\0pw")),
    (b"a LOGIN bob secret", c.Login("a", b"bob", b"secret")),
    (b'a LOGIN "b\\"o\\\\b" {2}\r\npw', c.Login("a", b'b"o\\b', b"pw")),
    (b"a LOGIN bob {2+}\r\npw", c.Login("a", b"bob", b"pw")),
    (b"a ENABLE condstore utf8=accept", c.Enable("a", ("CONDSTORE", "UTF8=ACCEPT"))),
    (b"a SELECT inbox", c.Select("a", "INBOX")),
    (b"a EXAMINE Drafts", c.Select("a", "Drafts", read_only=True)),
    (b"a SELECT INBOX (CONDSTORE)", c.Select("a", "INBOX", condstore=True)),
    (
        b"a SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))",
        c.Select(
            "a", "INBOX", qresync=c.QResync(67890007, 90060115194045000, seq("41:211,214:541"))
        ),
    ),
    (
        b"a SELECT INBOX (QRESYNC (1 2 (1:3 7:9)))",
        c.Select("a", "INBOX", qresync=c.QResync(1, 2, None, (seq("1:3"), seq("7:9")))),
    ),
    (
        b"a SELECT INBOX (QRESYNC (1 2 1:* (1 7)))",
        c.Select("a", "INBOX", qresync=c.QResync(1, 2, seq("1:*"), (seq("1"), seq("7")))),
    ),
    (b"a CREATE Archive/2024", c.Create("a", "Archive/2024")),
    (b"a CREATE Spam (USE (\\junk))", c.Create("a", "Spam", ("\\Junk",))),
    (b"a DELETE x", c.Delete("a", "x")),
    (b"a RENAME x y", c.Rename("a", "x", "y")),
    (b"a SUBSCRIBE x", c.Subscribe("a", "x")),
    (b"a UNSUBSCRIBE x", c.Unsubscribe("a", "x")),
    (b'a LIST "" *', c.List("a", "", ("*",))),
    (b"a LIST ~smith/Mail/ %", c.List("a", "~smith/Mail/", ("%",))),
    (
        b'a LIST (SUBSCRIBED SPECIAL-USE) "" ("INBOX" "Sent/%") '
        b"RETURN (CHILDREN STATUS (MESSAGES))",
        c.List(
            "a",
            "",
            ("INBOX", "Sent/%"),
            ("SUBSCRIBED", "SPECIAL-USE"),
            ("CHILDREN",),
            ("MESSAGES",),
        ),
    ),
    (b'a LIST "" % RETURN ()', c.List("a", "", ("%",))),
    (b'a LSUB "" *', c.Lsub("a", "", "*")),
    (b"a NAMESPACE", c.Namespace("a")),
    (
        b"a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE)",
        c.Status("a", "INBOX", ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE")),
    ),
    (
        b"a STATUS x (highestmodseq APPENDLIMIT recent)",
        c.Status("a", "x", ("HIGHESTMODSEQ", "APPENDLIMIT", "RECENT")),
    ),
    (b"a APPEND x {3}\r\nabc", c.Append("a", "x", (c.AppendMessage(b"abc"),))),
    (
        b'a APPEND x (\\Seen foo) "14-Jul-2024 02:44:25 -0700" {1}\r\nm',
        c.Append(
            "a",
            "x",
            (
                c.AppendMessage(
                    b"m", ("\\Seen", "foo"), dt.datetime(2024, 7, 14, 2, 44, 25, tzinfo=PLUS7)
                ),
            ),
        ),
    ),
    (
        b"a APPEND x () {1}\r\nm ~{2}\r\n\0\1 UTF8 (~{1}\r\nu)",
        c.Append(
            "a",
            "x",
            (
                c.AppendMessage(b"m"),
                c.AppendMessage(b"\0\1", binary=True),
                c.AppendMessage(b"u", binary=True, utf8=True),
            ),
        ),
    ),
    (b"a IDLE", c.Idle("a")),
    (b"a CHECK", c.Check("a")),
    (b"a CLOSE", c.Close("a")),
    (b"a UNSELECT", c.Unselect("a")),
    (b"a EXPUNGE", c.Expunge("a")),
    (b"a UID EXPUNGE 3:5,9", c.Expunge("a", seq("3:5,9"))),
    (b"a FETCH 1 FLAGS", c.Fetch("a", seq("1"), (FetchAtt("FLAGS"),))),
    (
        b"a FETCH 1:* FAST",
        c.Fetch(
            "a", seq("1:*"), (FetchAtt("FLAGS"), FetchAtt("INTERNALDATE"), FetchAtt("RFC822.SIZE"))
        ),
    ),
    (
        b"a FETCH 2 (uid rfc822.size RFC822 RFC822.HEADER RFC822.TEXT ENVELOPE BODY BODYSTRUCTURE)",
        c.Fetch(
            "a",
            seq("2"),
            tuple(
                FetchAtt(n)
                for n in (
                    "UID",
                    "RFC822.SIZE",
                    "RFC822",
                    "RFC822.HEADER",
                    "RFC822.TEXT",
                    "ENVELOPE",
                    "BODY",
                    "BODYSTRUCTURE",
                )
            ),
        ),
    ),
    (
        b"a FETCH $ (BODY[] BODY.PEEK[1.2.HEADER]<10.20> BODY[3.MIME] BODY[TEXT] BODY[4])",
        c.Fetch(
            "a",
            SequenceSet(saved=True),
            (
                BodySection(),
                BodySection(Section((1, 2), "HEADER"), peek=True, partial=(10, 20)),
                BodySection(Section((3,), "MIME")),
                BodySection(Section((), "TEXT")),
                BodySection(Section((4,))),
            ),
        ),
    ),
    (
        b"a FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (Received X-Spam)]",
        c.Fetch(
            "a",
            seq("1"),
            (BodySection(Section((), "HEADER.FIELDS.NOT", ("Received", "X-Spam")), peek=True),),
        ),
    ),
    (
        b"a FETCH 1 (BINARY[1] BINARY.PEEK[]<0.5> BINARY.SIZE[2.1])",
        c.Fetch(
            "a",
            seq("1"),
            (
                BinarySection((1,)),
                BinarySection((), peek=True, partial=(0, 5)),
                BinarySection((2, 1), size_only=True),
            ),
        ),
    ),
    (
        b"a UID FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 12345 VANISHED)",
        c.Fetch(
            "a",
            seq("1:*"),
            (FetchAtt("FLAGS"), FetchAtt("MODSEQ")),
            uid=True,
            changed_since=12345,
            vanished=True,
        ),
    ),
    (
        b"a STORE 2:4 +FLAGS (\\Deleted)",
        c.Store("a", seq("2:4"), c.StoreMode.ADD, ("\\Deleted",)),
    ),
    (
        b"a STORE 1 -FLAGS.SILENT \\seen $Junk",
        c.Store("a", seq("1"), c.StoreMode.REMOVE, ("\\Seen", "$Junk"), silent=True),
    ),
    (
        b"a UID STORE 7 (UNCHANGEDSINCE 0) FLAGS ()",
        c.Store("a", seq("7"), c.StoreMode.REPLACE, (), uid=True, unchanged_since=0),
    ),
    (b"a COPY 1:3 Trash", c.Copy("a", seq("1:3"), "Trash")),
    (b"a UID MOVE 4:* Archive", c.Move("a", seq("4:*"), "Archive", uid=True)),
    (b"a SEARCH ALL", c.Search("a", ALL)),
    (b"a UID SEARCH CHARSET utf-8 ALL", c.Search("a", ALL, uid=True, charset="UTF-8")),
    (b"a SEARCH RETURN () ALL", c.Search("a", ALL, return_options=())),
    (
        b"a SEARCH RETURN (MIN MAX COUNT ALL SAVE) UNSEEN",
        c.Search(
            "a", SearchSimple("UNSEEN"), return_options=("MIN", "MAX", "COUNT", "ALL", "SAVE")
        ),
    ),
    (
        b"a SEARCH OR (FROM a TO b) NOT (DELETED) 2:4,* UID $",
        c.Search(
            "a",
            SearchAnd(
                (
                    SearchOr(
                        SearchAnd((SearchText("FROM", b"a"), SearchText("TO", b"b"))),
                        SearchNot(SearchSimple("DELETED")),
                    ),
                    SearchSet(seq("2:4,*")),
                    SearchSet(SequenceSet(saved=True), uid=True),
                )
            ),
        ),
    ),
    (
        b'a SEARCH SINCE 1-Feb-1994 BEFORE "10-Mar-2024" SENTON 5-jan-2000 LARGER 100 SMALLER 9',
        c.Search(
            "a",
            SearchAnd(
                (
                    SearchDate("SINCE", dt.date(1994, 2, 1)),
                    SearchDate("BEFORE", dt.date(2024, 3, 10)),
                    SearchDate("SENTON", dt.date(2000, 1, 5)),
                    SearchSize("LARGER", 100),
                    SearchSize("SMALLER", 9),
                )
            ),
        ),
    ),
    (
        b"a SEARCH KEYWORD $Forwarded UNKEYWORD x HEADER List-Id {3}\r\nfoo YOUNGER 60",
        c.Search(
            "a",
            SearchAnd(
                (
                    SearchKeyword("KEYWORD", "$Forwarded"),
                    SearchKeyword("UNKEYWORD", "x"),
                    SearchHeader("List-Id", b"foo"),
                    SearchAge("YOUNGER", 60),
                )
            ),
        ),
    ),
    (
        b'a SEARCH MODSEQ "/flags/\\\\draft" all 620162338',
        c.Search("a", SearchModSeq(620162338, (b"/flags/\\draft", "ALL"))),
    ),
    (b"a SEARCH MODSEQ 0", c.Search("a", SearchModSeq(0))),
    (
        b"a SORT (REVERSE ARRIVAL size) US-ASCII ALL",
        c.Sort("a", (SortCriterion("ARRIVAL", True), SortCriterion("SIZE")), "US-ASCII", ALL),
    ),
    (
        b"a UID THREAD references UTF-8 SINCE 1-Jan-2020",
        c.Thread("a", "REFERENCES", "UTF-8", SearchDate("SINCE", dt.date(2020, 1, 1)), uid=True),
    ),
]


@pytest.mark.parametrize(("data", "expected"), VALID, ids=[v[0][:40].decode() for v in VALID])
def test_valid_command(data: bytes, expected: c.Command) -> None:
    assert parse(data) == expected


INVALID: list[tuple[bytes, type[ParseError], str]] = [
    (b"+1 NOOP", ParseError, "tag expected at octet 0"),
    (b"a", ParseError, "SP expected at octet 1"),
    (b"a  NOOP", ParseError, "command name expected at octet 2"),
    (b"a FROB", UnknownCommand, "unknown command FROB"),
    (b"a UID NOOP", UnknownCommand, "unknown command UID NOOP"),
    (b"a NOOP x", ParseError, "end of command expected at octet 6"),
    (b"a LOGIN bob", ParseError, "SP expected at octet 11"),
    (b"a LOGIN bob (pw)", ParseError, "string expected at octet 12"),
    (b'a LOGIN bob "p\xffw"', ParseError, "UTF-8 in quoted string expected at octet 12"),
    (b"a LOGIN bob {2}\r\n\0x", ParseError, "literal without NUL (use literal8) expected"),
    (b"a ID (~{2}\r\nxx NIL)", ParseError, "string (literal8 is for APPEND only) expected"),
    (b"a AUTHENTICATE PLAIN !!", ParseError, "base64 initial response expected"),
    (b"a SELECT", ParseError, "SP expected at octet 8"),
    (b"a SELECT x (FOO)", ParseError, "CONDSTORE or QRESYNC expected"),
    (
        b"a SELECT x (QRESYNC (0 1))",
        ParseError,
        "non-zero number up to 4294967295 expected at octet 21",
    ),
    (b"a CREATE x (USE (\\Bogus))", ParseError, "special-use attribute"),
    (b"a STATUS x (MESSAGES BOGUS)", ParseError, "status item"),
    (b"a STATUS x ()", ParseError, "status item expected at octet 12"),
    (b"a APPEND x", ParseError, "message literal expected at octet 10"),
    (b'a APPEND x "x"', ParseError, 'date-time ("dd-Mon-yyyy hh:mm:ss +zzzz") expected'),
    (b'a APPEND x "31-Feb-2024 00:00:00 +0000" {1}\r\nm', ParseError, "valid date-time"),
    (b"a FETCH 0 FLAGS", ParseError, "non-zero number up to 4294967295 expected at octet 8"),
    (b"a FETCH 4294967296 FLAGS", ParseError, "non-zero number up to 4294967295 expected"),
    (b"a FETCH 1 FLAGSX", ParseError, "fetch attribute expected at octet 10"),
    (b"a FETCH 1 ()", ParseError, "fetch attribute expected at octet 11"),
    (b"a FETCH 1 (FLAGS", ParseError, "SP or ')' expected at octet 16"),
    (b"a FETCH 1 BODY[MIME]", ParseError, "HEADER, HEADER.FIELDS, TEXT expected at octet 15"),
    (b"a FETCH 1 BODY[1.FOO]", ParseError, "HEADER, HEADER.FIELDS, TEXT or MIME expected"),
    (b"a FETCH 1 BODY[HEADER.FIELDS ()]", ParseError, "header field name expected"),
    (b"a FETCH 1 BODY.PEEK", ParseError, "[section] after BODY.PEEK expected"),
    (b"a FETCH 1 BODY[]<0.0>", ParseError, "non-zero number up to"),
    (b"a FETCH 1 FLAGS (VANISHED)", ParseError, "VANISHED only in UID FETCH"),
    (b"a UID FETCH 1 FLAGS (VANISHED)", ParseError, "VANISHED only in UID FETCH"),
    (b"a STORE 1 FLAG (x)", ParseError, "FLAGS, +FLAGS or -FLAGS expected"),
    (b"a STORE 1 +FLAGS.LOUD x", ParseError, "FLAGS or FLAGS.SILENT expected"),
    (b"a STORE 1 FLAGS (\\)", ParseError, "flag name after \\ expected"),
    (b"a COPY 1", ParseError, "SP expected at octet 8"),
    (b"a COPY 1: x", ParseError, "sequence set expected at octet 9"),
    (b"a SEARCH", ParseError, "SP expected at octet 8"),
    (b"a SEARCH FROB", ParseError, "search key expected at octet 9"),
    (b"a SEARCH NOT", ParseError, "SP expected at octet 12"),
    (b"a SEARCH SINCE 1-Foo-2020", ParseError, "month name (Jan ... Dec) expected"),
    (b"a SEARCH RETURN (PARTIAL) ALL", ParseError, "MIN, MAX, ALL, COUNT or SAVE expected"),
    (b"a SEARCH HEADER a:b x", ParseError, "header field name expected"),
    (b"a SORT (BOGUS) UTF-8 ALL", ParseError, "sort key"),
    (b"a SORT (DATE) ALL", ParseError, "SP expected"),
    (b"a ENABLE", ParseError, "SP expected at octet 8"),
]


@pytest.mark.parametrize(
    ("data", "error", "text"), INVALID, ids=[v[0][:40].decode("latin-1") for v in INVALID]
)
def test_invalid_command(data: bytes, error: type[ParseError], text: str) -> None:
    with pytest.raises(error) as info:
        parse(data)
    assert type(info.value) is error
    assert text in info.value.text
    assert info.value.tag == (None if data.startswith(b"+") else "a")
    assert info.value.status == "BAD"


@pytest.mark.parametrize(
    "data", [b"a SELECT &Jjo", b'a CREATE "x&\'+,-"', b"a LIST &Jjo *", b"a STATUS &- (MESSAGES)"]
)
def test_a_name_not_in_modified_utf7_is_no_cannot_not_bad(data: bytes) -> None:
    """RFC 9051 §9: ``mailbox`` is any astring, so an undecodable name is not a syntax
    error (imaptest's ``atoms`` expects NO); RFC 5530 CANNOT."""
    if data.endswith(b"(MESSAGES)"):
        assert parse(data) == c.Status("a", "&", ("MESSAGES",))
        return
    with pytest.raises(InvalidMailboxName) as info:
        parse(data)
    assert (info.value.status, info.value.code, info.value.tag) == ("NO", "CANNOT", "a")


def test_a_list_pattern_not_in_modified_utf7_matches_nothing() -> None:
    assert parse(b'a LIST "" &Jjo*') == c.List("a", "", (NO_MAILBOX,))


def test_utf8_mailbox_names_when_enabled() -> None:
    assert parse('a SELECT "Entwürfe"'.encode(), utf8=True) == c.Select("a", "Entwürfe")
    # An IMAP4rev2 client's "&" is just a character (RFC 9051 §5.1).
    assert parse(b"a SELECT A&B", utf8=True) == c.Select("a", "A&B")


def test_modified_utf7_mailbox_names_by_default() -> None:
    assert parse(b"a SELECT Entw&APw-rfe") == c.Select("a", "Entwürfe")
    with pytest.raises(ParseError, match="mailbox name in modified UTF-7"):
        parse('a SELECT "Entwürfe"'.encode())


def test_nesting_is_bounded() -> None:
    limits = WireLimits(max_nesting_depth=5)
    deep = b"a SEARCH " + b"(" * 6 + b"ALL" + b")" * 6 + b"\r\n"
    with pytest.raises(NestingTooDeep) as info:
        parse_command(RawCommand.frame(deep), limits=limits)
    assert info.value.tag == "a"
    shallow = b"a SEARCH " + b"(" * 5 + b"ALL" + b")" * 5 + b"\r\n"
    assert parse_command(RawCommand.frame(shallow), limits=limits) == c.Search("a", ALL)


def test_not_chains_count_as_nesting() -> None:
    with pytest.raises(NestingTooDeep):
        parse(b"a SEARCH " + b"NOT " * 10_000 + b"ALL")


def test_login_repr_hides_the_password() -> None:
    assert "secret" not in repr(parse(b"a LOGIN bob secret"))


def test_done_ends_idle() -> None:
    assert is_done(b"done")
    assert not is_done(b"DONE ")


def test_system_flags_take_their_canonical_spelling() -> None:
    command = parse(b"a STORE 1 FLAGS (\\SEEN \\answered \\X-Ext kw)")
    assert isinstance(command, c.Store)
    assert command.flags == (flags.SEEN, flags.ANSWERED, "\\X-Ext", "kw")


def test_star_is_kept_symbolic() -> None:
    command = parse(b"a FETCH 5:* UID")
    assert isinstance(command, c.Fetch)
    assert command.sequence_set.ranges == ((5, STAR),)
