"""The directory client against the fake mail store: answers, failures, the cache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
import pytest

from smtp_gateway.directory import Account, Directory
from smtp_gateway.errors import DirectoryTimeout, DirectoryUnavailable
from smtp_gateway.settings import DEV_MAILSTORE_TOKEN

if TYPE_CHECKING:
    from conftest import FakeMailstore

ALICE = "alice@localpost.test"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def directory(
    session: aiohttp.ClientSession, mailstore: FakeMailstore, **overrides: float
) -> Directory:
    settings = {
        "timeout": 1.0,
        "auth_timeout": 1.0,
        "positive_ttl": 30.0,
        "negative_ttl": 5.0,
        **overrides,
    }
    return Directory(session, mailstore.url, DEV_MAILSTORE_TOKEN, **settings)


async def test_existing_and_missing_mailboxes(
    session: aiohttp.ClientSession, mailstore: FakeMailstore
) -> None:
    client = directory(session, mailstore)

    assert await client.mailbox_exists(ALICE) is True
    assert await client.mailbox_exists("nobody@localpost.test") is False


async def test_missing_mailbox_is_forgotten_sooner_than_an_existing_one(
    session: aiohttp.ClientSession, mailstore: FakeMailstore
) -> None:
    client = directory(session, mailstore, negative_ttl=0.05)
    new = "new@localpost.test"
    assert await client.mailbox_exists(new) is False

    mailstore.accounts[new] = "new-password-789"

    assert await client.mailbox_exists(new) is False  # still cached
    await asyncio.sleep(0.1)
    assert await client.mailbox_exists(new) is True


async def test_cache_is_bounded(
    session: aiohttp.ClientSession, mailstore: FakeMailstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("smtp_gateway.directory.CACHE_MAX_ENTRIES", 2)
    client = directory(session, mailstore)

    for address in ("a@localpost.test", "b@localpost.test", "c@localpost.test"):
        await client.mailbox_exists(address)
    await client.mailbox_exists("a@localpost.test")  # evicted: asked again

    assert mailstore.lookups.count("a@localpost.test") == 2


@pytest.mark.parametrize("fault", ["failing", "slow", "token", "stopped"])
async def test_no_answer_is_unavailable_never_no(
    session: aiohttp.ClientSession, mailstore: FakeMailstore, fault: str
) -> None:
    client = directory(session, mailstore, timeout=0.2, auth_timeout=0.2)
    if fault == "failing":
        mailstore.failing = True
    elif fault == "slow":
        mailstore.delay = 1.0
    elif fault == "token":
        mailstore.token = "another-token-entirely"
    else:
        await mailstore.stop()

    with pytest.raises(DirectoryUnavailable):
        await client.mailbox_exists(ALICE)
    # A wrong service token is 403, a wrong user password 401: an AUTH during a token
    # misconfiguration is a temporary failure, not "535 bad credentials".
    with pytest.raises(DirectoryUnavailable):
        await client.verify(ALICE, "alice-password-123", client="192.0.2.1")


async def test_verify_returns_the_account_or_none(
    session: aiohttp.ClientSession, mailstore: FakeMailstore
) -> None:
    client = directory(session, mailstore)

    assert await client.verify(ALICE, "alice-password-123", client="192.0.2.1") == Account(
        ALICE, "alice"
    )
    assert await client.verify(ALICE, "wrong-password", client="192.0.2.1") is None
    assert await client.verify("nobody@localpost.test", "whatever", client="192.0.2.1") is None


async def test_login_check_has_its_own_budget_beyond_the_lookup_timeout(
    session: aiohttp.ClientSession, mailstore: FakeMailstore
) -> None:
    client = directory(session, mailstore, timeout=0.2, auth_timeout=2.0)
    mailstore.verify_delay = 0.5  # a bcrypt on a busy machine: slower than any lookup

    assert await client.verify(ALICE, "alice-password-123", client="192.0.2.1") == Account(
        ALICE, "alice"
    )
    mailstore.delay = 0.5  # lookups keep the short timeout
    with pytest.raises(DirectoryUnavailable):
        await client.mailbox_exists(ALICE)


async def test_login_check_past_its_budget_is_a_timeout(
    session: aiohttp.ClientSession, mailstore: FakeMailstore
) -> None:
    client = directory(session, mailstore, timeout=2.0, auth_timeout=0.2)
    mailstore.verify_delay = 1.0

    with pytest.raises(DirectoryTimeout):
        await client.verify(ALICE, "alice-password-123", client="192.0.2.1")


def test_repr_holds_no_token(session: aiohttp.ClientSession, mailstore: FakeMailstore) -> None:
    assert DEV_MAILSTORE_TOKEN not in repr(directory(session, mailstore))


async def test_a_disabled_mailbox_is_known_as_such_and_cached(
    session: aiohttp.ClientSession, mailstore: FakeMailstore
) -> None:
    from smtp_gateway.directory import DISABLED

    mailstore.disabled.add(ALICE)
    client = directory(session, mailstore)

    assert await client.mailbox_state(ALICE) == DISABLED
    assert await client.mailbox_exists(ALICE) is False
    assert mailstore.lookups == [ALICE]  # the second answer came from the cache


async def test_forget_drops_every_cached_answer(
    session: aiohttp.ClientSession, mailstore: FakeMailstore
) -> None:
    # The mail store's ``directory`` event: an administrator disabled alice.
    client = directory(session, mailstore)
    assert await client.recipient_exists(ALICE) is True
    assert await client.recipient_exists("nobody@localpost.test") is False
    mailstore.disabled.add(ALICE)
    assert await client.recipient_exists(ALICE) is True  # cached

    assert client.forget() == 2

    assert await client.recipient_exists(ALICE) is False


async def test_an_answer_asked_for_before_a_forget_is_not_kept(
    session: aiohttp.ClientSession, mailstore: FakeMailstore
) -> None:
    # A lookup in flight when the change is announced may carry the old answer: it
    # serves the RCPT that asked, but is not kept; the next RCPT asks again.
    client = directory(session, mailstore)
    mailstore.delay = 0.2
    asking = asyncio.create_task(client.recipient_exists(ALICE))
    await asyncio.sleep(0.05)
    client.forget()
    await asking
    mailstore.delay = 0.0

    await client.recipient_exists(ALICE)
    await client.recipient_exists(ALICE)

    assert mailstore.lookups == [ALICE, ALICE]  # the second asked; the third was cached
