"""Real mail programs against the IMAP gateway on the real mail store (issue 13).

One stack per module, with TLS files (a trustme CA) so that the gateway offers STARTTLS
and implicit TLS too; the clients speak plaintext over loopback (a trusted network)
except imapclient, which goes over the implicit-TLS port. Debian's isync (mbsync),
offlineimap3, getmail6 and fetchmail run as processes on temporary configuration
files; imapflow runs from tests/integration/imapflow/ under node. A program that is
not installed skips its test with the reason, except under .ci/run, which installs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import json
import re
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import trustme
from imapclient import IMAPClient  # type: ignore[import-untyped]

from smtplib_common.client import SMTPClient
from tests.integration.harness import Attempts, send_stream
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

PASSWORD = "a long enough imap password"
BIG = 1000
SMALL = 12
# Bounds, not timings: a loaded machine may be slow, a hung client must still fail.
DELIVERY_WAIT = 180.0
IDLE_WAIT = 15.0
IMAPFLOW_DIR = Path(__file__).parent / "imapflow"


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("imap-tls")


@pytest.fixture(scope="module")
def ca(tls_dir: Path) -> trustme.CA:
    return trustme.CA()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(
    database_url: str, amqp_url: str, tls_dir: Path, ca: trustme.CA
) -> AsyncIterator[LocalStack]:
    ca.cert_pem.write_to_path(str(tls_dir / "ca.pem"))
    tls = gateway_tls(ca, tls_dir)
    async with LocalStack(
        admin_database_url=database_url,
        amqp_url=amqp_url,
        imap=True,
        service_overrides={"imap-gateway": tls},
    ) as s:
        yield s


def imaps_port(stack: LocalStack) -> int:
    return int(stack.services["imap-gateway"].env["IMAPS_PORT"])


def ok(answer: tuple[str, list[Any]]) -> list[Any]:
    typ, data = answer
    assert typ == "OK", (typ, data)
    return data


@contextlib.contextmanager
def session(endpoints: Endpoints, address: str) -> Iterator[imaplib.IMAP4]:
    assert endpoints.imap is not None
    client = imaplib.IMAP4(*endpoints.imap, timeout=60)
    try:
        client.login(address, PASSWORD)
        yield client
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()


@pytest_asyncio.fixture(loop_scope="module")
async def address(mailstore: MailstoreAPI, new_address: str) -> str:
    """A new account's address; its password is PASSWORD."""
    await mailstore.create_account(new_address, PASSWORD)
    return new_address


async def deliver(endpoints: Endpoints, address: str, count: int, run_id: str) -> None:
    """``count`` messages through the SMTP gateway; return once the store holds them."""
    attempts = await send_stream(
        endpoints.smtp, address, total=count, senders=8, run=run_id, attempts=Attempts()
    )
    assert len(attempts.acknowledged) == count, attempts
    await wait_messages(endpoints, address, count)


async def wait_messages(endpoints: Endpoints, address: str, count: int) -> None:
    deadline = time.monotonic() + DELIVERY_WAIT
    with session(endpoints, address) as client:
        while True:
            data = ok(client.status("INBOX", "(MESSAGES)"))
            found = int(re.findall(rb"MESSAGES (\d+)", data[0])[0])
            if found >= count:
                assert found == count
                return
            assert time.monotonic() < deadline, f"{found} of {count} delivered"
            await asyncio.sleep(0.25)


