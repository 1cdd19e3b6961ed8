"""A disabled account on the whole stack (issue 16): `python -m mailstore admin disable`
refuses mail to it at the gateway's RCPT with 550 5.2.1 and its logins on SMTP AUTH and
IMAP; `enable` lets it log in again."""

from __future__ import annotations

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
    unique = uuid.uuid4().hex[:8]
    gone, other = (f"{who}.{unique}@{endpoints.domain}" for who in ("gone", "other"))
    for address in (gone, other):
        await mailstore.create_account(address, PASSWORD)
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
