"""POP3 (issue 14) against the real stack: the IMAP gateway's POP3 listeners on the real
mail store, with Python's poplib, fetchmail and getmail6.

One stack per module, with TLS files (a trustme CA): poplib goes over POP3S (implicit
TLS) and over STLS; fetchmail and getmail speak plain POP3 over loopback (a trusted
network). Messages arrive through the SMTP gateway, or are APPENDed over IMAP when a
test needs exact bytes (no final newline, lines starting with "."). A program that is
not installed skips its test with the reason, except under .ci/run, which installs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import poplib
import re
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import trustme

from smtplib_common.client import SMTPClient
from tests.integration.mailapi import MailstoreAPI
from tests.integration.mailprograms import (
    destination_user,
    fetchmail,
    gateway_tls,
    require,
    run,
)
from tests.integration.stack import Endpoints, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "a long enough pop3 password"
# Bounds, not timings: a loaded machine may be slow, a hung client must still fail.
DELIVERY_WAIT = 120.0
POP_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pop3-tls")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(
    database_url: str, amqp_url: str, tls_dir: Path, ca: trustme.CA
) -> AsyncIterator[LocalStack]:
    async with LocalStack(
        admin_database_url=database_url,
        amqp_url=amqp_url,
        imap=True,
        service_overrides={"imap-gateway": gateway_tls(ca, tls_dir)},
    ) as s:
        yield s


@pytest.fixture(scope="module")
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def gateway_port(stack: LocalStack, variable: str) -> int:
    return int(stack.services["imap-gateway"].env[variable])


@pytest_asyncio.fixture(loop_scope="module")
async def address(mailstore: MailstoreAPI, new_address: str) -> str:
    """A new account's address; its password is PASSWORD."""
    await mailstore.create_account(new_address, PASSWORD)
    return new_address


async def deliver(
    endpoints: Endpoints, mailstore: MailstoreAPI, address: str, count: int, *, before: int = 0
) -> None:
    """``count`` messages through the SMTP gateway; return once the Inbox holds them
    (and the ``before`` it held)."""
    async with SMTPClient(*endpoints.smtp) as client:
        for n in range(count):
            body = f"Message {n}.\n.a line starting with a dot\nlast line\n"
            result = await client.send_message(
                "someone@example.org", [address], f"token pop3-{n}", body
            )
            assert list(result.accepted) == [address]
    await mailstore.wait_for(address, before + count, timeout=DELIVERY_WAIT)


@contextlib.contextmanager
def imap(endpoints: Endpoints, address: str) -> Iterator[imaplib.IMAP4]:
    assert endpoints.imap is not None
    client = imaplib.IMAP4(*endpoints.imap, timeout=POP_TIMEOUT)
    try:
        client.login(address, PASSWORD)
        yield client
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()


def append(endpoints: Endpoints, address: str, raw: bytes) -> None:
    with imap(endpoints, address) as client:
        typ, data = client.append("INBOX", None, None, raw)
        assert typ == "OK", data


def inbox_view(endpoints: Endpoints, address: str) -> tuple[int, dict[int, int]]:
    """INBOX's UIDVALIDITY and each message's RFC822.SIZE by UID, over IMAP."""
    with imap(endpoints, address) as client:
        typ, data = client.select("INBOX", readonly=True)
        assert typ == "OK", data
        uidvalidity = int(client.untagged_responses["UIDVALIDITY"][0])
        typ, data = client.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
        sizes = {}
        for line in data:
            if isinstance(line, bytes):
                uid, size = re.findall(rb"UID (\d+) RFC822.SIZE (\d+)", line)[0]
                sizes[int(uid)] = int(size)
        return uidvalidity, sizes


def pop3s(stack: LocalStack, client_tls: ssl.SSLContext) -> poplib.POP3_SSL:
    port = gateway_port(stack, "POP3S_PORT")
    return poplib.POP3_SSL("127.0.0.1", port, timeout=POP_TIMEOUT, context=client_tls)


def plain(stack: LocalStack) -> poplib.POP3:
    return poplib.POP3("127.0.0.1", gateway_port(stack, "POP3_PORT"), timeout=POP_TIMEOUT)


def logged_in(client: poplib.POP3, address: str) -> poplib.POP3:
    client.user(address)
    client.pass_(PASSWORD)
    return client


@contextlib.contextmanager
def pop3s_session(
    stack: LocalStack, client_tls: ssl.SSLContext, address: str
) -> Iterator[poplib.POP3]:
    """A logged-in POP3S session; its socket is closed at the end (QUIT is the test's)."""
    client = logged_in(pop3s(stack, client_tls), address)
    try:
        yield client
    finally:
        client.close()


def served(lines: list[bytes]) -> bytes:
    """The octets of a RETR as poplib hands them over (unstuffed, line ends removed)."""
    return b"".join(line + b"\r\n" for line in lines)


# --- poplib ---------------------------------------------------------------------------------