def uids_by_token(client: imaplib.IMAP4) -> dict[str, int]:
    """The INBOX's UIDs by the harness token in each Subject."""
    ok(client.select("INBOX", readonly=True))
    data = ok(client.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    found: dict[str, int] = {}
    for item in data:
        if isinstance(item, tuple):
            uid = int(re.findall(rb"UID (\d+)", item[0])[0])
            found[token_in(item[1])] = uid
    return found


def token_in(message: bytes) -> str:
    match = re.search(rb"^Subject: token (\S+)", message, re.MULTILINE)
    assert match is not None, message[:300]
    return match.group(1).decode()


def flags_by_uid(client: imaplib.IMAP4) -> dict[int, set[str]]:
    ok(client.select("INBOX", readonly=True))
    data = ok(client.uid("FETCH", "1:*", "(UID FLAGS)"))
    found: dict[int, set[str]] = {}
    for line in data:
        assert isinstance(line, bytes), line
        uid = int(re.findall(rb"UID (\d+)", line)[0])
        flags = re.findall(rb"FLAGS \(([^)]*)\)", line)[0].decode().split()
        # \Recent belongs to the session that first saw the message (RFC 3501 §2.3.2),
        # not to the message: this EXAMINE sees it on mail no session has selected yet.
        found[uid] = set(flags) - {"\\Recent"}
    return found


def raw_of(client: imaplib.IMAP4, uid: int) -> bytes:
    data = ok(client.uid("FETCH", str(uid), "(BODY.PEEK[])"))
    for item in data:
        if isinstance(item, tuple):
            return item[1]  # type: ignore[no-any-return]
    raise AssertionError(data)


def maildir_files(folder: Path) -> list[Path]:
    return sorted(p for sub in ("cur", "new") for p in (folder / sub).iterdir())


def set_maildir_flags(path: Path, flags: str) -> Path:
    """Rename a Maildir message into cur/ with ``flags`` (Maildir's ``:2,`` info)."""
    base = path.name.split(":2,", 1)[0]
    old = path.name.split(":2,", 1)[1] if ":2," in path.name else ""
    target = path.parent.parent / "cur" / f"{base}:2,{''.join(sorted(set(old + flags)))}"
    path.rename(target)
    return target


def local_message(token: str) -> bytes:
    """A message written by a local mail program into a Maildir (LF line ends)."""
    return (
        f"From: Local <local@example.org>\nSubject: token {token}\n"
        "Date: Mon, 7 Dec 2026 10:00:00 +0000\nMessage-ID: <" + token + "@example.org>\n\n"
        "Written locally.\n"
    ).encode()


def maildir_state(folder: Path) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in maildir_files(folder)]


# --- isync (mbsync) ----------------------------------------------------------------------


def mbsyncrc(directory: Path, endpoints: Endpoints, address: str) -> Path:
    assert endpoints.imap is not None
    host, port = endpoints.imap
    (directory / "mail").mkdir()
    rc = directory / "mbsyncrc"
    rc.write_text(
        f"""IMAPAccount localpost
Host {host}
Port {port}
User {address}
Pass "{PASSWORD}"
SSLType None

IMAPStore localpost-far
Account localpost

MaildirStore localpost-near
Path {directory}/mail/
Inbox {directory}/mail/INBOX
SubFolders Verbatim

Channel localpost
Far :localpost-far:
Near :localpost-near:
Patterns *
Create Near
Sync All
SyncState *
"""
    )
    return rc


async def test_mbsync_syncs_1000_down_and_flags_up(
    endpoints: Endpoints, address: str, tmp_path: Path
) -> None:
    mbsync = require("mbsync")
    await deliver(endpoints, address, BIG, "mbsync")
    rc = mbsyncrc(tmp_path, endpoints, address)
    inbox = tmp_path / "mail" / "INBOX"

    run([mbsync, "-c", str(rc), "-a"])

    files = maildir_files(inbox)
    assert len(files) == BIG
    with session(endpoints, address) as client:
        uids = uids_by_token(client)
        assert len(uids) == BIG
        by_token = {token_in(p.read_bytes()): p for p in files}
        assert by_token.keys() == uids.keys()
        for token in sorted(uids)[::97]:
            stored = raw_of(client, uids[token])
            # mbsync keeps Maildir files in the local convention (LF line ends) and
            # adds its X-TUID tracking header to every message it copies.
            local = re.sub(rb"^X-TUID: \S+\n", b"", by_token[token].read_bytes(), flags=re.M)
            assert local == stored.replace(b"\r\n", b"\n")

    chosen = sorted(uids)[100:115]
    for token in chosen[:5]:
        by_token[token] = set_maildir_flags(by_token[token], "S")
    for token in chosen[5:10]:
        by_token[token] = set_maildir_flags(by_token[token], "F")
    for token in chosen[10:]:
        by_token[token] = set_maildir_flags(by_token[token], "T")

    run([mbsync, "-c", str(rc), "-a"])

    with session(endpoints, address) as client:
        flags = flags_by_uid(client)
    assert len(flags) == BIG
    want = {
        **{uids[t]: {"\\Seen"} for t in chosen[:5]},
        **{uids[t]: {"\\Flagged"} for t in chosen[5:10]},
        **{uids[t]: {"\\Deleted"} for t in chosen[10:]},
    }
    assert {uid: f for uid, f in flags.items() if f} == want

    before = maildir_state(inbox)
    run([mbsync, "-c", str(rc), "-a"])
    assert maildir_state(inbox) == before
    with session(endpoints, address) as client:
        assert flags_by_uid(client) == flags


