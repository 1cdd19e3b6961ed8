"""Storage quotas on the whole stack (issue 16): the gateway's 452 4.2.2 at RCPT and
552 5.2.2 at DATA against the real mail store, and IMAP's QUOTA (RFC 9208) and
APPEND's NO [OVERQUOTA], with Python's smtplib and imaplib over real sockets.

The gateway caches each recipient's answer for GATEWAY_DIRECTORY_CACHE_TTL (30 s), so
each check after a quota change names a subaddress not asked about before (its own
cache key, the same account)."""

from __future__ import annotations

import contextlib
import imaplib
import re
import smtplib
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio

from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "a long enough quota password"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(database_url: str, amqp_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(admin_database_url=database_url, amqp_url=amqp_url, imap=True) as s:
        yield s


@pytest_asyncio.fixture(loop_scope="module")
async def account(mailstore: MailstoreAPI, endpoints: Endpoints) -> str:
    address = f"quota.{uuid.uuid4().hex[:8]}@{endpoints.domain}"
    await mailstore.create_account(address, PASSWORD)
    return address


def plus(address: str, detail: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local}+{detail}@{domain}"


async def usage(mailstore: MailstoreAPI, address: str) -> dict[str, Any]:
    status, body = await mailstore.call("GET", f"/v1/accounts/{quote(address)}/quota")
    assert status == 200, body
    return dict(body)


async def set_quota(mailstore: MailstoreAPI, address: str, quota: int | None) -> None:
    path = f"/v1/accounts/{quote(address)}/quota"
    status, body = await mailstore.call("PUT", path, json={"quota": quota})
    assert status == 200, body


def message(to: str, body: str = "Hello there\n") -> bytes:
    mail = EmailMessage()
    mail["From"] = "someone@example.org"
    mail["To"] = to
    mail["Subject"] = "Quota"
    mail.set_content(body)
    return mail.as_bytes(policy=SMTP)


@contextlib.contextmanager
def smtp(endpoints: Endpoints) -> Iterator[smtplib.SMTP]:
    client = smtplib.SMTP(*endpoints.smtp, timeout=30)
    try:
        client.ehlo("client.test")
        yield client
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()


async def deliver(
    endpoints: Endpoints, mailstore: MailstoreAPI, to: str, count: int, account: str = ""
) -> None:
    """Send to ``to`` and wait until ``account`` (``to`` itself) has ``count`` in Inbox."""
    with smtp(endpoints) as client:
        assert client.sendmail("someone@example.org", [to], message(to)) == {}
    await mailstore.wait_for(account or to, count)


async def test_a_full_mailbox_is_452_4_2_2_at_rcpt_and_others_still_take_the_mail(
    endpoints: Endpoints, mailstore: MailstoreAPI, account: str, new_address: str
) -> None:
    await mailstore.create_account(new_address, PASSWORD)
    await deliver(endpoints, mailstore, account, 1)
    held = await usage(mailstore, account)
    assert held["used"] > 0
    await set_quota(mailstore, account, held["used"])

    with smtp(endpoints) as client:
        client.mail("someone@example.org")
        code, text = client.rcpt(plus(account, "full"))
        assert (code, text[:5]) == (452, b"4.2.2")
        assert client.rcpt(new_address)[0] == 250
        assert client.data(message(new_address))[0] == 250
    await mailstore.wait_for(new_address, 1)
    assert len(await mailstore.folder(account)) == 1

    # Room again (Trash emptied, a larger quota): the next RCPT takes mail.
    await set_quota(mailstore, account, held["used"] * 10)
    await deliver(endpoints, mailstore, plus(account, "room"), 2, account)


async def test_a_message_larger_than_the_room_left_is_552_5_2_2_for_that_recipient_alone(
    endpoints: Endpoints, mailstore: MailstoreAPI, account: str, new_address: str
) -> None:
    await mailstore.create_account(new_address, PASSWORD)
    await set_quota(mailstore, account, 2000)
    large = message(account, "x" * 5000 + "\n")

    with smtp(endpoints) as client:
        client.mail("someone@example.org")
        assert client.rcpt(plus(account, "large"))[0] == 250
        code, text = client.data(large)
        assert (code, text[:5]) == (552, b"5.2.2")
    assert (await usage(mailstore, account))["used"] == 0

    # With another recipient who has room, SMTP's one reply to DATA is 250 for both,
    # and the mail store stores it for both: mail accepted is never dropped, even when
    # it takes a mailbox over its quota (docs/smtp.md).
    with smtp(endpoints) as client:
        client.mail("someone@example.org")
        assert client.rcpt(plus(account, "both"))[0] == 250
        assert client.rcpt(new_address)[0] == 250
        assert client.data(large)[0] == 250
    await mailstore.wait_for(account, 1)
    over = await usage(mailstore, account)
    assert over["used"] > over["limit"]
    assert over["full"] is True


# -- IMAP ------------------------------------------------------------------------------------


@pytest.fixture
def imap(endpoints: Endpoints, account: str) -> Iterator[imaplib.IMAP4]:
    assert endpoints.imap is not None
    client = imaplib.IMAP4(*endpoints.imap, timeout=30)
    client.login(account, PASSWORD)
    yield client
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        client.logout()


def ok(answer: tuple[str, list[Any]]) -> list[Any]:
    typ, data = answer
    assert typ == "OK", (typ, data)
    return data


def storage(line: bytes) -> tuple[int, int] | None:
    """(used, limit) in KiB from a QUOTA response's data; None for ``()``."""
    found = re.fullmatch(rb'"" \((?:STORAGE (\d+) (\d+))?\)', line)
    assert found is not None, line
    return None if found.group(1) is None else (int(found.group(1)), int(found.group(2)))


async def test_quota_capability_getquotaroot_getquota_and_setquota_refused(
    endpoints: Endpoints, mailstore: MailstoreAPI, imap: imaplib.IMAP4, account: str
) -> None:
    capabilities = ok(imap.capability())[0].split()
    assert b"QUOTA" in capabilities
    assert b"QUOTA=RES-STORAGE" in capabilities
    # No limit: the root has no limited resource.
    roots, quotas = ok(imap.getquotaroot("INBOX"))
    assert roots == [b'INBOX ""']
    assert storage(quotas[0]) is None

    await deliver(endpoints, mailstore, account, 1)
    used = (await usage(mailstore, account))["used"]
    await set_quota(mailstore, account, 1024 * 1024)
    (line,) = ok(imap.getquota('""'))
    # RFC 9208 §5.1: STORAGE in units of 1024 octets, usage rounded up.
    assert storage(line) == (-(-used // 1024), 1024)

    typ, data = imap.getquota("elsewhere")
    assert typ == "NO"
    typ, data = imap.setquota('""', "(STORAGE 999999)")
    assert typ == "NO"
    assert b"[NOPERM]" in data[0]


async def test_append_past_the_quota_is_no_overquota_and_deleting_frees_room_at_once(
    endpoints: Endpoints, mailstore: MailstoreAPI, imap: imaplib.IMAP4, account: str
) -> None:
    await set_quota(mailstore, account, 3000)
    ok(imap.append("INBOX", "", None, message(account, "small\n")))

    typ, data = imap.append("INBOX", "", None, message(account, "y" * 4000 + "\n"))
    assert typ == "NO"
    assert b"[OVERQUOTA]" in data[0]
    assert len(await mailstore.folder(account)) == 1

    # COPY adds nothing to the usage (one message counts once per account).
    ok(imap.select("INBOX"))
    ok(imap.copy("1", "Archive"))
    before = (await usage(mailstore, account))["used"]
    assert before < 3000
    # Deleting the message from both folders frees its bytes in that same transaction.
    ok(imap.store("1", "+FLAGS", "(\\Deleted)"))
    ok(imap.expunge())
    assert (await usage(mailstore, account))["used"] == before
    ok(imap.select("Archive"))
    ok(imap.store("1", "+FLAGS", "(\\Deleted)"))
    ok(imap.expunge())
    assert (await usage(mailstore, account))["used"] == 0
    ok(imap.append("INBOX", "", None, message(account, "y" * 2000 + "\n")))