async def test_poplib_over_pop3s_sizes_and_uidl_match_the_store(
    stack: LocalStack,
    endpoints: Endpoints,
    mailstore: MailstoreAPI,
    address: str,
    client_tls: ssl.SSLContext,
) -> None:
    await deliver(endpoints, mailstore, address, 3)
    uidvalidity, sizes = inbox_view(endpoints, address)

    def session() -> tuple[tuple[int, int], list[bytes], list[bytes], list[bytes]]:
        with pop3s_session(stack, client_tls, address) as client:
            stat = client.stat()
            listing = client.list()[1]
            ids = client.uidl()[1]
            bodies = [served(client.retr(n)[1]) for n in (1, 2, 3)]
            client.quit()
        return stat, listing, ids, bodies

    stat, listing, ids, bodies = await asyncio.to_thread(session)
    uids = sorted(sizes)
    assert stat == (3, sum(sizes.values()))
    assert listing == [f"{n} {sizes[uid]}".encode() for n, uid in enumerate(uids, 1)]
    assert ids == [f"{n} {uidvalidity}.{uid}".encode() for n, uid in enumerate(uids, 1)]
    # The stored bytes are CRLF already: what RETR sends is exactly LIST's octet count.
    assert [len(body) for body in bodies] == [sizes[uid] for uid in uids]
    assert all(b"\r\n.a line starting with a dot\r\n" in body for body in bodies)
    # The same unique-ids in the next session.
    again = await asyncio.to_thread(lambda: _uidl(stack, client_tls, address))
    assert again == ids


def _uidl(stack: LocalStack, client_tls: ssl.SSLContext, address: str) -> list[bytes]:
    with pop3s_session(stack, client_tls, address) as client:
        ids = client.uidl()[1]
        client.quit()
    return ids


async def test_framing_of_exact_bytes_through_the_store(
    stack: LocalStack, endpoints: Endpoints, address: str, client_tls: ssl.SSLContext
) -> None:
    no_newline = b"Subject: no newline\r\n\r\nlast line without CRLF"
    dots = b"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n"
    eight_bit = "Subject: 8bit\r\n\r\nGrüße ½ €\r\n".encode() + bytes(range(0x80, 0x100)) + b"\r\n"
    for raw in (no_newline, dots, eight_bit):
        append(endpoints, address, raw)

    def session() -> tuple[list[bytes], list[bytes], list[bytes]]:
        with pop3s_session(stack, client_tls, address) as client:
            got = [served(client.retr(n)[1]) for n in (1, 2, 3)]
            top = client.top(2, 0)[1]
            sizes = client.list()[1]
            client.quit()
        return got, top, sizes

    got, top, sizes = await asyncio.to_thread(session)
    assert got == [no_newline + b"\r\n", dots, eight_bit]
    assert top == [b"Subject: dots", b""]
    assert sizes == [
        f"{n} {len(raw)}".encode() for n, raw in enumerate((no_newline, dots, eight_bit), 1)
    ]


async def test_dele_and_quit_move_to_trash_seen_through_the_api_and_imap(
    stack: LocalStack,
    endpoints: Endpoints,
    mailstore: MailstoreAPI,
    address: str,
    client_tls: ssl.SSLContext,
) -> None:
    await deliver(endpoints, mailstore, address, 2)

    def session() -> bytes:
        with pop3s_session(stack, client_tls, address) as client:
            client.dele(1)
            return client.quit()

    assert (await asyncio.to_thread(session)).startswith(b"+OK")
    inbox = await mailstore.folder(address, "inbox")
    trash = await mailstore.folder(address, "trash")
    assert [m["subject"] for m in inbox] == ["token pop3-1"]
    assert [m["subject"] for m in trash] == ["token pop3-0"]
    with imap(endpoints, address) as client:
        typ, data = client.select("Trash", readonly=True)
        assert (typ, data) == ("OK", [b"1"])


