"""Scripted IMAP sessions against our whole stack and against Dovecot, replies compared.

Both servers hold the shared corpus in INBOX in the same order (UID n = the n-th
file) with the same internal dates, and the same standard folders (Sent, Drafts,
Trash, Junk, Archive with their RFC 6154 special use, all subscribed): ours through
the mail store's APPEND call, Dovecot's in a private Maildir
(tests/integration/imap_script.py). Each script of ``SCRIPTS`` runs in a new
session on each server, in order (later scripts see what earlier ones changed,
on both sides alike), and every command's reply is compared parsed: the untagged
responses (as a multiset, except EXPUNGE, whose order carries its meaning) and the
tagged status word with its response code. :func:`normal` removes only what must
differ, each for the reason it gives. A remaining difference must be listed in
``KNOWN`` under its heading in docs/imap.md ("Differences from Dovecot in whole
sessions"); a listed one that went away fails too.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio

from tests.integration import dovecot
from tests.integration.dovecot import DovecotMaildir, Value, canonical
from tests.integration.imap_script import DovecotClient, Reply, SocketClient, Status
from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "emails"
FILES = sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not FILES, reason=f"no email corpus at {CORPUS.resolve()}"),
    pytest.mark.skipif(dovecot.available() is not None, reason=str(dovecot.available())),
]

PASSWORD = "a long enough imap password"
# The standard folders every account of ours has (mail store migration 0007).
FOLDERS = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash", "Junk": "\\Junk"}
FOLDERS |= {"Archive": "\\Archive"}
# Message n arrives FIRST + n * STEP: the date keys then split the corpus.
FIRST = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
STEP = dt.timedelta(hours=7, minutes=13)
APPEND_BATCH = 100  # the mail store's MAX_APPEND_MESSAGES

SCRIPTS: dict[str, list[str]] = {}


@pytest.fixture(scope="module")
def messages() -> list[bytes]:
    return [canonical(path.read_bytes()) for path in FILES]


def dates(count: int) -> list[dt.datetime]:
    return [FIRST + number * STEP for number in range(1, count + 1)]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(database_url: str, amqp_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(admin_database_url=database_url, amqp_url=amqp_url, imap=True) as s:
        yield s


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def account(endpoints: Endpoints, mailstore: MailstoreAPI, messages: list[bytes]) -> str:
    """Our account with the corpus in INBOX, UID n = the n-th file."""
    address = f"sessions@{endpoints.domain}"
    await mailstore.create_account(address, PASSWORD)
    path = f"/v1/accounts/{quote(address)}/imap/append"
    when = dates(len(messages))
    for start in range(0, len(messages), APPEND_BATCH):
        batch = range(start, min(start + APPEND_BATCH, len(messages)))
        meta = {
            "folder": "INBOX",
            "messages": [{"flags": [], "internal_date": when[n].isoformat()} for n in batch],
        }
        form = aiohttp.FormData()
        form.add_field("meta", json.dumps(meta), content_type="application/json")
        for n in batch:
            # A stream: aiohttp warns (an error here) about bytes over 1 MB.
            raw = io.BytesIO(messages[n])
            form.add_field("message", raw, filename="m.eml", content_type="message/rfc822")
        status, answer = await mailstore.call("POST", path, data=form)
        assert status == 200, answer
        assert answer["uids"] == [n + 1 for n in batch]
    # The first session takes \Recent (RFC 3501 §2.3.2), as on Dovecot's side (maildir).
    assert endpoints.imap is not None
    first = SocketClient(endpoints.imap, address, PASSWORD)
    for folder in ["INBOX", *FOLDERS]:
        assert first.command(f"SELECT {folder} (CONDSTORE)").status.word == "OK"
    first.close()
    return address


@pytest.fixture(scope="module")
def maildir(messages: list[bytes]) -> Iterator[DovecotMaildir]:
    stamps = [when.timestamp() for when in dates(len(messages))]
    with DovecotMaildir(messages, stamps, {"INBOX": None, **FOLDERS}) as made:
        # Dovecot starts tracking MODSEQs in a mailbox once CONDSTORE is used there
        # (ours from the start), and both give \Recent to the first session that
        # selects it. A first session that selects every folder with CONDSTORE does
        # both before the scripts, here and on our side (the account fixture).
        first = DovecotClient(made)
        for folder in ["INBOX", *FOLDERS]:
            assert first.command(f"SELECT {folder} (CONDSTORE)").status.word == "OK"
        first.close()
        yield made


def script(name: str, *commands: str) -> None:
    SCRIPTS[name] = list(commands)


# --- what must differ ------------------------------------------------------------------

# A value that follows one of these atoms is a server's own counter: UIDVALIDITY
# is chosen at random by each server (RFC 9051 §2.3.1.1 asks only that it change
# when UIDs are reused), and MOD-SEQUENCEs only have to grow per mailbox (RFC 7162
# §3.1.1): Dovecot and our mail store count different events.
COUNTERS = {"UIDVALIDITY", "HIGHESTMODSEQ", "MODSEQ"}
FLAG_LISTS = {"FLAGS", "PERMANENTFLAGS"}
# Response codes whose first argument is the destination's UIDVALIDITY (RFC 4315 §3).
UIDPLUS_CODES = {"COPYUID", "APPENDUID"}


def normal_value(value: Value) -> Value:
    """Strings and atoms alike as text (an astring may be written either way,
    RFC 9051 §4.3, Dovecot quotes where we write an atom); counters blanked."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if not isinstance(value, list):
        return value
    out: list[Value] = []
    for item in value:
        after = out[-1].upper() if out and isinstance(out[-1], str) else None
        if after in COUNTERS:
            out.append("<counter>")
        elif after == "INTERNALDATE" and isinstance(item, bytes):
            out.append(internal_date(item))
        elif after in FLAG_LISTS and isinstance(item, list):
            # Flags are a set (RFC 9051 §2.3.2): Dovecot lists system flags first.
            out.append(sorted(normal_value(flag) for flag in item))  # type: ignore[type-var]
        else:
            out.append(normal_value(item))
    return out


