"""\\Recent on the real stack (RFC 3501 §2.3.2): mail delivered through the SMTP gateway,
sessions of ``python -m imap_gateway`` over imaplib; the mail store decides which
session is the first to be told of a message."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from smtplib_common.client import SMTPClient
from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "a long enough imap password"
WAIT = 15.0  # generous: delivery is asynchronous and the machine may be loaded


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(database_url: str, amqp_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(admin_database_url=database_url, amqp_url=amqp_url, imap=True) as s:
        yield s


@pytest_asyncio.fixture(loop_scope="module")
async def account(mailstore: MailstoreAPI, new_address: str) -> str:
    await mailstore.create_account(new_address, PASSWORD)
    return new_address


async def deliver(endpoints: Endpoints, to: str, subject: str) -> None:
    async with SMTPClient(*endpoints.smtp) as client:
        result = await client.send_message("someone@example.org", [to], subject, "Hi\n")
    assert list(result.accepted) == [to]


def ok(answer: tuple[str, list[object]]) -> list[object]:
    typ, data = answer
    assert typ == "OK", (typ, data)
    return data


def login(endpoints: Endpoints, account: str) -> imaplib.IMAP4:
    assert endpoints.imap is not None
    client = imaplib.IMAP4(*endpoints.imap, timeout=30)
    client.login(account, PASSWORD)
    return client


def recent(client: imaplib.IMAP4) -> list[int]:
    """SEARCH RECENT: the sequence numbers \\Recent in this session."""
    data = ok(client.search(None, "RECENT"))
    return [int(n) for n in data[0].split()]  # type: ignore[union-attr]


async def wait_exists(client: imaplib.IMAP4, count: int) -> None:
    async with asyncio.timeout(WAIT):
        while True:
            ok(client.noop())
            if int(client.untagged_responses.get("EXISTS", [b"0"])[-1]) >= count:  # type: ignore[call-overload]
                return
            await asyncio.sleep(0.1)


async def test_one_session_in_all_sees_a_message_recent(endpoints: Endpoints, account: str) -> None:
    await deliver(endpoints, account, "one")
    await deliver(endpoints, account, "two")
    looker, first, second = (login(endpoints, account) for _ in range(3))
    try:
        async with asyncio.timeout(WAIT):
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
        await asyncio.gather(wait_exists(first, 3), wait_exists(second, 3))
        holders = [3 in recent(client) for client in (first, second)]
        assert sorted(holders) == [False, True]
        assert recent(first)[:2] == [1, 2]
    finally:
        for client in (looker, first, second):
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()
