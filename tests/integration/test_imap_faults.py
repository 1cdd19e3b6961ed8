"""IMAP under faults (issue 13): two mail stores storing at once, kill -9 of an IMAP
gateway mid-APPEND, a mail store restart with sessions open, SIGTERM of a gateway.

Counted as the SMTP fault runs are (harness.py): every APPEND is *acknowledged*
(tagged OK with APPENDUID), *refused* (tagged NO) or *unknown* (no tagged answer);
every COPY/MOVE acknowledged with COPYUID. Afterwards a fresh session reads the
folders: each acknowledged UID holds its message, byte for byte, once; nothing
unknown is there twice; nothing is there that was never sent; UIDs rise with the
sequence numbers and stay below UIDNEXT. Each message carries a token in its
Subject, Message-ID and every body line, so a half or mixed message shows.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio

from tests.integration.harness import Attempts, new_run_id, send_stream
from tests.integration.imap_client import Answer, Client, Closed, Response, copyuids
from tests.integration.mailapi import MailstoreAPI
from tests.integration.ports import free_port
from tests.integration.stack import LocalStack

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.asyncio(loop_scope="function")]

# `make test-faults` sets LOCALPOST_FAULT_MESSAGES=5000 (2,000 in make test): these runs
# grow by the same factor.
SCALE = max(1.0, int(os.environ.get("LOCALPOST_FAULT_MESSAGES", "2000")) / 2000)
PASSWORD = "imap fault injection password"
# A bound on waits for a change to show (a hang fails; never a timing assertion).
CHANGE_WAIT = 30.0
SHARED = "Shared"


# --- messages ----------------------------------------------------------------------------


def message(token: str, size: int = 0) -> bytes:
    """A message whose every line names ``token``, at least ``size`` octets long."""
    head = (
        f"From: faults@example.org\r\nTo: someone@example.org\r\nSubject: token {token}\r\n"
        f"Message-ID: <{token}@faults.test>\r\n\r\nbody of {token}\r\n"
    ).encode()
    line = f"{token} filler line {{:08d}} 0123456789abcdefghijklmnopqrstuvwxyz\r\n"
    filler = "".join(line.format(n) for n in range(max(0, size - len(head)) // len(line) + 1))
    return head + filler.encode()


def subject_token(header: bytes) -> str:
    found = re.search(rb"Subject: token (\S+)", header)
    assert found is not None, header
    return found.group(1).decode()


# --- a folder as a fresh session sees it -------------------------------------------------


@dataclass
class View:
    """A folder after SELECT: (sequence number, UID, flags) in order, UIDNEXT, and by
    UID the message's bytes (or its Subject header only)."""

    rows: list[tuple[int, int, str]]
    uidnext: int
    data: dict[int, bytes]

    @property
    def uids(self) -> list[int]:
        return [uid for _, uid, _ in self.rows]

    def tokens(self) -> Counter[str]:
        return Counter(subject_token(d) for d in self.data.values())

    def assert_consistent(self) -> None:
        """Sequence numbers 1..n; UIDs unique, rising with them, below UIDNEXT."""
        assert [seq for seq, _, _ in self.rows] == list(range(1, len(self.rows) + 1))
        uids = self.uids
        assert uids == sorted(set(uids)), uids
        assert not uids or self.uidnext > uids[-1], (self.uidnext, uids[-1])


_FETCH = re.compile(rb"^\* (\d+) FETCH \(.*UID (\d+)")
_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
# \Recent is the session's, not the message's (RFC 3501 §2.3.2): one session sees it,
# a fresh one does not, so views are compared without it.
SESSION_FLAGS = {"\\Recent"}


def fetched(answer: Answer) -> list[tuple[int, int, str, bytes]]:
    """(seq, UID, flags, first literal) of each FETCH response of ``answer``."""
    rows = []
    for r in answer.untagged:
        found = _FETCH.match(r.line)
        if found:
            flags = _FLAGS.search(r.line)
            rows.append(
                (
                    int(found.group(1)),
                    int(found.group(2)),
                    " ".join(sorted(set(flags.group(1).decode().split()) - SESSION_FLAGS))
                    if flags
                    else "",
                    r.literals[0] if r.literals else b"",
                )
            )
    return rows