def internal_date(value: bytes) -> str:
    """RFC 9051 §9 date-day-fixed is " 1" or "01": we write the first, Dovecot the second."""
    when = dt.datetime.strptime(value.decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    return when.isoformat()


def normal_code(code: list[Value] | None) -> Value:
    if code is None:
        return None
    name = str(code[0]).upper()
    if name == "CAPABILITY":  # what each server offers differs by design (docs/imap.md)
        return None
    if name in UIDPLUS_CODES and len(code) > 1:
        code = [code[0], "<uidvalidity>", *code[2:]]
    return normal_value(code)


def normal_untagged(response: Status | list[Value]) -> Value:
    if isinstance(response, Status):
        return [response.word, normal_code(response.code)]
    value = normal_value(response)
    # Mailbox attributes are a set (RFC 9051 §7.3.1): Dovecot puts \Subscribed first.
    if isinstance(value, list) and value[:1] in (["LIST"], ["LSUB"]) and len(value) > 1:
        attributes = value[1]
        if isinstance(attributes, list):
            value[1] = sorted(attributes, key=repr)
    # STATUS items (RFC 9051 §7.3.4) and FETCH items (§7.5.2) come in no set order:
    # we answer STATUS in the order asked, Dovecot puts MODSEQ first in a FETCH.
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[2], list)):
        return value
    if value[0] == "STATUS" or value[1] == "FETCH":
        pairs = zip(value[2][::2], value[2][1::2], strict=True)
        value[2] = [v for pair in sorted(pairs, key=repr) for v in pair]
    return value


def is_capability(response: Status | list[Value]) -> bool:
    if isinstance(response, Status):
        return response.code is not None and str(response.code[0]).upper() == "CAPABILITY"
    return bool(response) and str(response[0]).upper() == "CAPABILITY"


