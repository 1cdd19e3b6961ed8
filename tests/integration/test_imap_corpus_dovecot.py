"""SORT, THREAD and BINARY against Dovecot, over the shared corpus.

The 400 corpus messages (CRLF lines, as the mail store holds them) are APPENDed
to a folder of the real mail store, with chosen internal dates, and put into
the Maildir of a private Dovecot (tests/integration/dovecot.py) with the same
dates; UID n is the same message on both. Then each command of ``COMMANDS``
goes to our IMAP gateway (``python -m imap_gateway`` on the real mail store,
Python's imaplib as the client) and to Dovecot, and the answers must be equal.

Where the two differ by design, docs/imap.md "Differences from Dovecot: SORT and
THREAD" says why; ``KNOWN`` names the messages involved and the heading. Those
messages are left out of every command on both sides (``NOT UID ...``), so the
rest must agree exactly; and each listed message must still make a difference
when it is let back in, so the list stays true.

BINARY: for every leaf part of every message, ``BINARY.SIZE[n]`` and the octets of
``BINARY.PEEK[n]`` (or the refusal, ``NO [UNKNOWN-CTE]``) must be equal, Dovecot
being started for the one message alone; ``KNOWN_BINARY`` lists the messages that
differ, with the heading of docs/imap.md "Differences from Dovecot: BINARY", and
each must still differ.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio

from tests.integration import dovecot
from tests.integration.dovecot import PreauthDovecot, canonical, parse_values
from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack

FILES = dovecot.corpus_files()
NAMES = [str(path.relative_to(dovecot.CORPUS)) for path in FILES]
PASSWORD = "a long enough sort password"
FOLDER = "Archive"
BATCH = 50
# Internal dates all different, in an order unlike the UIDs' (401 is prime).
BASE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DATES = [BASE + dt.timedelta(hours=(n * 37) % 401) for n in range(1, len(FILES) + 1)]

COMMANDS = [
    "SORT (ARRIVAL) UTF-8 ALL",
    "SORT (DATE) UTF-8 ALL",
    "SORT (REVERSE DATE) UTF-8 ALL",
    "SORT (SIZE) UTF-8 ALL",
    "SORT (SUBJECT) UTF-8 ALL",
    "SORT (FROM) UTF-8 ALL",
    "SORT (TO) UTF-8 ALL",
    "SORT (CC) UTF-8 ALL",
    "SORT (DISPLAYFROM) UTF-8 ALL",
    "SORT (DISPLAYTO) UTF-8 ALL",
    "SORT (SUBJECT REVERSE DATE) UTF-8 ALL",
    "SORT (REVERSE FROM SIZE) UTF-8 ALL",
    "SORT (CC REVERSE SUBJECT ARRIVAL) UTF-8 ALL",
    "UID SORT (REVERSE DISPLAYFROM DATE) UTF-8 UID 100:300",
    "THREAD ORDEREDSUBJECT UTF-8 ALL",
    "THREAD REFERENCES UTF-8 ALL",
    "UID THREAD REFERENCES UTF-8 UID 50:250",
    "UID THREAD ORDEREDSUBJECT UTF-8 UID 150:350",
]

# corpus message -> the heading in docs/imap.md that explains why it differs.
DATES_32_BIT = "Sent dates before 1970 or after 2106"
ZONE_WITHOUT_SPACE = "A Date whose zone follows the time without a space"
NOT_UTF8 = "An 8-bit subject that is not UTF-8"
BLANK_NAME = "A display name of white space"
LANGUAGE = "An encoded word with a language"
KNOWN: dict[str, str] = {
    "mikel-mail/plain_emails__raw_email_bad_time.eml": DATES_32_BIT,
    "mikel-mail/rfc2822__example04.eml": DATES_32_BIT,
    "mikel-mail/rfc2822__example10.eml": DATES_32_BIT,
    "cpython-email/msg_47.eml": ZONE_WITHOUT_SPACE,
    "spamassassin/nice__cjk__gb2312.1.eml": NOT_UTF8,
    "spamassassin/spam__badmime2.eml": BLANK_NAME,
    "spamassassin/nice__unicode1.eml": LANGUAGE,
}

pytestmark = [
    pytest.mark.skipif(not FILES, reason=f"no email corpus at {dovecot.CORPUS.resolve()}"),
    pytest.mark.skipif(dovecot.available() is not None, reason=str(dovecot.available())),
]


@pytest.fixture(scope="module")
def messages() -> list[bytes]:
    """Each corpus message as the mail store holds it (CRLF lines)."""
    return list(map(canonical, (path.read_bytes() for path in FILES)))


@pytest.fixture(scope="module")
def server(messages: list[bytes]) -> Iterator[PreauthDovecot]:
    with PreauthDovecot(messages, [date.timestamp() for date in DATES]) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(database_url: str, amqp_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(admin_database_url=database_url, amqp_url=amqp_url, imap=True) as s:
        yield s


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def account(mailstore: MailstoreAPI, endpoints: Endpoints, messages: list[bytes]) -> str:
    """An account whose Archive holds the corpus, UID n = messages[n - 1]."""
    address = f"sort-{len(messages)}@{endpoints.domain}"
    await mailstore.create_account(address, PASSWORD)
    imap = f"/v1/accounts/{quote(address)}/imap"
    for start in range(0, len(messages), BATCH):
        form = aiohttp.FormData()
        dates = DATES[start : start + BATCH]
        meta = {"folder": FOLDER, "messages": [{"internal_date": d.isoformat()} for d in dates]}
        form.add_field("meta", json.dumps(meta), content_type="application/json")
        for raw in messages[start : start + BATCH]:
            # BytesIO: aiohttp warns about raw bytes over 1 MB (and warnings fail tests).
            form.add_field(
                "message", io.BytesIO(raw), filename="m.eml", content_type="message/rfc822"
            )
        status, appended = await mailstore.call("POST", imap + "/append", data=form)
        assert status == 200, appended
    return address


@pytest.fixture(scope="module")
def ours(endpoints: Endpoints, account: str) -> Iterator[imaplib.IMAP4]:
    assert endpoints.imap is not None
    client = imaplib.IMAP4(*endpoints.imap, timeout=60)
    client.login(account, PASSWORD)
    status, _ = client.select(FOLDER, readonly=True)
    assert status == "OK"
    yield client
    client.logout()


def our_answer(client: imaplib.IMAP4, command: str) -> bytes:
    uid = command.startswith("UID ")
    name, rest = command.removeprefix("UID ").split(" ", 1)
    # The sort criteria stay one argument: imaplib's sort() parenthesises its first.
    end = rest.index(")") + 1 if rest.startswith("(") else rest.index(" ")
    arguments = [rest[:end], *rest[end + 1 :].split(" ")]
    if uid:
        status, data = client.uid(name, *arguments)
    else:
        status, data = getattr(client, name.lower())(*arguments)
    assert status == "OK", (command, data)
    return b" ".join(d for d in data if isinstance(d, bytes))


def dovecot_answer(server: PreauthDovecot, command: str) -> bytes:
    name = command.split(" ")[1 if command.startswith("UID ") else 0]
    answers = [
        r.removesuffix(b"\r\n").removeprefix(b"* " + name.encode()).strip()
        for r in server.command(command)
        if r.startswith(b"* " + name.encode())
    ]
    return b" ".join(answers)


def without(command: str, names: list[str]) -> str:
    """``command`` with the given corpus messages left out of its search."""
    if not names:
        return command
    uids = ",".join(str(NAMES.index(name) + 1) for name in sorted(names))
    return f"{command} NOT UID {uids}"


@pytest.mark.parametrize("command", COMMANDS)
def test_sort_and_thread_match_dovecot(
    server: PreauthDovecot, ours: imaplib.IMAP4, command: str
) -> None:
    known = list(KNOWN)
    asked = without(command, known)

    theirs = dovecot_answer(server, asked)
    mine = our_answer(ours, asked)

    assert mine == theirs, f"differences from Dovecot not in docs/imap.md for {asked!r}"


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_each_listed_message_still_differs(
    server: PreauthDovecot, ours: imaplib.IMAP4, name: str
) -> None:
    others = [other for other in KNOWN if other != name]
    differs = any(
        our_answer(ours, without(command, others))
        != dovecot_answer(server, without(command, others))
        for command in COMMANDS
    )
    assert differs, f"{name} is listed in docs/imap.md ({KNOWN[name]}) but agrees now"


# corpus message -> the heading in docs/imap.md "Differences from Dovecot: BINARY".
WHOLE_MESSAGE_PARSE = "Dovecot refuses every part of a message with a broken one"
WHOLE_MESSAGE_CTE = "Dovecot refuses every part of a message with an unknown encoding"
SESSION_ENDS = "Dovecot ends the session"
KNOWN_BINARY: dict[str, str] = {
    **dict.fromkeys(
        [
            "cpython-email/msg_15.eml",
            "enmime/low-quality__malformed-base64-attach.eml",
            "flanker/enclosed-broken-body.eml",
            "spamassassin/nice__cjk__big5-base64.1.eml",
            "stalwart-mail-parser/malformed__018.eml",
            "stalwart-mail-parser/rfc__000.eml",
            "stalwart-mail-parser/thirdparty__002.eml",
            "stalwart-mail-parser/thirdparty__016.eml",
            "stalwart-mail-parser/thirdparty__019.eml",
        ],
        WHOLE_MESSAGE_PARSE,
    ),
    **dict.fromkeys(
        [
            "enmime/low-quality__unk-encoding-part.eml",
            "mikel-mail/error_emails__content_transfer_encoding_qp_with_space.eml",
            "mikel-mail/error_emails__content_transfer_encoding_with_semi_colon.eml",
            "mikel-mail/error_emails__content_transfer_encoding_x_uuencode.eml",
        ],
        WHOLE_MESSAGE_CTE,
    ),
    **dict.fromkeys(
        [
            "cpython-email/msg_39.eml",
            "enmime/mail__inlinemultipart.eml",
            "enmime/mail__malformed-multiple-address-header-values.eml",
            "enmime/mail__mime-bad-content-transfer-encoding.eml",
            "enmime/mail__mime-bad-content-type.eml",
            "enmime/mail__mime-blank-media-name.eml",
            "enmime/mail__mime-duplicate-param.eml",
            "enmime/mail__mime-unquoted-tspecials-param.eml",
            "flanker/torture.eml",
            "rspamd/fname.eml",
            "spamassassin/nice__mime7.eml",
        ],
        SESSION_ENDS,
    ),
}
ENDED = ("ENDED",)
_LITERAL8 = re.compile(rb" ~\{([0-9]+)\}\r\n")


def leaf_parts(raw: bytes) -> list[str]:
    """The part numbers of the leaves (neither multipart nor message/rfc822)."""
    from mailstore.imap_structure import describe
    from tests.integration.test_imap_structure_dovecot import sections

    description = describe(raw)
    return [
        ".".join(map(str, path))
        for path, part in sections(description["body"])
        if "parts" not in part and "message" not in part
    ]


def binary_values(response: bytes) -> tuple[object, ...]:
    """BINARY.SIZE and BINARY of a FETCH response, literal8 read as a literal."""
    values = parse_values(_LITERAL8.sub(rb" {\1}\r\n", response))
    # "* n FETCH (...)", or imaplib's "n (...)" without the FETCH.
    items = next(value for value in values if isinstance(value, list))
    pairs = dict(zip(items[::2], items[1::2], strict=True))
    return tuple(v for k, v in sorted(pairs.items(), key=str) if str(k).startswith("BINARY"))


def dovecot_binary(server: PreauthDovecot, uid: int, part: str) -> tuple[object, ...]:
    """Dovecot's answer, ``("NO", unknown_cte)``, or ENDED when it closed the session."""
    try:
        responses = server.command(f"UID FETCH {uid} (BINARY.SIZE[{part}] BINARY.PEEK[{part}])")
    except RuntimeError as refused:
        if "closed its output" in str(refused):
            return ENDED
        return ("NO", "[UNKNOWN-CTE]" in str(refused))
    return binary_values(next(r for r in responses if b" FETCH " in r))