async def select(client: Client, folder: str) -> int:
    """SELECT ``folder``; its UIDNEXT."""
    answer = (await client.command(f'SELECT "{folder}"')).expect_ok()
    for r in answer.untagged:
        found = re.search(rb"\[UIDNEXT (\d+)\]", r.line)
        if found:
            return int(found.group(1))
    raise AssertionError("SELECT without UIDNEXT")


async def read_view(
    address: tuple[str, int], user: str, folder: str, *, whole: bool = True
) -> View:
    client = await Client.login(address, user, PASSWORD)
    try:
        uidnext = await select(client, folder)
        section = "BODY.PEEK[]" if whole else "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"
        answer = (await client.command(f"UID FETCH 1:* (UID FLAGS {section})")).expect_ok()
    finally:
        await client.logout()
    rows = fetched(answer)
    return View([(s, u, f) for s, u, f, _ in rows], uidnext, {u: d for _, u, _, d in rows})


# --- APPEND streams ----------------------------------------------------------------------


@dataclass
class Appended:
    """One APPEND (one or several messages) and what became of it."""

    tokens: list[str]
    sent_at: float
    answered_at: float = 0.0
    uids: list[int] = field(default_factory=list)
    outcome: str = "unknown"  # acknowledged / refused / unknown


@dataclass
class AppendLog:
    appends: list[Appended] = field(default_factory=list)
    sent: dict[str, bytes] = field(default_factory=dict)

    def with_outcome(self, outcome: str) -> list[Appended]:
        return [a for a in self.appends if a.outcome == outcome]

    @property
    def acknowledged(self) -> dict[int, str]:
        """UID -> token of every acknowledged message."""
        return {
            uid: token
            for a in self.with_outcome("acknowledged")
            for uid, token in zip(a.uids, a.tokens, strict=True)
        }


async def append_stream(
    address: tuple[str, int],
    user: str,
    folder: str,
    log: AppendLog,
    *,
    name: str,
    count: int,
    size: Callable[[int], int] | None = None,
    multi_every: int = 4,
    stop: asyncio.Event | None = None,
) -> None:
    """``count`` APPENDs from one client, every ``multi_every``-th a MULTIAPPEND of three;
    a client whose connection breaks reconnects and goes on with new tokens (it never
    retries a token: a retry would hide what became of it)."""
    client: Client | None = None
    try:
        for n in range(count):
            if stop is not None and stop.is_set():
                return
            tokens = [f"{name}-{n:04d}-{k}" for k in range(3 if n % multi_every == 3 else 1)]
            data = [message(t, size(n) if size else 0) for t in tokens]
            log.sent.update(zip(tokens, data, strict=True))
            entry = Appended(tokens, time.monotonic())
            log.appends.append(entry)
            try:
                if client is None:
                    client = await Client.connect(*address)
                    login = await client.command(f'LOGIN "{user}" "{PASSWORD}"')
                    if not login.ok:  # the store checks passwords: away, it cannot
                        assert login.tagged.code == "UNAVAILABLE", login.tagged.line
                        entry.outcome = "refused"
                        await client.logout()
                        client = None
                        await asyncio.sleep(0.2)
                        continue
                answer, uids = await client.append(folder, data, flags="\\Seen")
            except (Closed, ConnectionError, OSError):
                if client is not None:
                    await client.close()
                client = None
                await asyncio.sleep(0.2)  # not a spin against a dead gateway
                continue
            entry.answered_at = time.monotonic()
            if answer.ok:
                assert len(uids) == len(tokens), answer.tagged.line
                entry.uids, entry.outcome = uids, "acknowledged"
            else:
                assert answer.tagged.status == b"NO", answer.tagged.line
                assert answer.tagged.code == "UNAVAILABLE", answer.tagged.line
                entry.outcome = "refused"
                await asyncio.sleep(0.2)  # as a client would after NO [UNAVAILABLE]
    finally:
        if client is not None:
            await client.logout()