def is_expunge(value: Value) -> bool:
    return isinstance(value, list) and len(value) == 2 and value[1] == "EXPUNGE"


def normal(reply: Reply) -> dict[str, Value]:
    """The reply as compared: status, code, EXPUNGEs in order, the rest sorted."""
    untagged = [normal_untagged(r) for r in reply.untagged if not is_capability(r)]
    return {
        "status": reply.status.word,
        "code": normal_code(reply.status.code),
        "expunged": [r for r in untagged if is_expunge(r)],
        "untagged": sorted((r for r in untagged if not is_expunge(r)), key=repr),
    }


# --- the scripts ------------------------------------------------------------------------

script(
    "list",
    "NAMESPACE",
    'LIST "" ""',
    'LIST "" *',
    'LIST "" %',
    'LIST "" INB*',
    'LIST "" inbox',
    'LIST "" Nope',
    'LSUB "" *',
    'LIST (SUBSCRIBED) "" *',
    'LIST (SPECIAL-USE) "" *',
    'LIST "" * RETURN (SPECIAL-USE)',
    'LIST "" * RETURN (CHILDREN)',
    'LIST "" * RETURN (SUBSCRIBED)',
    'LIST "" (INBOX Sent) RETURN (STATUS (MESSAGES UIDNEXT UNSEEN))',
    "STATUS INBOX (MESSAGES UIDNEXT UNSEEN SIZE)",
    "STATUS Sent (MESSAGES UIDNEXT UNSEEN SIZE UIDVALIDITY)",
    "STATUS Nope (MESSAGES)",
)
script(
    "hierarchy",
    "CREATE Projects/2025/Q1",
    "CREATE Projects/Old/",
    'LIST "" Projects*',
    'LIST "" Projects/%',
    'LIST "Projects/" %',
    'LIST "" %/2025',
    'LIST "" % RETURN (CHILDREN)',
    # Modified UTF-7 (RFC 3501 §5.1.3): "Caf&AOk-" is "Café"; "Bad&Name" is no such name.
    'CREATE "Caf&AOk-"',
    'LIST "" Caf*',
    'STATUS "Caf&AOk-" (MESSAGES)',
    'DELETE "Caf&AOk-"',
    'CREATE "Bad&Name"',
    "RENAME Projects Work",
    'LIST "" Work/*',
    'LIST "" Projects*',
    'LSUB "" W*',
    "SUBSCRIBE Work/Old",
    'LSUB "" W*',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" %',
    "UNSUBSCRIBE Work/Old",
    "RENAME Work/Old Archive/Old",
    'LIST "" Archive/*',
    "RENAME Work/2025 Sent",
    "RENAME Nope Other",
    "DELETE Work",
    'LIST "" Work*',
    "DELETE Work/2025/Q1",
    "DELETE Work/2025",
    "DELETE Work",
    "DELETE Archive/Old",
    "DELETE Nope",
    'LIST "" *',
    "CREATE INBOX",
    "CREATE Sent",
    "DELETE INBOX",
)
script(
    "select",
    "SELECT INBOX",
    "EXAMINE INBOX",
    "SELECT Sent",
    "SELECT Nope",
    "FETCH 1 FLAGS",
    "ENABLE CONDSTORE",
    "SELECT INBOX (CONDSTORE)",
    "EXAMINE Archive (CONDSTORE)",
    "UNSELECT",
    "CLOSE",
)
script(
    "fetch_partials",
    "EXAMINE INBOX",
    "FETCH 1 (BODY.PEEK[]<0.10>)",
    "FETCH 1 (BODY.PEEK[]<100000000.5>)",
    "FETCH 1 (BODY.PEEK[]<0.0>)",
    "FETCH 1 (BODY.PEEK[TEXT]<5.0>)",
    "FETCH 1 (BODY.PEEK[1]<2.3>)",
    "FETCH 2 (BODY.PEEK[HEADER.FIELDS.NOT (Received DKIM-Signature Subject)])",
    "FETCH 2 (BODY.PEEK[HEADER.FIELDS (From To Nope)])",
    "FETCH 3:5 (FLAGS INTERNALDATE RFC822.SIZE UID)",
    "FETCH 6 (RFC822.HEADER RFC822.TEXT)",
    "UID FETCH 7 (BODY.PEEK[2]<0.100> BODY.PEEK[1.MIME])",
    "FETCH 9 (BODY.PEEK[5.1.2])",
)