def our_binary(client: imaplib.IMAP4, uid: int, part: str) -> tuple[object, ...]:
    status, data = client.uid("FETCH", str(uid), f"(BINARY.SIZE[{part}] BINARY.PEEK[{part}])")
    if status != "OK":
        return ("NO", b"[UNKNOWN-CTE]" in b" ".join(d for d in data if isinstance(d, bytes)))
    response = b"* "
    for item in data:  # imaplib splits a response at its literals
        response += item[0] + b"\r\n" + item[1] if isinstance(item, tuple) else item
    return binary_values(response + b"\r\n")


@pytest.mark.parametrize("name", NAMES)
def test_binary_of_every_leaf_part_matches_dovecot(
    ours: imaplib.IMAP4, messages: list[bytes], name: str
) -> None:
    uid = NAMES.index(name) + 1
    raw = messages[uid - 1]
    # A Dovecot of its own: Dovecot 2.3 ends the session on some messages.
    answers: dict[str, tuple[tuple[object, ...], tuple[object, ...]]] = {}
    with PreauthDovecot([raw]) as alone:
        for part in leaf_parts(raw):
            answers[part] = (our_binary(ours, uid, part), dovecot_binary(alone, 1, part))
            if answers[part][1] == ENDED:
                break  # nothing more can be asked
    differing = {part: answers[part] for part, (mine, theirs) in answers.items() if mine != theirs}
    if name in KNOWN_BINARY:
        assert differing, f"listed in docs/imap.md ({KNOWN_BINARY[name]}) but equal now"
    else:
        shown = {part: repr(answer)[:300] for part, answer in differing.items()}
        assert not differing, f"BINARY differs from Dovecot (ours, theirs): {shown}"
