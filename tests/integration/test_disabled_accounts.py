"""A disabled account on the whole stack (issue 16): `python -m mailstore admin disable`
refuses mail to it at the gateway's RCPT with 550 5.2.1 and its logins on SMTP AUTH and
IMAP, and ends its open IMAP and POP3 sessions at once; `enable` lets it log in again."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import poplib
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from smtplib_common import replies
from smtplib_common.client import SMTPClient
from smtplib_common.errors import SMTPAuthenticationError, SMTPRecipientsRefused
from tests.integration import imap_client
from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "disabled account password"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(database_url: str, amqp_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(admin_database_url=database_url, amqp_url=amqp_url, imap=True) as s:
        yield s


async def two_accounts(endpoints: Endpoints, mailstore: MailstoreAPI) -> tuple[str, str]:
    """Two new accounts: the one to disable, and another that must not notice."""
    unique = uuid.uuid4().hex[:8]
    gone, other = (f"{who}.{unique}@{endpoints.domain}" for who in ("gone", "other"))
    for address in (gone, other):
        await mailstore.create_account(address, PASSWORD)
    return gone, other


async def imap_login(endpoints: Endpoints, address: str) -> bool:
    assert endpoints.imap is not None
    client = await imap_client.Client.connect(*endpoints.imap)
    try:
        return (await client.command(f'LOGIN "{address}" "{PASSWORD}"')).ok
    finally:
        await client.close()


async def test_a_disabled_account_gets_no_mail_and_logs_in_nowhere(
    stack: LocalStack, endpoints: Endpoints, mailstore: MailstoreAPI
) -> None:
    gone, other = await two_accounts(endpoints, mailstore)
    assert await imap_login(endpoints, gone)

    await stack.mailstore_command("admin", "disable", gone)

    async with SMTPClient(*endpoints.smtp) as client:
        await client.mail("sender@example.org")
        with pytest.raises(SMTPRecipientsRefused) as refused:
            await client.rcpt(gone)
        response = refused.value.refused[gone]
        assert (response.code, response.status) == (
            replies.MAILBOX_DISABLED.code,
            replies.MAILBOX_DISABLED.status,
        )
        assert (await client.rcpt(other)).is_positive
    with pytest.raises(SMTPAuthenticationError):
        async with SMTPClient(*endpoints.submission, username=gone, password=PASSWORD):
            pass
    assert not await imap_login(endpoints, gone)

    await stack.mailstore_command("admin", "enable", gone)
    assert await imap_login(endpoints, gone)
    async with SMTPClient(*endpoints.submission, username=gone, password=PASSWORD) as client:
        assert client.is_authenticated


def open_sessions(stack: LocalStack, address: str) -> tuple[imaplib.IMAP4, poplib.POP3]:
    """A logged-in IMAP session with INBOX selected and a logged-in POP3 session, both
    with Python's own clients over real sockets."""
    endpoints = stack.endpoints
    assert endpoints is not None
    assert endpoints.imap is not None
    imap = imaplib.IMAP4(*endpoints.imap, timeout=20)
    imap.login(address, PASSWORD)
    imap.select("INBOX")
    pop3 = poplib.POP3("127.0.0.1", int(stack.services["imap-gateway"].env["POP3_PORT"]), 20)
    pop3.user(address)
    pop3.pass_(PASSWORD)
    return imap, pop3


def unsolicited(imap: imaplib.IMAP4, pop3: poplib.POP3) -> tuple[list[bytes], bytes]:
    """What each server sends next without being asked, until it closes (10 s at most)."""
    imap.sock.settimeout(10)
    pop3.sock.settimeout(10)
    lines = []
    while line := imap.readline():
        lines.append(line)
    return lines, pop3.file.readline()


@pytest.mark.parametrize("way", ["command", "admin page"])
async def test_disabling_an_account_ends_its_open_imap_and_pop3_sessions_at_once(
    stack: LocalStack, endpoints: Endpoints, mailstore: MailstoreAPI, way: str
) -> None:
    gone, other = await two_accounts(endpoints, mailstore)
    gone_imap, gone_pop3 = await asyncio.to_thread(open_sessions, stack, gone)
    other_imap, other_pop3 = await asyncio.to_thread(open_sessions, stack, other)

    if way == "command":
        await stack.mailstore_command("admin", "disable", gone)
    else:  # what /admin/accounts asks of the mail store
        status, _ = await mailstore.call(
            "POST", f"/v1/admin/accounts/{gone}/disable", json={"actor": other}
        )
        assert status == 200
    try:
        # Without a command from the client: RFC 9051 §7.1.5's BYE, then the close; POP3
        # (RFC 1939 has no unsolicited reply) just closes.
        imap_lines, pop3_line = await asyncio.to_thread(unsolicited, gone_imap, gone_pop3)
        # The other account's sessions go on.
        assert (await asyncio.to_thread(other_imap.noop))[0] == "OK"
        assert (await asyncio.to_thread(other_pop3.stat))[0] == 0
    finally:
        await stack.mailstore_command("admin", "enable", gone)
        for client in (other_imap, gone_imap):
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.shutdown()
        for pop3 in (other_pop3, gone_pop3):
            with contextlib.suppress(poplib.error_proto, OSError):
                pop3.close()

    assert imap_lines == [b"* BYE Account disabled by an administrator\r\n"]
    assert pop3_line == b""


async def rcpt_code(endpoints: Endpoints, recipient: str) -> int:
    """The gateway's reply code to RCPT TO:<recipient>, in a transaction of its own."""
    async with SMTPClient(*endpoints.smtp) as client:
        await client.mail("sender@example.org")
        try:
            return (await client.rcpt(recipient)).code
        except SMTPRecipientsRefused as refused:
            return refused.refused[recipient].code


async def rcpt_becomes(endpoints: Endpoints, recipient: str, code: int) -> int:
    """Ask RCPT until it answers ``code``, for 5 s at most (far less than the gateway's
    30 s cache TTL: only the mail store's ``directory`` event can make it change in
    time); the last code."""
    for _ in range(50):
        got = await rcpt_code(endpoints, recipient)
        if got == code:
            return got
        await asyncio.sleep(0.1)
    return got


@pytest.mark.parametrize("way", ["command", "admin page"])
async def test_the_gateway_forgets_its_cached_answer_when_an_account_is_disabled(
    stack: LocalStack, endpoints: Endpoints, mailstore: MailstoreAPI, way: str
) -> None:
    gone, other = await two_accounts(endpoints, mailstore)
    assert await rcpt_code(endpoints, gone) == 250  # now cached for 30 s

    async def set_disabled(disabled: bool) -> None:
        action = "disable" if disabled else "enable"
        if way == "command":
            await stack.mailstore_command("admin", action, gone)
        else:
            path = f"/v1/admin/accounts/{gone}/{action}"
            assert (await mailstore.call("POST", path, json={"actor": other}))[0] == 200

    await set_disabled(True)
    try:
        assert await rcpt_becomes(endpoints, gone, replies.MAILBOX_DISABLED.code) == 550
    finally:
        await set_disabled(False)
    # Enabled again: no permanent 550 from a cached answer for the next 30 s.
    assert await rcpt_becomes(endpoints, gone, 250) == 250