def assert_appends_stored(log: AppendLog, view: View, *, others: Counter[str]) -> None:
    """Each acknowledged message at its UID, byte-equal, once; nothing unknown or
    refused twice (a NO [UNAVAILABLE] may come from a store that died between its COMMIT
    and its answer: stored, as an unknown one may be); nothing never sent. ``others``:
    tokens the folder may hold besides the APPENDs' (COPY/MOVE targets), with counts."""
    for uid, token in log.acknowledged.items():
        assert uid in view.data, f"acknowledged {token} (UID {uid}) is missing"
        assert view.data[uid] == log.sent[token], f"UID {uid} is not {token}'s bytes"
    stored = view.tokens() - others
    duplicated = [t for t, n in stored.items() if n > 1]
    assert not duplicated, duplicated
    assert not set(stored) - set(log.sent), set(stored) - set(log.sent)
    for uid, data in view.data.items():
        token = subject_token(data)
        if token in log.sent:
            assert data == log.sent[token], f"UID {uid}: {token} stored with other bytes"


def assert_allocation_order(log: AppendLog) -> None:
    """An APPEND answered before another was sent got lower UIDs (the UIDs are
    allocated in the order the store commits; RFC 9051 §2.3.1.1 "strictly ascending")."""
    done = sorted(log.with_outcome("acknowledged"), key=lambda a: a.answered_at)
    for later in done:
        before = [a for a in done if a.answered_at < later.sent_at]
        if before:
            assert max(u for a in before for u in a.uids) < min(later.uids), (later, before)
        assert later.uids == sorted(later.uids), later


def verdict(log: AppendLog, view: View) -> dict[str, int]:
    stored = view.tokens()
    unknown = {t for a in log.with_outcome("unknown") for t in a.tokens}
    refused = {t for a in log.with_outcome("refused") for t in a.tokens}
    return {
        "appends": len(log.appends),
        "messages": len(log.sent),
        "acknowledged": len(log.acknowledged),
        "refused": len(refused),
        "refused_stored": len(refused & set(stored)),
        "unknown": len(unknown),
        "unknown_stored": len(unknown & set(stored)),
        "in_folder": len(view.rows),
    }


# --- the stack ---------------------------------------------------------------------------