# --- offlineimap3 ------------------------------------------------------------------------


def offlineimaprc(directory: Path, endpoints: Endpoints, address: str) -> Path:
    assert endpoints.imap is not None
    host, port = endpoints.imap
    rc = directory / "offlineimaprc"
    rc.write_text(
        f"""[general]
accounts = localpost
metadata = {directory}/metadata

[Account localpost]
localrepository = near
remoterepository = far

[Repository near]
type = Maildir
localfolders = {directory}/mail

[Repository far]
type = IMAP
remotehost = {host}
remoteport = {port}
remoteuser = {address}
remotepass = {PASSWORD}
ssl = no
starttls = no
folderfilter = lambda name: name == "INBOX"
"""
    )
    return rc


async def test_offlineimap_syncs_down_and_a_flag_up(
    endpoints: Endpoints, address: str, tmp_path: Path
) -> None:
    offlineimap = require("offlineimap")
    await deliver(endpoints, address, SMALL, "offlineimap")
    rc = offlineimaprc(tmp_path, endpoints, address)
    argv = [offlineimap, "-c", str(rc), "-o", "-u", "quiet"]

    run(argv)

    files = maildir_files(tmp_path / "mail" / "INBOX")
    assert len(files) == SMALL
    with session(endpoints, address) as client:
        uids = uids_by_token(client)
        by_token = {token_in(p.read_bytes()): p for p in files}
        assert by_token.keys() == uids.keys()
        token = sorted(uids)[3]
        assert by_token[token].read_bytes().replace(b"\n", b"\r\n") == raw_of(client, uids[token])

    set_maildir_flags(by_token[token], "F")
    removed = sorted(uids)[7]
    by_token[removed].unlink()
    (tmp_path / "mail" / "INBOX" / "new" / "1.local.offlineimap").write_bytes(
        local_message("offlineimap-pushed")
    )
    run(argv)

    with session(endpoints, address) as client:
        flags = flags_by_uid(client)
        now = uids_by_token(client)
        pushed = raw_of(client, now["offlineimap-pushed"])
    assert {uid: f for uid, f in flags.items() if f} == {uids[token]: {"\\Flagged"}}
    assert removed not in now
    assert len(now) == SMALL
    assert b"Subject: token offlineimap-pushed\r\n" in pushed


# --- getmail6 and fetchmail ---------------------------------------------------------------


