"""The IMAP gateway on the real mail store: ``python -m imap_gateway`` as a process,
Python's imaplib as the client, mail delivered through the SMTP gateway, and the
web's calls of the mail store API seen from the IMAP session (and back)."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import re
import socket
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import pytest
import pytest_asyncio

from smtplib_common.client import SMTPClient
from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "a long enough imap password"
# A bound on how long a change may take to reach an IDLE session (the brief: within a
# second with the broker up); generous so that a loaded machine does not fail it.
IDLE_WAIT = 15.0


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(database_url: str, amqp_url: str) -> AsyncIterator[LocalStack]:
    """This module's own stack: the three services and the IMAP gateway."""
    async with LocalStack(admin_database_url=database_url, amqp_url=amqp_url, imap=True) as s:
        yield s


@pytest_asyncio.fixture(loop_scope="module")
async def account(mailstore: MailstoreAPI, new_address: str) -> str:
    await mailstore.create_account(new_address, PASSWORD)
    return new_address


@pytest.fixture
def imap(endpoints: Endpoints, account: str) -> Iterator[imaplib.IMAP4]:
    assert endpoints.imap is not None
    client = imaplib.IMAP4(*endpoints.imap, timeout=30)
    client.login(account, PASSWORD)
    yield client
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        client.logout()


async def deliver(endpoints: Endpoints, to: str, subject: str, body: str = "Hello there\n") -> None:
    async with SMTPClient(*endpoints.smtp) as client:
        result = await client.send_message("someone@example.org", [to], subject, body)
    assert list(result.accepted) == [to]


def ok(answer: tuple[str, list[object]]) -> list[object]:
    typ, data = answer
    assert typ == "OK", (typ, data)
    return data


def literal(data: list[object]) -> tuple[bytes, bytes]:
    """The first (response head, literal) pair of a FETCH's data."""
    for item in data:
        if isinstance(item, tuple):
            return item[0], item[1]
    raise AssertionError(f"no literal in {data!r}")


def untagged(client: imaplib.IMAP4, name: str) -> list[object]:
    return list(client.untagged_responses.pop(name, []))


async def wait_exists(client: imaplib.IMAP4, count: int) -> None:
    """NOOP until the session reports ``count`` messages (delivery is asynchronous)."""
    async with asyncio.timeout(IDLE_WAIT):
        while True:
            ok(client.noop())
            exists = untagged(client, "EXISTS")
            if exists and int(exists[-1]) >= count:  # type: ignore[call-overload]
                return
            await asyncio.sleep(0.1)


async def test_wrong_password_is_authenticationfailed(endpoints: Endpoints, account: str) -> None:
    assert endpoints.imap is not None
    client = imaplib.IMAP4(*endpoints.imap, timeout=30)
    try:
        with pytest.raises(imaplib.IMAP4.error) as caught:
            client.login(account, "not the password")
        assert "[AUTHENTICATIONFAILED]" in str(caught.value)
    finally:
        client.shutdown()


async def test_list_select_and_delivered_mail_appears(
    endpoints: Endpoints, imap: imaplib.IMAP4, account: str
) -> None:
    listed = b"\n".join(ok(imap.list()))  # type: ignore[arg-type]
    assert b'"INBOX"' in listed or b" INBOX" in listed
    assert b"\\Sent" in listed
    assert b"\\Trash" in listed
    assert ok(imap.select("INBOX")) == [b"0"]

    await deliver(endpoints, account, "First over IMAP")
    await wait_exists(imap, 1)

    data = ok(imap.uid("FETCH", "1:*", "(FLAGS UID ENVELOPE BODYSTRUCTURE BODY.PEEK[])"))
    head, raw = literal(data)
    assert b"UID 1 " in head
    assert b"FLAGS (\\Recent)" in head  # this session was the first told (RFC 3501 §2.3.2)
    assert b'"First over IMAP"' in head
    assert b'("TEXT" "PLAIN"' in head.upper()
    assert b"Subject: First over IMAP" in raw
    assert raw.endswith(b"Hello there\r\n")