# RFC 9051 §6.4.4's keys without arguments.
SIMPLE_KEYS = ["ALL", "SEEN", "UNSEEN", "FLAGGED", "UNFLAGGED", "ANSWERED", "UNANSWERED"]
SIMPLE_KEYS += ["DELETED", "UNDELETED", "DRAFT", "UNDRAFT", "NEW", "OLD", "RECENT"]


def utf8(text: str) -> str:
    """``text`` as a literal (RFC 9051 §4.3), for the CHARSET UTF-8 search keys."""
    return f"{{{len(text.encode())}}}\r\n{text}"


script(
    "search",
    "SELECT INBOX",
    "STORE 1:20 +FLAGS.SILENT (\\Seen)",
    "STORE 5,7,9,300 +FLAGS.SILENT (\\Flagged)",
    "STORE 10:12 +FLAGS.SILENT ($Work)",
    "STORE 13 +FLAGS.SILENT (\\Answered \\Draft)",
    "STORE 14 +FLAGS.SILENT (\\Deleted)",
    *(f"SEARCH {key}" for key in SIMPLE_KEYS),
    "SEARCH KEYWORD $Work",
    "SEARCH UNKEYWORD $Work",
    "SEARCH KEYWORD $work",
    'SEARCH FROM "example.com"',
    'SEARCH FROM "bellcore"',
    'SEARCH TO "ietf"',
    'SEARCH CC "@"',
    'SEARCH BCC "@"',
    'SEARCH SUBJECT "test"',
    'SEARCH SUBJECT "RE:"',
    'SEARCH SUBJECT ""',
    'SEARCH BODY "boundary"',
    'SEARCH BODY "the quick"',
    'SEARCH TEXT "Content-Type: text/html"',
    'SEARCH TEXT "multipart"',
    'SEARCH HEADER Message-ID ""',
    'SEARCH HEADER X-Mailer ""',
    'SEARCH HEADER Subject "=?"',
    'SEARCH HEADER Content-Type "utf-8"',
    f"SEARCH CHARSET UTF-8 SUBJECT {utf8('heiße')}",
    f"SEARCH CHARSET UTF-8 SUBJECT {utf8('HEIßE')}",
    f"SEARCH CHARSET UTF-8 SUBJECT {utf8('漢字')}",
    f"SEARCH CHARSET UTF-8 SUBJECT {utf8('🎉')}",
    f"SEARCH CHARSET UTF-8 FROM {utf8('Jöhn')}",
    f"SEARCH CHARSET UTF-8 FROM {utf8('Андрей')}",
    f"SEARCH CHARSET UTF-8 BODY {utf8('поживаешь')}",
    f"SEARCH CHARSET UTF-8 TEXT {utf8('まみむめも')}",
    'SEARCH CHARSET US-ASCII SUBJECT "test"',
    'SEARCH CHARSET X-NOPE SUBJECT "test"',
    "SEARCH LARGER 100000",
    "SEARCH SMALLER 500",
    "SEARCH LARGER 5000 SMALLER 6000",
    "SEARCH BEFORE 5-Jan-2025",
    "SEARCH ON 10-Jan-2025",
    "SEARCH SINCE 1-May-2025",
    "SEARCH SINCE 1-Feb-2025 BEFORE 3-Feb-2025",
    "SEARCH SENTBEFORE 1-Jan-1995",
    "SEARCH SENTON 24-Dec-1991",
    "SEARCH SENTSINCE 1-Jan-2020",
    "SEARCH OR SEEN FLAGGED",
    "SEARCH NOT SEEN",
    'SEARCH OR (FROM "example" SUBJECT "test") NOT LARGER 1000',
    "SEARCH 1:10",
    "SEARCH 395:*",
    "SEARCH *",
    "SEARCH 5,3,1",
    "SEARCH UNSEEN 1:30",
    "SEARCH UID 390:*",
    "UID SEARCH UID 100:110",
    "UID SEARCH 1:5",
    "SEARCH RETURN (SAVE) FLAGGED",
    "SEARCH $",
    "UID SEARCH $ SEEN",
    "FETCH $ (UID)",
    "SEARCH RETURN (MIN MAX COUNT ALL) SEEN",
    "SEARCH RETURN () FLAGGED",
    "UID SEARCH RETURN (COUNT) ALL",
    'SEARCH RETURN (MIN) SUBJECT "nothing like this at all"',
    "UID SEARCH RETURN (ALL) 1:30 UNSEEN",
)
script(
    "copy",
    "CREATE Scratch",
    "SELECT INBOX",
    "COPY 1:8 Scratch",
    "UID COPY 390:400 Scratch",
    "COPY 1 Nope",
    # CONDSTORE here: Dovecot keeps MOD-SEQUENCEs only in mailboxes where it was used.
    "SELECT Scratch (CONDSTORE)",
)
script(
    "store_expunge",
    "SELECT Scratch",
    "STORE 1 +FLAGS (\\Seen $Label1)",
    "STORE 2 +FLAGS.SILENT (\\Flagged)",
    "UID STORE 3 -FLAGS (\\Seen)",
    "STORE 4:6 FLAGS (\\Deleted \\Seen)",
    "STORE 7 +FLAGS ($Forwarded Junk)",
    "STORE 7 -FLAGS (Junk)",
    "STORE 8 FLAGS ()",
    "FETCH 1:* (FLAGS)",
    "STORE 1 +FLAGS (\\Recent)",
    "STORE 1 +FLAGS (\\Bogus)",
    "EXPUNGE",
    "STORE 2,4,6 +FLAGS.SILENT (\\Deleted)",
    "UID EXPUNGE 1:5",
    "EXPUNGE",
    "UID MOVE 10:12 Archive",
    "MOVE 1 Nope",
    "FETCH 1:* (UID FLAGS)",
    "UNSELECT",
    "SELECT Scratch (CONDSTORE)",
    "STORE 1 +FLAGS (\\Answered)",
    "FETCH 1 (FLAGS MODSEQ)",
    "CLOSE",
    "STATUS Scratch (MESSAGES UIDNEXT UNSEEN SIZE)",
    "STATUS Archive (MESSAGES UIDNEXT UNSEEN)",
)
# BINARY (RFC 3516); skipped only against a gateway that does not offer it.
script(
    "binary",
    "EXAMINE INBOX",
    "FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])",
    # 172 and 177: a quoted-printable text part, then a base64 JPEG or PDF.
    "FETCH 172 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.SIZE[2] BINARY.PEEK[2]<0.64>)",
    "FETCH 177 (BINARY.PEEK[2]<100.50> BINARY.SIZE[2])",
    "FETCH 2 (BINARY.PEEK[1]<5.0>)",
    "FETCH 1 (BINARY.PEEK[9])",
)
script(
    "errors",
    "FOO",
    "SELECT",
    "FETCH 1 FLAGS",
    "STORE 1 +FLAGS (\\Seen)",
    "EXPUNGE",
    "CLOSE",
    "UNSELECT",
    "LOGIN someone secret",
    'CREATE ""',
    "LIST",
    "STATUS INBOX (BOGUS)",
    "STATUS INBOX ()",
    "ENABLE BOGUS",
    "APPEND Nope {5}\r\nhello",
    "EXAMINE INBOX",
    "ENABLE CONDSTORE",
    "FETCH 0 FLAGS",
    "FETCH 401 FLAGS",
    "FETCH a:b FLAGS",
    "FETCH 1 (FLAGS",
    "FETCH 1 BOGUS",
    "UID FETCH 999999 FLAGS",
    "SEARCH BOGUS",
    "SEARCH 0",
    "SEARCH 500",
    "SEARCH BEFORE 32-Jan-2025",
    "STORE 1 +FLAGS (\\Seen)",
    "COPY 1:2 Nope",
    "UID EXPUNGE 1",
    "SELECT Nope",
    "FETCH 1 UID",
)
# Subscriptions that outlive their mailbox (RFC 9051 §6.3.7, RFC 5258): after the
# others, and leaving nothing behind.
script(
    "subscriptions",
    "CREATE Gone/Child",
    "SUBSCRIBE Gone/Child",
    "DELETE Gone/Child",
    'LIST (SUBSCRIBED) "" Gone*',
    'LIST (SUBSCRIBED) "" Gone* RETURN (CHILDREN)',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" Gone',
    'LIST "" Gone* RETURN (SUBSCRIBED)',
    'LIST (SUBSCRIBED) "" Gone/Child RETURN (STATUS (MESSAGES))',
    'LSUB "" Gone*',
    'LSUB "" %',
    "CREATE Gone/Child",
    'LIST (SUBSCRIBED) "" Gone*',
    "RENAME Gone Moved",
    'LSUB "" *',
    "SUBSCRIBE Never/There",
    'LSUB "" Never*',
    "UNSUBSCRIBE Never/There",
    "UNSUBSCRIBE Never/Subscribed",
    "UNSUBSCRIBE Gone/Child",
    "UNSUBSCRIBE Moved/Child",
    "DELETE Moved/Child",
    "DELETE Moved",
    'LSUB "" *',
)