@pytest_asyncio.fixture
async def stack(database_url: str, amqp_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(admin_database_url=database_url, amqp_url=amqp_url, imap=True) as s:
        yield s


async def account(stack: LocalStack) -> str:
    assert stack.endpoints is not None
    address = f"imapfaults.{new_run_id()}@{stack.endpoints.domain}"
    async with aiohttp.ClientSession() as http:
        api = MailstoreAPI(http, stack.endpoints.mailstore_url, stack.endpoints.mailstore_token)
        await api.create_account(address, PASSWORD)
    return address


def imap_address(stack: LocalStack) -> tuple[str, int]:
    assert stack.endpoints is not None
    assert stack.endpoints.imap is not None
    return stack.endpoints.imap


async def second_mailstore_and_gateway(stack: LocalStack) -> tuple[str, int]:
    """A second mail store (same database, same broker) and a second IMAP gateway on
    it; the second gateway's IMAP address."""
    store_port, imap_port, imaps_port, http_port, pop3_port, pop3s_port = (
        free_port() for _ in range(6)
    )
    store_url = f"http://127.0.0.1:{store_port}"
    stack.add_replica("mailstore-2", "mailstore", store_url, MAILSTORE_PORT=str(store_port))
    stack.add_replica(
        "imap-gateway-2",
        "imap-gateway",
        f"http://127.0.0.1:{http_port}",
        MAILSTORE_URL=store_url,
        IMAP_PORT=str(imap_port),
        IMAPS_PORT=str(imaps_port),
        IMAP_HTTP_PORT=str(http_port),
        # Every listener of its own: the first gateway holds its POP3 ports.
        POP3_PORT=str(pop3_port),
        POP3S_PORT=str(pop3s_port),
    )
    await stack.restart("mailstore-2")
    await stack.restart("imap-gateway-2")
    return ("127.0.0.1", imap_port)


# --- 1. two mail stores, two gateways, everything at once --------------------------------


@dataclass
class CopyLog:
    """COPY/MOVE into SHARED: target UID -> token, and each command's times for the
    allocation order."""

    copied: dict[int, str] = field(default_factory=dict)
    moved: dict[int, str] = field(default_factory=dict)
    allocations: list[Appended] = field(default_factory=list)


@dataclass
class Watcher:
    """A session reading one folder's UIDs over and over (:func:`watch`)."""

    client: Client
    folder: str
    seen: set[int] = field(default_factory=set)
    reads: int = 0

    async def read(self) -> list[int]:
        """The UIDs now; a UID that shows up must be above every UID seen before (RFC
        9051 §2.3.1.1: assigned in strictly ascending order), or a client's cache
        that asks for UIDs above the highest it knows would miss it."""
        answer = (await self.client.command("UID FETCH 1:* (UID)")).expect_ok()
        uids = [uid for _, uid, _, _ in fetched(answer)]
        new = set(uids) - self.seen
        assert not self.seen or not new or min(new) > max(self.seen), (new, max(self.seen))
        self.seen.update(uids)
        self.reads += 1
        return uids

    async def converges(self, expected: list[int]) -> None:
        """The session comes to show ``expected`` (the changes reach it by events)."""
        deadline = time.monotonic() + CHANGE_WAIT
        # Each read is a command, which is what brings the changes (RFC 9051 §7).
        while (uids := await self.read()) != expected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        missing, extra = sorted(set(expected) - set(uids)), sorted(set(uids) - set(expected))
        assert uids == expected, f"{self.folder}: never shown {missing}, still shown {extra}"


async def watch(address: tuple[str, int], user: str, folder: str, stop: asyncio.Event) -> Watcher:
    """A :class:`Watcher` that reads until ``stop``, still logged in."""
    watcher = Watcher(await Client.login(address, user, PASSWORD), folder)
    await select(watcher.client, folder)
    while not stop.is_set():
        await watcher.read()
    return watcher


async def copy_stream(
    address: tuple[str, int], user: str, log: CopyLog, *, move: bool, parity: int,
    stop: asyncio.Event,
) -> None:  # fmt: skip
    """COPY (or MOVE) each Inbox message whose UID has ``parity`` into SHARED, once:
    the copier and the mover never take the same message, so SHARED must hold each
    token once."""
    client = await Client.login(address, user, PASSWORD)
    verb, done = ("MOVE" if move else "COPY"), set()
    try:
        await select(client, "INBOX")
        while not stop.is_set():
            listing = await client.command("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            rows = [
                (uid, subject_token(data))
                for _, uid, _, data in fetched(listing.expect_ok())
                if uid % 2 == parity and uid not in done
            ]
            for uid, token in rows:
                done.add(uid)
                entry = Appended([token], time.monotonic())
                answer = (await client.command(f"UID {verb} {uid} {SHARED}")).expect_ok()
                entry.answered_at = time.monotonic()
                for source, target in copyuids(answer):
                    assert source == uid, answer.tagged.line
                    (log.moved if move else log.copied)[target] = token
                    entry.uids, entry.outcome = [target], "acknowledged"
                    log.allocations.append(entry)
            if not rows:
                await asyncio.sleep(0.1)
    finally:
        await client.logout()


async def test_two_mail_stores_and_two_gateways_keep_uids_unique_and_rising(
    stack: LocalStack,
) -> None:
    assert stack.endpoints is not None
    first = imap_address(stack)
    second = await second_mailstore_and_gateway(stack)
    user = await account(stack)
    creator = await Client.login(first, user, PASSWORD)
    (await creator.command(f"CREATE {SHARED}")).expect_ok()
    await creator.logout()

    appends, copies, mail, stop = AppendLog(), CopyLog(), Attempts(), asyncio.Event()
    count = int(15 * SCALE)
    appenders = [
        append_stream(gateway, user, SHARED, appends, name=f"a{i}", count=count)
        for i, gateway in enumerate([first, second] * 3)
    ]
    copiers = [
        asyncio.create_task(copy_stream(first, user, copies, move=False, parity=0, stop=stop)),
        asyncio.create_task(copy_stream(second, user, copies, move=True, parity=1, stop=stop)),
    ]
    watchers = [
        asyncio.create_task(watch(gateway, user, folder, stop))
        for gateway in (first, second)
        for folder in (SHARED, "INBOX")
    ]
    smtp = send_stream(
        stack.endpoints.smtp, user, total=int(150 * SCALE), senders=4, run=new_run_id(),
        attempts=mail,
    )  # fmt: skip
    await asyncio.gather(*appenders, smtp)
    stop.set()
    await asyncio.gather(*copiers)
    watching = await asyncio.gather(*watchers)

    # Both mail stores consume the Inbox's mail: wait until all of it is in.
    inbox = await settled_inbox(first, user, len(mail.acknowledged) - len(copies.moved))
    shared = await read_view(first, user, SHARED)
    assert (await read_view(second, user, SHARED)).rows == shared.rows
    # Every session open all along, on either gateway, comes to the same view.
    for watcher in watching:
        await watcher.converges((shared if watcher.folder == SHARED else inbox).uids)
        await watcher.client.logout()
    shared.assert_consistent()
    inbox.assert_consistent()
    moved_or_copied = Counter([*copies.copied.values(), *copies.moved.values()])
    assert_appends_stored(appends, shared, others=moved_or_copied)
    assert not appends.with_outcome("unknown")
    assert not appends.with_outcome("refused")
    for uid, token in [*copies.copied.items(), *copies.moved.items()]:
        assert subject_token(shared.data[uid]) == token, (uid, token)
    assert shared.tokens() == Counter(list(appends.sent)) + moved_or_copied
    assert_allocation_order(AppendLog(appends.appends + copies.allocations))
    # Every 250 once: in the Inbox, or moved out of it.
    delivered = inbox.tokens() + Counter(copies.moved.values())
    assert delivered == Counter(list(mail.acknowledged)), delivered - Counter(
        list(mail.acknowledged)
    )
    figures = verdict(appends, shared) | {
        "copied": len(copies.copied),
        "moved": len(copies.moved),
        "smtp_acknowledged": len(mail.acknowledged),
        "inbox": len(inbox.rows),
        "watcher_reads": sum(w.reads for w in watching),
    }
    print(f"\nIMAP FAULTS two mail stores: {figures}")
    assert copies.copied, figures
    assert copies.moved, figures


async def settled_inbox(address: tuple[str, int], user: str, expected: int) -> View:
    """The Inbox once it holds ``expected`` messages (or the bound runs out)."""
    deadline = time.monotonic() + CHANGE_WAIT * 4
    while True:
        view = await read_view(address, user, "INBOX", whole=False)
        if len(view.rows) >= expected or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.5)


