"""What Dovecot's imaptest found wrong in the IMAP gateway on the real mail store,
each checked here with Python's imaplib so that it stays fixed without imaptest
(tests/integration/test_imaptest.py runs imaptest itself when it is built)."""

from __future__ import annotations

import contextlib
import imaplib
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "a long enough imap password"
MESSAGE = b"From: a@example.org\r\nSubject: imaptest finding\r\n\r\nHello\r\n"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(database_url: str, amqp_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(admin_database_url=database_url, amqp_url=amqp_url, imap=True) as s:
        yield s


@pytest_asyncio.fixture(loop_scope="module")
async def account(mailstore: MailstoreAPI, new_address: str) -> str:
    await mailstore.create_account(new_address, PASSWORD)
    return new_address


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


def ok(answer: tuple[str, list[object]]) -> list[object]:
    typ, data = answer
    assert typ == "OK", (typ, data)
    return data


def exists(client: imaplib.IMAP4) -> list[int]:
    """The EXISTS counts reported since the last call."""
    return [int(n) for n in client.untagged_responses.pop("EXISTS", [])]  # type: ignore[call-overload]


async def test_append_to_the_selected_mailbox_reports_exists_at_once(
    sessions: tuple[imaplib.IMAP4, imaplib.IMAP4],
) -> None:
    """RFC 9051 §6.3.12: the server SHOULD send EXISTS at once; imaptest's `append`
    expects it in the APPEND's own answer, before the change's broker event."""
    first, _ = sessions
    exists(first)
    ok(first.append("INBOX", "", None, MESSAGE))
    assert exists(first) == [1]


async def test_noop_shows_another_sessions_append(
    sessions: tuple[imaplib.IMAP4, imaplib.IMAP4],
) -> None:
    """NOOP polls (RFC 9051 §6.1.2): what was added before it is reported in its answer."""
    first, second = sessions
    exists(second)
    for count in (1, 2, 3):
        ok(first.append("INBOX", "", None, MESSAGE))
        ok(second.noop())
        assert exists(second) == [count]


async def test_copy_into_the_selected_mailbox_reports_exists_at_once(
    sessions: tuple[imaplib.IMAP4, imaplib.IMAP4],
) -> None:
    first, _ = sessions
    ok(first.append("INBOX", "", None, MESSAGE))
    ok(first.noop())
    exists(first)
    ok(first.copy("1", "INBOX"))
    assert exists(first) == [2]