async def test_a_dropped_session_deletes_nothing_and_rset_undoes_dele(
    stack: LocalStack,
    endpoints: Endpoints,
    mailstore: MailstoreAPI,
    address: str,
    client_tls: ssl.SSLContext,
) -> None:
    await deliver(endpoints, mailstore, address, 2)

    def dropped() -> None:
        client = logged_in(pop3s(stack, client_tls), address)
        client.dele(1)
        client.dele(2)
        client.close()  # no QUIT

    def rset_then_quit() -> bytes:
        # Logging in at all shows the dropped session's lock was released.
        client = pop3s(stack, client_tls)
        try:
            client.user(address)
            try:
                client.pass_(PASSWORD)
            except poplib.error_proto as error:
                return bytes(error.args[0])
            client.dele(1)
            client.rset()
            return client.quit()
        finally:
            client.close()

    await asyncio.to_thread(dropped)
    deadline = time.monotonic() + POP_TIMEOUT
    # The dropped session's clean-up may still be running: IN-USE until it is done.
    while (bye := await asyncio.to_thread(rset_then_quit)).startswith(b"-ERR [IN-USE]"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert bye.startswith(b"+OK"), bye
    assert len(await mailstore.folder(address, "inbox")) == 2
    assert await mailstore.folder(address, "trash") == []


async def test_a_second_session_gets_in_use_across_listeners(
    stack: LocalStack, address: str, client_tls: ssl.SSLContext
) -> None:
    def sessions() -> tuple[bytes, bytes]:
        first = logged_in(pop3s(stack, client_tls), address)
        try:
            second = plain(stack)
            try:
                second.user(address)
                with pytest.raises(poplib.error_proto) as refused:
                    second.pass_(PASSWORD)
            finally:
                second.close()
        finally:
            first.quit()
            first.close()
        return refused.value.args[0], b""

    refusal, _ = await asyncio.to_thread(sessions)
    assert refusal.startswith(b"-ERR [IN-USE]")


async def test_wrong_password_is_auth_and_stls_allows_login(
    stack: LocalStack, mailstore: MailstoreAPI, address: str, client_tls: ssl.SSLContext
) -> None:
    def session() -> tuple[bytes, dict[str, list[str]], bytes]:
        client = plain(stack)
        try:
            client.user(address)
            with pytest.raises(poplib.error_proto) as refused:
                client.pass_("wrong password")
            client.stls(client_tls)
            capabilities = client.capa()
            client.user(address)
            ok = client.pass_(PASSWORD)
            client.quit()
        finally:
            client.close()
        return refused.value.args[0], capabilities, ok

    refusal, capabilities, ok = await asyncio.to_thread(session)
    assert refusal.startswith(b"-ERR [AUTH]")
    assert "USER" in capabilities
    assert "STLS" not in capabilities
    assert ok.startswith(b"+OK")
    # Both checks went through the mail store's shared throttle as channel pop3.
    _, metrics = await mailstore.call("GET", "/metrics")
    assert b'mailstore_logins_total{channel="pop3",outcome="failed"}' in metrics
    assert b'mailstore_logins_total{channel="pop3",outcome="ok"}' in metrics


async def test_a_twenty_mib_message_streams_through_byte_for_byte(
    stack: LocalStack, endpoints: Endpoints, address: str, client_tls: ssl.SSLContext
) -> None:
    line = b".dot-started line of a big message, with 8-bit \xc3\xa9 octets\r\n"
    raw = b"Subject: big\r\n\r\n" + line * (20 * 1024 * 1024 // len(line))
    append(endpoints, address, raw)

    def session() -> tuple[bytes, bytes]:
        with pop3s_session(stack, client_tls, address) as client:
            status, lines, _ = client.retr(1)
            client.quit()
        return status, served(lines)

    status, got = await asyncio.to_thread(session)
    assert status == f"+OK {len(raw)} octets".encode()
    assert got == raw


# --- fetchmail and getmail6 -------------------------------------------------------------------


async def test_fetchmail_downloads_and_deletes_into_trash(
    stack: LocalStack,
    endpoints: Endpoints,
    mailstore: MailstoreAPI,
    address: str,
    tmp_path: Path,
) -> None:
    require("fetchmail")
    await deliver(endpoints, mailstore, address, 4)
    # No "keep": fetchmail deletes what it fetched, the set-up that loses mail elsewhere.
    # sslproto "": no opportunistic STLS (loopback is trusted).
    delivered = fetchmail(
        tmp_path,
        f"127.0.0.1 service {gateway_port(stack, 'POP3_PORT')} protocol POP3 uidl",
        f'user "{address}" password "{PASSWORD}" sslproto ""',
    )
    got = [path.read_bytes() for path in delivered]
    assert len(got) == 4
    assert all(b"\n.a line starting with a dot\n" in message for message in got)
    assert await mailstore.folder(address, "inbox") == []
    assert len(await mailstore.folder(address, "trash")) == 4


async def test_getmail_retrieves_new_mail_once_by_uidl(
    stack: LocalStack,
    endpoints: Endpoints,
    mailstore: MailstoreAPI,
    address: str,
    tmp_path: Path,
) -> None:
    getmail = require("getmail")
    await deliver(endpoints, mailstore, address, 3)
    with tempfile.TemporaryDirectory() as top:
        maildir = Path(top) / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True)
        rc = tmp_path / "getmailrc"
        rc.write_text(
            f"""[retriever]
type = SimplePOP3Retriever
server = 127.0.0.1
port = {gateway_port(stack, "POP3_PORT")}
username = {address}
password = {PASSWORD}

[destination]
type = Maildir
path = {maildir}/
{destination_user(maildir)}
[options]
read_all = false
delete = false
verbose = 0
"""
        )
        argv = [getmail, "--getmaildir", str(tmp_path), "--rcfile", str(rc)]

        def files() -> list[Path]:
            return sorted(p for sub in ("cur", "new") for p in (maildir / sub).iterdir())

        await asyncio.to_thread(run, argv)
        first = files()
        assert len(first) == 3
        await asyncio.to_thread(run, argv)
        assert files() == first  # the unique-ids are stable: nothing fetched twice
        await deliver(endpoints, mailstore, address, 4, before=3)
        await asyncio.to_thread(run, argv)
        assert len(files()) == 7
    # delete = false: the Inbox keeps everything.
    assert len(await mailstore.folder(address, "inbox")) == 7