# --- 2. kill -9 of a gateway mid-APPEND ----------------------------------------------------


async def test_kill_9_of_a_gateway_mid_append_stores_each_acknowledged_message_once(
    stack: LocalStack,
) -> None:
    address, user = imap_address(stack), await account(stack)
    creator = await Client.login(address, user, PASSWORD)
    (await creator.command("CREATE Uploads")).expect_ok()
    await creator.logout()
    log = AppendLog()

    def size(n: int) -> int:
        return 2 * 1024 * 1024 if n % 3 == 1 else 0  # every third a large literal

    streams = [
        asyncio.create_task(
            append_stream(
                address, user, "Uploads", log, name=f"k{i}", count=int(25 * SCALE), size=size
            )
        )
        for i in range(4)
    ]
    async with asyncio.timeout(CHANGE_WAIT * 2):
        # Polling keeps the clients free of test hooks, as harness.wait_for_attempts.
        while len(log.acknowledged) < 12:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    before_kill = len(log.appends)
    await stack.services["imap-gateway"].kill9()
    await asyncio.sleep(1.0)
    await stack.restart("imap-gateway")
    await asyncio.gather(*streams)

    view = await read_view(address, user, "Uploads")
    view.assert_consistent()
    assert_appends_stored(log, view, others=Counter())
    assert_allocation_order(log)
    figures = verdict(log, view)
    print(f"\nIMAP FAULTS kill -9 gateway mid-APPEND: {figures}")
    assert figures["unknown"] > 0, figures  # the kill did cut APPENDs in flight
    after = [a for a in log.appends[before_kill:] if a.outcome == "acknowledged"]
    assert after, "the fresh gateway acknowledged nothing"


# --- 4. SIGTERM of a gateway ---------------------------------------------------------------


async def idling(address: tuple[str, int], user: str) -> Client:
    """A session in IDLE on the Inbox."""
    client = await Client.login(address, user, PASSWORD)
    await select(client, "INBOX")
    await client.send("IDLE")
    async with asyncio.timeout(CHANGE_WAIT):
        assert (await client.response()).line.startswith(b"+ ")
    return client


async def until_closed(client: Client) -> list[bytes]:
    """Every response line up to the end of the connection."""
    lines = []
    async with asyncio.timeout(CHANGE_WAIT):
        while True:
            try:
                lines.append((await client.response()).line)
            except (Closed, asyncio.IncompleteReadError):
                return lines


