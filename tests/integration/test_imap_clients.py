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
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import trustme
from imapclient import IMAPClient

from smtplib_common.client import SMTPClient
from tests.integration.harness import Attempts, send_stream
from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "a long enough imap password"
BIG = 1000
SMALL = 12
# Bounds, not timings: a loaded machine may be slow, a hung client must still fail.
DELIVERY_WAIT = 180.0
CLIENT_WAIT = 300.0
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
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = tls_dir / "cert.pem", tls_dir / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    tls = {"LOCALPOST_TLS_CERT": str(cert_path), "LOCALPOST_TLS_KEY": str(key_path)}
    async with LocalStack(
        admin_database_url=database_url,
        amqp_url=amqp_url,
        imap=True,
        service_overrides={"imap-gateway": tls},
    ) as s:
        yield s


def imaps_port(stack: LocalStack) -> int:
    return int(stack.services["imap-gateway"].env["IMAPS_PORT"])


def require(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        if os.environ.get("LOCALPOST_REQUIRE_CLIENTS"):
            pytest.fail(f"{program} is not installed (.ci/run installs it)")
        pytest.skip(f"{program} is not installed (apt-get install it; .ci/run does)")
    return found


def run(argv: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(  # noqa: S603 - our own argv of an installed client
        argv, cwd=cwd, capture_output=True, text=True, timeout=CLIENT_WAIT, check=False
    )
    assert done.returncode == 0, f"{argv[0]} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def ok(answer: tuple[str, list[object]]) -> list[object]:
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


async def new_account(mailstore: MailstoreAPI, address: str) -> str:
    await mailstore.create_account(address, PASSWORD)
    return address


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
            found = int(re.findall(rb"MESSAGES (\d+)", data[0])[0])  # type: ignore[arg-type]
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
        found[uid] = set(flags)
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
    endpoints: Endpoints, mailstore: MailstoreAPI, new_address: str, tmp_path: Path
) -> None:
    mbsync = require("mbsync")
    address = await new_account(mailstore, new_address)
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