async def test_fetch_equals_stored_bytes_and_is_stable(
    endpoints: Endpoints, imap: imaplib.IMAP4, account: str, mailstore: MailstoreAPI
) -> None:
    body = "".join(f"line {n} of a longer message\n" for n in range(5000))
    await deliver(endpoints, account, "Big one", body)
    (summary,) = await mailstore.wait_for(account, 1)
    status, stored = await mailstore.call(
        "GET", f"/v1/accounts/{quote(account)}/messages/{summary['id']}/raw"
    )
    assert status == 200
    ok(imap.select("INBOX"))
    first = ok(imap.fetch("1", "(BODYSTRUCTURE ENVELOPE BODY.PEEK[])"))
    again = ok(imap.fetch("1", "(BODYSTRUCTURE ENVELOPE BODY.PEEK[])"))
    assert first == again
    assert literal(first)[1] == stored
    partial = ok(imap.fetch("1", "(BODY.PEEK[TEXT]<10.20>)"))
    text_start = stored.index(b"\r\n\r\n") + 4
    assert literal(partial)[1] == stored[text_start + 10 : text_start + 30]
    fields = ok(imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    assert literal(fields)[1] == b"Subject: Big one\r\n\r\n"


async def test_store_seen_is_read_in_the_web(
    endpoints: Endpoints, imap: imaplib.IMAP4, account: str, mailstore: MailstoreAPI
) -> None:
    await deliver(endpoints, account, "Mark me")
    (summary,) = await mailstore.wait_for(account, 1)
    assert summary["read"] is False
    ok(imap.select("INBOX"))
    ok(imap.uid("STORE", "1", "+FLAGS", "(\\Seen)"))
    (after,) = await mailstore.folder(account)
    assert after["read"] is True


async def test_copy_move_expunge_and_append(
    endpoints: Endpoints, imap: imaplib.IMAP4, account: str, mailstore: MailstoreAPI
) -> None:
    await deliver(endpoints, account, "One")
    await deliver(endpoints, account, "Two")
    await mailstore.wait_for(account, 2)
    ok(imap.select("INBOX"))
    await wait_exists(imap, 2)

    # imaplib gives the tagged response's text only from _simple_command.
    copied = ok(imap._simple_command("UID", "COPY", "1", "Archive"))
    assert re.search(rb"\[COPYUID \d+ 1 1\]", copied[-1])  # type: ignore[arg-type]
    moved = ok(imap._simple_command("UID", "MOVE", "2", "Archive"))
    assert re.search(rb"\[COPYUID \d+ 2 2\]", b" ".join(untagged(imap, "OK")))  # type: ignore[arg-type]
    assert moved
    expunged = untagged(imap, "EXPUNGE")
    assert expunged == [b"2"]
    ok(imap.uid("STORE", "1", "+FLAGS", "(\\Deleted)"))
    assert ok(imap.expunge()) == [b"1"]  # imaplib hands the EXPUNGE responses back
    assert await mailstore.folder(account) == []
    assert ok(imap.status("Archive", "(MESSAGES)")) == [b"Archive (MESSAGES 2)"]

    message = b"From: me@example.org\r\nSubject: Appended\r\n\r\nBody\r\n"
    appended = ok(imap.append("Drafts", "(\\Draft)", None, message))
    found = re.search(rb"\[APPENDUID (\d+) (\d+)\]", appended[-1])  # type: ignore[arg-type]
    assert found is not None
    ok(imap.select("Drafts"))
    data = ok(imap.uid("FETCH", found.group(2).decode(), "(FLAGS BODY.PEEK[])"))
    head, raw = literal(data)
    assert b"\\Draft" in head
    assert raw == message


async def test_the_webs_delete_is_an_expunge(
    endpoints: Endpoints, imap: imaplib.IMAP4, account: str, mailstore: MailstoreAPI
) -> None:
    await deliver(endpoints, account, "Delete me in the web")
    (summary,) = await mailstore.wait_for(account, 1)
    ok(imap.select("INBOX"))
    await wait_exists(imap, 1)
    status, _ = await mailstore.call(
        "POST", f"/v1/accounts/{quote(account)}/messages/{summary['id']}/trash"
    )
    assert status == 200
    async with asyncio.timeout(IDLE_WAIT):
        while not (gone := untagged(imap, "EXPUNGE")):
            ok(imap.noop())
            await asyncio.sleep(0.1)
    assert gone == [b"1"]


async def test_idle_wakes_on_delivery(endpoints: Endpoints, account: str) -> None:
    assert endpoints.imap is not None
    with socket.create_connection(endpoints.imap, timeout=IDLE_WAIT) as sock:
        reader = sock.makefile("rb")

        def command(line: str) -> list[bytes]:
            tag = line.split()[0]
            sock.sendall(line.encode() + b"\r\n")
            lines = []
            while not (got := reader.readline()).startswith(tag.encode() + b" "):
                lines.append(got)
            assert got.startswith(tag.encode() + b" OK"), got
            return lines

        reader.readline()  # greeting
        command(f'a LOGIN "{account}" "{PASSWORD}"')
        command("b SELECT INBOX")
        sock.sendall(b"c IDLE\r\n")
        assert reader.readline().startswith(b"+ ")
        await deliver(endpoints, account, "Wake up")
        # readline blocks up to the socket's timeout: the bound on the wait.
        line = reader.readline()
        assert line == b"* 1 EXISTS\r\n", line
        sock.sendall(b"DONE\r\n")
        while not (got := reader.readline()).startswith(b"c "):
            pass
        assert got.startswith(b"c OK")


async def test_search_goes_to_the_store(
    endpoints: Endpoints, imap: imaplib.IMAP4, account: str, mailstore: MailstoreAPI
) -> None:
    await deliver(endpoints, account, "Apples and pears")
    await deliver(endpoints, account, "Only pears", "no fruit named here\n")
    await mailstore.wait_for(account, 2)
    ok(imap.select("INBOX"))
    await wait_exists(imap, 2)
    ok(imap.uid("STORE", "2", "+FLAGS", "(\\Flagged)"))

    assert ok(imap.uid("SEARCH", "SUBJECT", "apples")) == [b"1"]
    assert ok(imap.search(None, "OR", "FLAGGED", "BODY", "HELLO")) == [b"1 2"]
    assert ok(imap.search(None, "NOT", "SUBJECT", "PEARS")) == [b""]


async def test_a_20_mib_message_goes_through_whole(imap: imaplib.IMAP4) -> None:
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
    body = line * (20 * 1024 * 1024 // len(line))
    message = b"From: me@example.org\r\nSubject: Large\r\n\r\n" + body
    appended = ok(imap.append("Archive", None, None, message))
    found = re.search(rb"\[APPENDUID \d+ (\d+)\]", appended[-1])  # type: ignore[arg-type]
    assert found is not None
    ok(imap.select("Archive"))
    uid = found.group(1).decode()
    head, raw = literal(ok(imap.uid("FETCH", uid, "(RFC822.SIZE BODY.PEEK[])")))
    assert f"RFC822.SIZE {len(message)}".encode() in head
    assert raw == message
    _, text = literal(ok(imap.uid("FETCH", uid, "(BODY.PEEK[TEXT]<20971000.1000>)")))
    assert text == body[20971000:20972000]


async def test_an_append_to_the_selected_inbox_is_seen_by_the_next_command(
    imap: imaplib.IMAP4,
) -> None:
    # The store's event for the new message may come after APPEND's OK; the
    # session reads the changes itself first (RFC 9051 §6.3.12: EXISTS at once).
    ok(imap.select("INBOX"))
    for n in range(1, 21):
        message = b"From: me@example.org\r\nSubject: appended %d\r\n\r\nBody\r\n" % n
        appended = ok(imap.append("INBOX", None, None, message))
        found = re.search(rb"\[APPENDUID \d+ (\d+)\]", appended[-1])  # type: ignore[arg-type]
        assert found is not None
        uids = ok(imap.uid("SEARCH", "SUBJECT", f'"appended {n}"'))
        assert uids[0].split()[-1:] == [found.group(1)], n  # type: ignore[union-attr]


# --- found by Dovecot's imaptest (tests/integration/test_imaptest.py runs it itself) ---

IMAPTEST_MESSAGE = b"From: a@example.org\r\nSubject: imaptest finding\r\n\r\nHello\r\n"


def _login(endpoints: Endpoints, account: str) -> imaplib.IMAP4:
    assert endpoints.imap is not None
    client = imaplib.IMAP4(*endpoints.imap, timeout=30)
    client.login(account, PASSWORD)
    return client


@pytest.fixture
def sessions(endpoints: Endpoints, account: str) -> Iterator[tuple[imaplib.IMAP4, imaplib.IMAP4]]:
    """Two sessions of one account, both with the Inbox selected."""
    first, second = _login(endpoints, account), _login(endpoints, account)
    for client in (first, second):
        ok(client.select("INBOX"))
    yield first, second
    for client in (first, second):
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()


def exists(client: imaplib.IMAP4) -> list[int]:
    """The EXISTS counts reported since the last call."""
    return [int(n) for n in untagged(client, "EXISTS")]  # type: ignore[call-overload]


async def test_append_to_the_selected_mailbox_reports_exists_at_once(
    sessions: tuple[imaplib.IMAP4, imaplib.IMAP4],
) -> None:
    """RFC 9051 §6.3.12: the server SHOULD send EXISTS at once; imaptest's `append`
    expects it in the APPEND's own answer, before the change's broker event."""
    first, _ = sessions
    exists(first)
    ok(first.append("INBOX", "", None, IMAPTEST_MESSAGE))
    assert exists(first) == [1]


async def test_noop_shows_another_sessions_append(
    sessions: tuple[imaplib.IMAP4, imaplib.IMAP4],
) -> None:
    """NOOP polls (RFC 9051 §6.1.2): what was added before it is reported in its answer."""
    first, second = sessions
    exists(second)
    for count in (1, 2, 3):
        ok(first.append("INBOX", "", None, IMAPTEST_MESSAGE))
        ok(second.noop())
        assert exists(second) == [count]


async def test_copy_into_the_selected_mailbox_reports_exists_at_once(
    sessions: tuple[imaplib.IMAP4, imaplib.IMAP4],
) -> None:
    first, _ = sessions
    ok(first.append("INBOX", "", None, IMAPTEST_MESSAGE))
    ok(first.noop())
    exists(first)
    ok(first.copy("1", "INBOX"))
    assert exists(first) == [2]


async def test_expunge_reports_a_message_another_session_removed_first(
    sessions: tuple[imaplib.IMAP4, imaplib.IMAP4],
) -> None:
    """RFC 9051 §6.4.3, imaptest's `expunge`: two sessions EXPUNGE the same \\Deleted
    message; the second's answer still reports it, though the other removed it first
    and the store's event may not have reached this session yet. Several rounds: the
    race goes the other way now and then."""
    first, second = sessions
    for _ in range(5):
        ok(first.append("INBOX", "", None, IMAPTEST_MESSAGE))
        for client in (first, second):
            ok(client.noop())
            untagged(client, "EXPUNGE")
        ok(first.store("1:*", "+FLAGS.SILENT", "(\\Deleted)"))
        ok(second.noop())
        # imaplib's expunge() answers with the EXPUNGE responses it read ([None]: none).
        assert ok(first.expunge()) == [b"1"]
        assert ok(second.expunge()) == [b"1"]  # at once: no event can be counted on


def modseqs(data: list[object]) -> list[int]:
    """The MODSEQs in an imaplib command's FETCH data."""
    heads = [item[0] if isinstance(item, tuple) else item for item in data]
    found = (re.search(rb"MODSEQ \((\d+)\)", h) for h in heads if isinstance(h, bytes))
    return [int(m[1]) for m in found if m]


async def test_flags_fetched_before_the_event_still_come_with_their_modseq(
    sessions: tuple[imaplib.IMAP4, imaplib.IMAP4],
) -> None:
    """RFC 7162 §3.1, imaptest's checkpoint ("modseqs differ"): a CONDSTORE session's
    FETCH FLAGS shows another session's change before its event arrives, without the
    MODSEQ (unasked, as Dovecot answers); the change's report must still follow with
    it, or the client keeps the older MODSEQ beside the newer flags. Several rounds:
    the event sometimes wins the race."""
    mine, other = sessions
    ok(other.append("INBOX", "", None, IMAPTEST_MESSAGE))
    for client in (mine, other):
        ok(client.noop())
        ok(client.fetch("1", "(MODSEQ)"))  # CONDSTORE on (RFC 7162 §3.1)
    for n in range(1, 6):
        stored = modseqs(ok(other.store("1", "FLAGS", f"($Label{n})")))
        assert len(stored) == 1
        seen = ok(mine.fetch("1", "(FLAGS)"))
        ok(mine.noop())
        seen += untagged(mine, "FETCH")
        assert stored[0] in modseqs(seen), (n, seen)


# imaptest's append-binary: a part whose Content-Transfer-Encoding is binary, holding NUL.
BINARY_MESSAGE = (
    b"From: user@domain.org\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: binary\r\n\r\n\x00-\xe4\r\n\r\n"
)


async def test_a_binary_append_comes_back_whole_from_fetch_binary(
    endpoints: Endpoints, account: str
) -> None:
    """RFC 3516 §4.4 APPEND of a literal8 and §4.2 FETCH BINARY of it: the octets as
    appended, NUL included, as a literal8 (``~{n}``)."""
    client = _login(endpoints, account)
    try:
        client.send(b"b1 APPEND INBOX ~{%d}\r\n" % len(BINARY_MESSAGE))
        assert client.readline().startswith(b"+")
        client.send(BINARY_MESSAGE + b"\r\n")
        assert client.readline().startswith(b"b1 OK"), "APPEND of a literal8 refused"
        ok(client.select("INBOX"))
        client.send(b"b2 FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])\r\n")
        assert client.readline() == b"* 1 FETCH (BINARY.SIZE[1] 7 BINARY[1] ~{7}\r\n"
        assert client.read(7) == b"\x00-\xe4\r\n\r\n"
        assert client.readline() == b")\r\n"
        assert client.readline().startswith(b"b2 OK")
        # BODY[1] cannot hold NUL (RFC 9051 §4.3): 0x80 stands for it.
        client.send(b"b3 FETCH 1 (BODY.PEEK[1])\r\n")
        assert client.readline() == b"* 1 FETCH (BODY[1] {7}\r\n"
        assert client.read(7) == b"\x80-\xe4\r\n\r\n"
        assert client.readline() == b")\r\n"
        assert client.readline().startswith(b"b3 OK")
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()


# --- \\Recent (RFC 3501 §2.3.2): the mail store decides which session is the first told ---


def recent(client: imaplib.IMAP4) -> list[int]:
    """SEARCH RECENT: the sequence numbers \\Recent in this session."""
    data = ok(client.search(None, "RECENT"))
    return [int(n) for n in data[0].split()]  # type: ignore[union-attr]


async def test_one_session_in_all_sees_a_message_recent(endpoints: Endpoints, account: str) -> None:
    await deliver(endpoints, account, "one")
    await deliver(endpoints, account, "two")
    looker, first, second = (_login(endpoints, account) for _ in range(3))
    try:
        async with asyncio.timeout(IDLE_WAIT):
            while True:
                if ok(looker.status("INBOX", "(MESSAGES)"))[0] == b"INBOX (MESSAGES 2)":
                    break
                await asyncio.sleep(0.1)

        ok(looker.select("INBOX", readonly=True))
        examined = looker.untagged_responses.pop("RECENT")
        ok(first.select("INBOX"))
        first_recent = first.untagged_responses.pop("RECENT")
        ok(second.select("INBOX"))
        second_recent = second.untagged_responses.pop("RECENT")
        flags = ok(first.fetch("1:*", "(FLAGS)"))
        status = ok(looker.status("INBOX", "(RECENT)"))

        # EXAMINE shows them \Recent without claiming; SELECT claims (RFC 3501 §6.3.2).
        assert (examined, first_recent, second_recent) == ([b"2"], [b"2"], [b"0"])
        assert all(b"\\Recent" in line for line in flags)  # type: ignore[operator]
        assert status == [b"INBOX (RECENT 0)"]

        # A message arriving while both are selected is \Recent in exactly one of them.
        await deliver(endpoints, account, "three")
        await wait_exists(first, 3)
        await wait_exists(second, 3)
        holders = [3 in recent(client) for client in (first, second)]
        assert sorted(holders) == [False, True]
        assert recent(first)[:2] == [1, 2]
    finally:
        for client in (looker, first, second):
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()


# Rounds of the race below: each is won by the broker's event or by the STORE.
RACE_ROUNDS = 20
_FLAGS_OF_1 = re.compile(rb"^1 \(.*FLAGS \(([^)]*)\)")


def told(data: list[object], known: frozenset[bytes]) -> frozenset[bytes]:
    """Message 1's flags as a client knows them after these FETCH responses."""
    for item in data:
        if isinstance(item, bytes) and (found := _FLAGS_OF_1.match(item)) is not None:
            known = frozenset(found[1].split()) - {b"\\Recent"}
    return known


async def test_a_silent_store_racing_the_webs_read_mark_leaves_no_flag_unknown(
    endpoints: Endpoints, imap: imaplib.IMAP4, account: str, mailstore: MailstoreAPI
) -> None:
    """Issue 13: the web marks a message read and at once a session's STORE .SILENT
    adds \\Answered. When the STORE runs before the web's event reaches the session,
    its result takes \\Seen in; the client, which works out its flags from what it
    was told plus what it asked, must then be told (RFC 9051 §6.4.6), or it keeps
    \\Answered alone for good (docs/imap.md "The mailbox-model state machine")."""
    await deliver(endpoints, account, "Race me")
    (summary,) = await mailstore.wait_for(account, 1)
    path = f"/v1/accounts/{quote(account)}/messages/{summary['id']}"
    ok(imap.select("INBOX"))
    wrong = []
    for n in range(RACE_ROUNDS):
        untagged(imap, "FETCH")
        _, data = imap.store("1", "FLAGS", "()")
        known = told(data, frozenset({b"?"}))
        assert known == frozenset(), data
        status, body = await mailstore.call("PATCH", path, json={"read": True})
        assert status == 200, (status, body)
        _, data = imap.store("1", "+FLAGS.SILENT", "(\\Answered)")
        known = told(data, known) | {b"\\Answered"}
        ok(imap.noop())
        known = told(untagged(imap, "FETCH"), known)
        stored = await mailstore.message(account, summary["id"])
        flags = {b"\\Seen": stored["read"], b"\\Answered": stored["answered"]}
        if known != {flag for flag, on in flags.items() if on}:
            wrong.append((n, sorted(known)))
    assert wrong == [], f"the client's flags differ from the store's in {len(wrong)} rounds"