async def test_sigterm_of_a_gateway_finishes_an_append_in_flight_and_byes_the_rest(
    stack: LocalStack,
) -> None:
    address, user = imap_address(stack), await account(stack)
    idler = await idling(address, user)
    waiting = await Client.login(address, user, PASSWORD)
    await select(waiting, "INBOX")
    appender = await Client.login(address, user, PASSWORD)
    data = message("sigterm-0", 256 * 1024)
    half_sent = asyncio.Event()
    cut = asyncio.Event()

    async def append() -> tuple[Answer, list[int]]:
        half_sent.set()
        return await appender.append("INBOX", [data], cut=cut)

    appending = asyncio.create_task(append())
    try:
        await half_sent.wait()
        service = stack.services["imap-gateway"]
        await service.signal(signal.SIGTERM)
        # The stop has begun once idle sessions hear of it; only then the literal's rest.
        idle_lines = await until_closed(idler)
        waiting_lines = await until_closed(waiting)
        cut.set()
        answer, uids = await appending
        after = await until_closed(appender)
        exit_code = await service.wait()
    finally:
        cut.set()
        for client in (idler, waiting, appender):
            await client.close()

    assert idle_lines[-1:] == [b"* BYE Server shutting down"], idle_lines
    assert waiting_lines == [b"* BYE Server shutting down"], waiting_lines
    assert answer.ok, answer.tagged.line
    assert after == [b"* BYE Server shutting down"], after
    assert exit_code == 0, service.log_tail()
    await stack.restart("imap-gateway")
    view = await read_view(address, user, "INBOX")
    assert view.uids == uids
    assert view.data[uids[0]] == data


# --- 3. a mail store restart with sessions open -------------------------------------------


@dataclass
class Loop:
    """A selected session toggling \\Flagged on one message and reading every flag."""

    answers: Counter[str] = field(default_factory=Counter)
    refused: asyncio.Event = field(default_factory=asyncio.Event)
    ok_after: asyncio.Event = field(default_factory=asyncio.Event)
    restarted: bool = False
    byes: int = 0


async def store_fetch_loop(
    address: tuple[str, int], user: str, uids: list[int], loop: Loop, stop: asyncio.Event
) -> None:
    """STORE and FETCH until ``stop``; each answer must be OK or NO [UNAVAILABLE] (or a
    BYE, after which it logs in again); an OK FETCH shows every message, never fewer."""
    client = await Client.login(address, user, PASSWORD)
    await select(client, "INBOX")
    try:
        for n in itertools.count():
            if stop.is_set():
                return
            sign = "+" if n % 2 == 0 else "-"
            for command in (
                f"UID STORE {uids[0]} {sign}FLAGS (\\Flagged)",
                "UID FETCH 1:* (FLAGS)",
            ):
                try:
                    answer = await client.command(command)
                except Closed as closed:
                    seen: list[Response] | None = closed.seen
                else:
                    seen = None
                if seen is not None:
                    # A connection never just ends: BYE first (RFC 9051 §7.1.5).
                    assert any(r.line.startswith(b"* BYE") for r in seen), seen
                    loop.byes += 1
                    await client.close()
                    client = await Client.login(address, user, PASSWORD)
                    await select(client, "INBOX")
                    break
                outcome = answer.tagged.status.decode() + (
                    f" [{answer.tagged.code}]" if answer.tagged.code else ""
                )
                loop.answers[outcome] += 1
                assert outcome == "OK" or outcome == "NO [UNAVAILABLE]", answer.tagged.line
                if not answer.ok:
                    loop.refused.set()
                if answer.ok and command.startswith("UID FETCH"):
                    assert [uid for _, uid, _, _ in fetched(answer)] == uids, answer.untagged
                if answer.ok and loop.restarted:
                    loop.ok_after.set()
            await asyncio.sleep(0.02)
    finally:
        await client.logout()