# --- the differences docs/imap.md explains -------------------------------------------------

# Headings of docs/imap.md "Differences from Dovecot in whole sessions".
CLOSED = "[CLOSED] where RFC 7162 asks for it"
CODES = "Response codes Dovecot leaves out"
LIST_ATTRIBUTES = "LIST attributes nobody asked for"
LSUB_SPECIAL_USE = "Special-use attributes in LSUB"
SUPERIORS = "Superior folders are folders"
ZERO_PARTIAL = "A partial FETCH of zero octets"
FIELD_NAMES = "Header field names as the client wrote them"
RAW_TEXT_SEARCH = "BODY and TEXT search the stored octets"
SENT_DATES = "Sent dates Dovecot cannot hold"
KEYWORD_CASE = "Keywords compare as stored"
KEYWORD_FLAGS = "Keywords in FLAGS"
BADCHARSET_LIST = "BADCHARSET names the charsets"
READ_ONLY = "Changes to a read-only mailbox are refused"
LATE_ENABLE = "ENABLE once a mailbox is selected"
EMPTY_ENABLED = "An empty ENABLED response"
STORE_FLAGS = "Flags a client cannot store"
BAD_DATE = "An impossible date in SEARCH"
BAD_MUTF7 = "A name that is not modified UTF-7"
SUBSCRIBE_ANY = "SUBSCRIBE of a name no mailbox has"
RENAME_SUBSCRIPTIONS = "RENAME moves the subscriptions"
LSUB_NONEXISTENT = "LSUB of a subscription without a mailbox"