def getmailrc(directory: Path, maildir: Path, endpoints: Endpoints, address: str) -> Path:
    assert endpoints.imap is not None
    host, port = endpoints.imap
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    rc = directory / "getmailrc"
    rc.write_text(
        f"""[retriever]
type = SimpleIMAPRetriever
server = {host}
port = {port}
username = {address}
password = {PASSWORD}
mailboxes = ("INBOX",)

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
    return rc


async def test_getmail_retrieves_new_mail_once(
    endpoints: Endpoints, address: str, tmp_path: Path
) -> None:
    getmail = require("getmail")
    await deliver(endpoints, address, SMALL, "getmail")
    # Outside tmp_path, whose parents only root may enter (see destination_user).
    with tempfile.TemporaryDirectory() as top:
        maildir = Path(top) / "Maildir"
        rc = getmailrc(tmp_path, maildir, endpoints, address)
        argv = [getmail, "--getmaildir", str(tmp_path), "--rcfile", str(rc)]
        await getmail_runs(argv, maildir, endpoints, address)


# The trace headers getmail adds to what it delivers; the rest is the message as served.
GETMAIL_HEADERS = re.compile(
    rb"^(?:Return-Path|Delivered-To|X-getmail-retrieved-from-mailbox): .*\n"
    rb"|^Received: from \S+ \(\S+\) by \S+ with IMAP4.*\n(?:[ \t].*\n)*",
    re.MULTILINE,
)


def without_getmail_headers(delivered: bytes) -> bytes:
    return GETMAIL_HEADERS.sub(b"", delivered)


async def getmail_runs(argv: list[str], maildir: Path, endpoints: Endpoints, address: str) -> None:
    run(argv)
    first = maildir_files(maildir)
    assert len(first) == SMALL
    with session(endpoints, address) as client:
        uids = uids_by_token(client)
        fetched = {token_in(p.read_bytes()): p for p in first}
        assert fetched.keys() == uids.keys()
        token = sorted(uids)[5]
        assert without_getmail_headers(fetched[token].read_bytes()) == raw_of(
            client, uids[token]
        ).replace(b"\r\n", b"\n")

    run(argv)
    assert maildir_files(maildir) == first

    await deliver_one(endpoints, address, "getmail-late")
    await wait_messages(endpoints, address, SMALL + 1)
    run(argv)
    assert len(maildir_files(maildir)) == SMALL + 1


async def test_fetchmail_retrieves_and_keeps(
    endpoints: Endpoints, address: str, tmp_path: Path
) -> None:
    require("fetchmail")
    assert endpoints.imap is not None
    host, port = endpoints.imap
    await deliver(endpoints, address, SMALL, "fetchmail")
    # sslproto "": no opportunistic STARTTLS (the gateway offers it; loopback is trusted).
    got = fetchmail(
        tmp_path,
        f"{host} service {port} protocol IMAP",
        f'user "{address}" password "{PASSWORD}" keep sslproto "" folder INBOX',
    )
    assert len(got) == SMALL
    with session(endpoints, address) as client:
        uids = uids_by_token(client)
        assert {token_in(p.read_bytes()) for p in got} == uids.keys()
        # keep: fetchmail marks what it fetched \Seen and deletes nothing.
        flags = flags_by_uid(client)
    assert len(flags) == SMALL
    assert all(f == {"\\Seen"} for f in flags.values()), flags


async def deliver_one(endpoints: Endpoints, address: str, subject_token: str) -> None:
    async with SMTPClient(*endpoints.smtp) as client:
        result = await client.send_message(
            "someone@example.org", [address], f"token {subject_token}", "late\n"
        )
    assert list(result.accepted) == [address]


# --- imapclient over implicit TLS: IDLE -----------------------------------------------------


@pytest.fixture
def imaps(stack: LocalStack, ca: trustme.CA) -> Callable[..., IMAPClient]:
    """Makes imapclient clients of the implicit-TLS port, trusting the test CA."""
    context = ssl.create_default_context()
    ca.configure_trust(context)

    def connect(**options: Any) -> IMAPClient:
        port = imaps_port(stack)
        return IMAPClient("127.0.0.1", port=port, ssl=True, ssl_context=context, **options)

    return connect


async def test_imapclient_idle_over_tls_sees_a_delivery(
    endpoints: Endpoints,
    address: str,
    imaps: Callable[..., IMAPClient],
) -> None:
    client = imaps(timeout=30)
    try:
        client.login(address, PASSWORD)
        assert b"IDLE" in client.capabilities()
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
        client.idle()
        await deliver_one(endpoints, address, "imapclient-idle")
        seen: list[object] = []
        deadline = time.monotonic() + IDLE_WAIT
        while not any(r[1:2] == (b"EXISTS",) and r[0] == 1 for r in seen if isinstance(r, tuple)):
            assert time.monotonic() < deadline, seen
            seen += await asyncio.to_thread(client.idle_check, 1)
        client.idle_done()
        fetched = client.fetch("1", ["ENVELOPE", "FLAGS"])
        assert fetched[1][b"ENVELOPE"].subject == b"token imapclient-idle"
    finally:
        with contextlib.suppress(Exception):
            client.logout()


# --- imapflow (npm) -----------------------------------------------------------------------


async def test_imapflow_lists_fetches_flags_appends_and_moves(
    endpoints: Endpoints, address: str
) -> None:
    node = require("node")
    npm = require("npm")
    assert endpoints.imap is not None
    await deliver(endpoints, address, SMALL, "imapflow")
    if not (IMAPFLOW_DIR / "node_modules").exists():
        run([npm, "ci", "--no-audit", "--no-fund"], cwd=IMAPFLOW_DIR)
    host, port = endpoints.imap
    done = run([node, "check.mjs", host, str(port), address, PASSWORD], cwd=IMAPFLOW_DIR)
    report = json.loads(done.stdout)

    assert "INBOX" in report["folders"]
    assert report["exists"] == SMALL
    subjects = [e["subject"] for e in report["envelopes"]]
    assert len(subjects) == 10
    assert all(s.startswith("token imapflow-") for s in subjects)
    # APPEND answered APPENDUID, SEARCH found it, MOVE took it to Trash.
    assert report["found"] == [report["appended_uid"]]
    assert report["moved_to"] == "Trash"
    assert report["exists_after"] == SMALL
    assert report["trash_messages"] == 1
    assert "QRESYNC" in report["enabled"]
    with session(endpoints, address) as client:
        flags = flags_by_uid(client)
    assert {uid: f for uid, f in flags.items() if f} == {report["flagged_uid"]: {"\\Flagged"}}


async def test_mbsync_over_starttls_expunges_what_the_maildir_deleted(
    endpoints: Endpoints, address: str, tmp_path: Path, tls_dir: Path
) -> None:
    mbsync = require("mbsync")
    await deliver(endpoints, address, SMALL, "mbsync-tls")
    rc = mbsyncrc(tmp_path, endpoints, address)
    ca_file = tls_dir / "ca.pem"
    rc.write_text(
        rc.read_text()
        .replace("SSLType None", f"SSLType STARTTLS\nCertificateFile {ca_file}")
        .replace("SyncState *", "SyncState *\nExpunge Both")
    )
    inbox = tmp_path / "mail" / "INBOX"

    run([mbsync, "-c", str(rc), "-a"])
    files = maildir_files(inbox)
    assert len(files) == SMALL
    gone = {token_in(p.read_bytes()) for p in files[:3]}
    for path in files[:3]:
        path.unlink()
    (inbox / "new" / "1.local.mbsync").write_bytes(local_message("mbsync-pushed"))
    run([mbsync, "-c", str(rc), "-a"])

    with session(endpoints, address) as client:
        left = uids_by_token(client)
        pushed = raw_of(client, left["mbsync-pushed"])
    assert len(left) == SMALL - 3 + 1
    assert not gone & left.keys()
    assert len(maildir_files(inbox)) == SMALL - 3 + 1
    # APPENDed as CRLF text, with mbsync's X-TUID header (it finds the UID by it).
    assert re.sub(rb"X-TUID: \S+\r\n", b"", pushed) == local_message("mbsync-pushed").replace(
        b"\n", b"\r\n"
    )


async def test_imapclient_idle_sees_another_sessions_expunges_in_step(
    endpoints: Endpoints,
    address: str,
    imaps: Callable[..., IMAPClient],
) -> None:
    await deliver(endpoints, address, SMALL, "expunge")
    # Sequence numbers, not UIDs, in its commands: they are what this test is about.
    idler = imaps(timeout=30, use_uid=False)
    try:
        idler.login(address, PASSWORD)
        idler.select_folder("INBOX")
        start = idler.fetch(idler.search("ALL"), ["UID"])
        all_uids = [start[n][b"UID"] for n in sorted(start)]
        assert len(all_uids) == SMALL
        idler.idle()
        doomed = [all_uids[1], all_uids[5], all_uids[6]]
        with session(endpoints, address) as other:
            ok(other.select("INBOX"))
            ok(other.uid("STORE", ",".join(map(str, doomed)), "+FLAGS.SILENT", "(\\Deleted)"))
            ok(other.expunge())
        expunged: list[int] = []
        deadline = time.monotonic() + IDLE_WAIT
        while len(expunged) < len(doomed):
            assert time.monotonic() < deadline, expunged
            for response in await asyncio.to_thread(idler.idle_check, 1):
                if isinstance(response, tuple) and response[1:2] == (b"EXPUNGE",):
                    expunged.append(response[0])
        idler.idle_done()
        # Each EXPUNGE numbers the view as it stands after the ones before it
        # (RFC 9051 §7.5.1): replaying them on the old list gives the new one.
        view = list(all_uids)
        for seq in expunged:
            del view[seq - 1]
        assert view == [u for u in all_uids if u not in doomed]
        fetched = idler.fetch(idler.search("ALL"), ["UID"])
        assert [fetched[n][b"UID"] for n in sorted(fetched)] == view
    finally:
        with contextlib.suppress(Exception):
            idler.logout()