async def until(event: asyncio.Event, task: asyncio.Task[None]) -> None:
    """Wait for ``event``; if ``task`` ends first, with its failure."""
    waiting = asyncio.ensure_future(event.wait())
    try:
        async with asyncio.timeout(CHANGE_WAIT):
            await asyncio.wait({waiting, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    if task.done():
        task.result()
    assert event.is_set(), "the loop ended first"


async def read_until(client: Client, wanted: list[bytes]) -> list[bytes]:
    """Responses (in IDLE) until each of ``wanted`` has been seen in one."""
    lines: list[bytes] = []
    async with asyncio.timeout(CHANGE_WAIT):
        while not all(any(w in line for line in lines) for w in wanted):
            lines.append((await client.response()).line)
    return lines


async def session_rows(client: Client) -> list[tuple[int, int, str]]:
    answer = (await client.command("UID FETCH 1:* (UID FLAGS)")).expect_ok()
    return [(seq, uid, flags) for seq, uid, flags, _ in fetched(answer)]


@pytest.mark.parametrize("how", ["SIGTERM", "kill -9"])
async def test_a_mail_store_restart_with_sessions_open_loses_and_corrupts_nothing(
    stack: LocalStack, how: str
) -> None:
    address, user = imap_address(stack), await account(stack)
    seeder = await Client.login(address, user, PASSWORD)
    _, uids = await seeder.append("INBOX", [message(f"seed-{n}") for n in range(8)])
    idler = await idling(address, user)
    loop, stop = Loop(), asyncio.Event()
    looping = asyncio.create_task(store_fetch_loop(address, user, uids, loop, stop))
    (await seeder.command("CREATE Uploads")).expect_ok()
    uploads = AppendLog()

    def size(n: int) -> int:
        return 512 * 1024 if n % 2 else 0

    uploads_stop = asyncio.Event()
    uploading = asyncio.create_task(
        append_stream(
            address, user, "Uploads", uploads, name="u", count=int(200 * SCALE), size=size,
            stop=uploads_stop,
        )
    )  # fmt: skip
    appender = await Client.login(address, user, PASSWORD)
    data, cut = message("mid-append", 64 * 1024), asyncio.Event()
    appending = asyncio.create_task(appender.append("INBOX", [data], cut=cut))
    store = stack.services["mailstore"]
    try:
        await asyncio.sleep(0.5)  # the loop runs; the APPEND's literal is half sent
        await (store.stop() if how == "SIGTERM" else store.kill9())
        cut.set()  # the APPEND's literal ends while the mail store is down
        mid_answer, mid_uids = await appending
        await until(loop.refused, looping)
        loop.restarted = True
        await stack.restart("mailstore")
        await until(loop.ok_after, looping)
        stop.set()
        await looping
        # The uploads go on until a few more are acknowledged by the restarted store.
        acknowledged = len(uploads.acknowledged)
        async with asyncio.timeout(CHANGE_WAIT):
            while len(uploads.acknowledged) < acknowledged + 5 and not uploading.done():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        uploads_stop.set()
        await uploading

        # The IDLE session sees what happens after the restart, and its view is right.
        await select(seeder, "INBOX")
        (await seeder.command(f"UID STORE {uids[1]} +FLAGS (\\Answered)")).expect_ok()
        _, later = await seeder.append("INBOX", [message("after-restart")])
        count = len(uids) + len(mid_uids) + 1
        seen = await read_until(idler, [b"\\Answered", b"* %d EXISTS" % count])
        await idler.send_line(b"DONE")
        fresh = await read_view(address, user, "INBOX", whole=False)
        fresh.assert_consistent()
        assert await session_rows(idler) == fresh.rows, seen
        assert await session_rows(seeder) == fresh.rows
    finally:
        stop.set()
        uploads_stop.set()
        cut.set()
        for client in (seeder, idler, appender):
            await client.logout()
    tokens = fresh.tokens()
    expected = [f"seed-{n}" for n in range(8)] + ["after-restart"]
    # The APPEND whose literal ended during the outage: refused, or stored (once).
    assert mid_answer.tagged.code == "UNAVAILABLE" or mid_answer.ok, mid_answer.tagged.line
    if mid_answer.ok:
        expected.append("mid-append")
    assert tokens == Counter(expected), tokens
    assert fresh.uids == [*uids, *mid_uids, *later]
    # APPENDs through the outage: those acknowledged stored once, none in part or twice.
    view = await read_view(address, user, "Uploads")
    view.assert_consistent()
    assert_appends_stored(uploads, view, others=Counter())
    figures = {"answers": dict(loop.answers), "byes": loop.byes} | verdict(uploads, view)
    print(f"\nIMAP FAULTS mail store {how}: {figures} APPEND {mid_answer.tagged.line!r}")