# (script, command as labelled) -> the headings that explain its difference.
KNOWN: dict[tuple[str, str], tuple[str, ...]] = {
    **{
        ("list", command): (LIST_ATTRIBUTES,)
        for command in (
            'LIST (SUBSCRIBED) "" *',
            'LIST (SPECIAL-USE) "" *',
            'LIST "" * RETURN (SPECIAL-USE)',
            'LIST "" * RETURN (CHILDREN)',
            'LIST "" * RETURN (SUBSCRIBED)',
            'LIST "" (INBOX Sent) RETURN (STATUS (MESSAGES UIDNEXT UNSEEN))',
        )
    },
    ("list", 'LSUB "" *'): (LSUB_SPECIAL_USE,),
    ("list", "STATUS Nope (MESSAGES)"): (CODES,),
    **{
        ("hierarchy", command): (SUPERIORS,)
        for command in (
            'LIST "" Projects*',
            'LIST "" Projects/%',
            'LIST "" Work/*',
            'LIST "" Archive/*',
            'LIST "" Work*',
            'LIST "Projects/" %',
            'LIST "" %/2025',
        )
    },
    ("hierarchy", 'CREATE "Bad&Name"'): (BAD_MUTF7,),
    ("hierarchy", 'LIST "" % RETURN (CHILDREN)'): (LIST_ATTRIBUTES, SUPERIORS),
    ("hierarchy", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" %'): (LIST_ATTRIBUTES,),
    ("hierarchy", "DELETE Work"): (CODES,),
    ("hierarchy", "DELETE INBOX"): (CODES,),
    ("select", "EXAMINE INBOX"): (CLOSED,),
    ("select", "SELECT Sent"): (CLOSED,),
    ("select", "SELECT Nope"): (CLOSED, CODES),
    ("select", "EXAMINE Archive (CONDSTORE)"): (CLOSED,),
    ("fetch_partials", "FETCH 1 (BODY.PEEK[]<0.0>)"): (ZERO_PARTIAL,),
    ("fetch_partials", "FETCH 1 (BODY.PEEK[TEXT]<5.0>)"): (ZERO_PARTIAL,),
    (
        "fetch_partials",
        "FETCH 2 (BODY.PEEK[HEADER.FIELDS.NOT (Received DKIM-Signature Subject)])",
    ): (FIELD_NAMES,),
    ("fetch_partials", "FETCH 2 (BODY.PEEK[HEADER.FIELDS (From To Nope)])"): (FIELD_NAMES,),
    ("search", "SEARCH KEYWORD $work"): (KEYWORD_CASE,),
    ("search", 'SEARCH BODY "boundary"'): (RAW_TEXT_SEARCH,),
    ("search", 'SEARCH TEXT "Content-Type: text/html"'): (RAW_TEXT_SEARCH,),
    ("search", 'SEARCH CHARSET X-NOPE SUBJECT "test"'): (BADCHARSET_LIST,),
    ("search", "SEARCH SENTBEFORE 1-Jan-1995"): (SENT_DATES,),
    ("search", "SEARCH SENTSINCE 1-Jan-2020"): (SENT_DATES,),
    ("copy", "SELECT Scratch (CONDSTORE)"): (CLOSED,),
    ("store_expunge", "SELECT Scratch (CONDSTORE)"): (KEYWORD_FLAGS,),
    ("store_expunge", "STORE 1 +FLAGS (\\Recent)"): (STORE_FLAGS,),
    ("store_expunge", "STORE 1 +FLAGS (\\Bogus)"): (STORE_FLAGS,),
    ("binary", "FETCH 2 (BINARY.PEEK[1]<5.0>)"): (ZERO_PARTIAL,),
    ("errors", "ENABLE BOGUS"): (EMPTY_ENABLED,),
    ("errors", "ENABLE CONDSTORE"): (LATE_ENABLE,),
    ("errors", "STORE 1 +FLAGS (\\Seen) #2"): (READ_ONLY,),
    ("errors", "UID EXPUNGE 1"): (READ_ONLY,),
    ("errors", "SEARCH BEFORE 32-Jan-2025"): (BAD_DATE,),
    ("errors", "SELECT Nope"): (CLOSED, CODES),
    ("subscriptions", 'LIST (SUBSCRIBED) "" Gone*'): (LIST_ATTRIBUTES,),
    ("subscriptions", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" Gone'): (LIST_ATTRIBUTES,),
    ("subscriptions", 'LIST "" Gone* RETURN (SUBSCRIBED)'): (LIST_ATTRIBUTES, SUPERIORS),
    (
        "subscriptions",
        'LIST (SUBSCRIBED) "" Gone/Child RETURN (STATUS (MESSAGES))',
    ): (LIST_ATTRIBUTES,),
    ("subscriptions", 'LSUB "" Gone*'): (LSUB_NONEXISTENT,),
    ("subscriptions", 'LSUB "" %'): (LSUB_SPECIAL_USE,),
    ("subscriptions", 'LIST (SUBSCRIBED) "" Gone* #2'): (LIST_ATTRIBUTES,),
    ("subscriptions", 'LSUB "" *'): (LSUB_SPECIAL_USE, RENAME_SUBSCRIPTIONS),
    ("subscriptions", "SUBSCRIBE Never/There"): (SUBSCRIBE_ANY,),
    ("subscriptions", 'LSUB "" Never*'): (SUBSCRIBE_ANY, LSUB_NONEXISTENT),
    ("subscriptions", 'LSUB "" * #2'): (LSUB_SPECIAL_USE,),
}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "imap.md"


def labelled(commands: list[str]) -> Iterator[tuple[str, str]]:
    """Each command with its name in ``KNOWN``: the text, with " #n" from its second time."""
    seen: dict[str, int] = {}
    for command in commands:
        seen[command] = seen.get(command, 0) + 1
        yield (command if seen[command] == 1 else f"{command} #{seen[command]}"), command


def searched(untagged: Value) -> set[int]:
    """The message numbers of the SEARCH responses among ``untagged``."""
    found: set[int] = set()
    for response in untagged if isinstance(untagged, list) else []:
        if isinstance(response, list) and response[:1] == ["SEARCH"]:
            found.update(n for n in response[1:] if isinstance(n, int))
    return found


def shown(ours: dict[str, Value], dovecots: dict[str, Value]) -> str:
    """Two replies for a failure message; for SEARCH, what only one side found."""
    found = [searched(reply["untagged"]) for reply in (ours, dovecots)]
    if found[0] or found[1]:
        ours_only, theirs_only = sorted(found[0] - found[1]), sorted(found[1] - found[0])
        return f"  only ours: {ours_only}\n  only Dovecot's: {theirs_only}"
    return f"  ours:    {ours!r}\n  Dovecot: {dovecots!r}"


# --- running a script on both ----------------------------------------------------------


async def test_every_listed_difference_has_its_heading_in_the_docs() -> None:
    headings = set(re.findall(r"^### (.+)$", DOCS.read_text(), flags=re.MULTILINE))
    named = {heading for reasons in KNOWN.values() for heading in reasons}
    assert named <= headings, f"not headings of {DOCS.name}: {named - headings}"


@pytest.mark.parametrize("name", list(SCRIPTS))
async def test_session_matches_dovecot(
    endpoints: Endpoints, account: str, maildir: DovecotMaildir, name: str
) -> None:
    assert endpoints.imap is not None
    ours = SocketClient(endpoints.imap, account, PASSWORD)
    if name == "binary" and "BINARY" not in ours.capabilities():
        ours.close()
        pytest.skip("our IMAP gateway does not offer BINARY (RFC 3516) yet")
    theirs = DovecotClient(maildir)
    differing: dict[str, tuple[dict[str, Value], dict[str, Value]]] = {}
    try:
        for label, command in labelled(SCRIPTS[name]):
            mine, dovecots = normal(ours.command(command)), normal(theirs.command(command))
            if mine != dovecots:
                differing[label] = (mine, dovecots)
    finally:
        ours.close()
        theirs.close()
    explained = {c for c in differing if (name, c) in KNOWN}
    unexplained = {c: differing[c] for c in differing.keys() - explained}
    assert not unexplained, "differences from Dovecot not in docs/imap.md:\n" + "\n".join(
        f"{c}\n{shown(m, d)}" for c, (m, d) in unexplained.items()
    )
    stale = {c for (s, c) in KNOWN if s == name} - differing.keys()
    assert not stale, f"listed as differing from Dovecot but equal now: {stale}"
