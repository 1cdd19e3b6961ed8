from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from mailstore import db, maintenance
from mailstore.db import changes
from mailstore.keys import MAINTENANCE
from mailstore.main import create_app
from mailstore.settings import Config

ALICE, BOB = "alice@localpost.test", "bob@localpost.test"


def mail(subject: str) -> bytes:
    return f"From: carol@example.com\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\nHi\r\n".encode()


@pytest.fixture
async def accounts(pool: Any) -> dict[str, int]:
    ids = {}
    for address in (ALICE, BOB):
        ids[address] = (await db.create_account(pool, address=address, name="", password_hash="x"))[
            "id"
        ]
    return ids


async def trashed(pool: Any, deliver: Any, subject: str, *, days_ago: float) -> int:
    """An Inbox message of Alice's, moved to Trash ``days_ago`` days ago."""
    entry: int = (await deliver(mail(subject), rcpt_to=[ALICE])).entries[0].id
    await pool.execute(
        """
        UPDATE mailbox_entries SET restore_folder_id = folder_id, folder_id = 'trash',
            trashed_at = now() - $2 * interval '1 day'
        WHERE id = $1
        """,
        entry,
        days_ago,
    )
    return entry


async def entry_ids(pool: Any) -> set[int]:
    return {row["id"] for row in await pool.fetch("SELECT id FROM mailbox_entries")}


async def test_trash_older_than_the_setting_is_deleted_forever_and_the_rest_kept(
    pool: Any, deliver: Any, accounts: dict[str, int]
) -> None:
    old = await trashed(pool, deliver, "old", days_ago=30.01)
    recent = await trashed(pool, deliver, "recent", days_ago=29.9)
    inbox = (await deliver(mail("inbox"), rcpt_to=[ALICE])).entries[0].id
    # An old message that is not in Trash is not the purge's business.
    await pool.execute("UPDATE mailbox_entries SET created_at = now() - interval '1 year'")
    shared = await deliver(mail("shared"), rcpt_to=[ALICE, BOB])
    shared_alice = next(e.id for e in shared.entries if e.address == ALICE)
    await pool.execute(
        """
        UPDATE mailbox_entries SET restore_folder_id = folder_id, folder_id = 'trash',
            trashed_at = now() - interval '40 days'
        WHERE id = $1
        """,
        shared_alice,
    )

    done = await maintenance.run_once(pool, trash_days=30, vanished_days=30)

    assert done.trash_entries == 2
    assert await entry_ids(pool) == {
        recent,
        inbox,
        next(e.id for e in shared.entries if e.address == BOB),
    }
    subjects = {row["subject"] for row in await pool.fetch("SELECT subject FROM messages")}
    # "old" went with its only entry; "shared" stays for Bob.
    assert subjects == {"recent", "inbox", "shared"}
    assert old not in await entry_ids(pool)


async def test_trash_purge_works_through_any_number_of_batches(
    pool: Any, deliver: Any, accounts: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "PURGE_BATCH", 2)
    for number in range(5):
        await trashed(pool, deliver, f"old {number}", days_ago=31)

    assert len(await db.purge_trash(pool, days=30)) == 5
    assert await pool.fetchval("SELECT count(*) FROM messages") == 0


async def test_expired_sessions_and_old_throttle_events_are_pruned(
    pool: Any, accounts: dict[str, int]
) -> None:
    for n, expires in enumerate((-1, 86_400)):
        await pool.execute(
            """
            INSERT INTO sessions (secret_hash, account_id, expires_at)
            VALUES (sha256($1), $2, now() + $3 * interval '1 second')
            """,
            f"secret {n}".encode(),
            accounts[ALICE],
            expires,
        )
    await db.hit(pool, key="abandoned", limit=5, window=60)
    await pool.execute("UPDATE throttle_events SET at = at - interval '2 days'")
    await db.hit(pool, key="live", limit=5, window=60)

    done = await maintenance.run_once(pool, trash_days=30, vanished_days=30)

    assert (done.sessions, done.throttle_events) == (1, 1)
    assert await pool.fetchval("SELECT count(*) FROM sessions WHERE expires_at > now()") == 1
    assert await pool.fetchval("SELECT count(*) FROM sessions") == 1
    assert await pool.fetchval("SELECT count(*) FROM throttle_events") == 1


async def test_login_clients_are_forgotten_after_30_days(
    pool: Any, accounts: dict[str, int]
) -> None:
    for client, days_ago in (("192.0.2.1", 31), ("192.0.2.2", 29)):
        await pool.execute(
            """
            INSERT INTO login_clients (account_id, client, last_login_at)
            VALUES ($1, $2, now() - $3 * interval '1 day')
            """,
            accounts[ALICE],
            client,
            days_ago,
        )

    await maintenance.run_once(pool, trash_days=30, vanished_days=30)

    assert await pool.fetchval("SELECT array_agg(client) FROM login_clients") == ["192.0.2.2"]


async def wait_until_gone(pool: Any, entry: int) -> None:
    async with asyncio.timeout(5):
        # Polling: the purge happens in another task, and says nothing when it is done.
        while True:
            if entry not in await entry_ids(pool):
                return
            await asyncio.sleep(0.02)


async def test_the_app_purges_at_start_with_the_configured_days(
    config: Config, pool: Any, deliver: Any, accounts: dict[str, int]
) -> None:
    old = await trashed(pool, deliver, "old", days_ago=7.5)
    recent = await trashed(pool, deliver, "recent", days_ago=6.5)
    app = create_app(dataclasses.replace(config, trash_days=7), consume=False)

    async with TestClient(TestServer(app)):
        await wait_until_gone(pool, old)
        task = app[MAINTENANCE]

    assert recent in await entry_ids(pool)
    # Stopping the app stops the task.
    assert task.cancelled()


async def test_the_app_purges_again_every_interval(
    config: Config, pool: Any, deliver: Any, accounts: dict[str, int]
) -> None:
    app = create_app(dataclasses.replace(config, maintenance_interval=0.05), consume=False)

    async with TestClient(TestServer(app)):
        await asyncio.sleep(0.1)  # the run at start is over
        later = await trashed(pool, deliver, "trashed long ago", days_ago=31)
        await wait_until_gone(pool, later)


async def test_a_failed_run_is_logged_and_the_next_one_still_happens(
    pool: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    runs = 0
    third_run = asyncio.Event()
    real_run_once = maintenance.run_once

    async def flaky(pool: Any, **days: int) -> maintenance.MaintenanceRun:
        nonlocal runs
        runs += 1
        if runs == 3:
            third_run.set()
        if runs == 1:
            raise asyncpg.QueryCanceledError("canceling statement due to statement timeout")
        return await real_run_once(pool, **days)

    monkeypatch.setattr(maintenance, "run_once", flaky)
    task = asyncio.create_task(
        maintenance.maintain(pool, trash_days=30, vanished_days=30, interval=0.01)
    )
    try:
        async with asyncio.timeout(5):
            await third_run.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert "maintenance failed" in failures[0].getMessage()


async def test_old_expunge_records_are_forgotten_and_the_folder_says_up_to_which_modseq(
    pool: Any, deliver: Any, accounts: dict[str, int]
) -> None:
    for subject in ("old", "recent"):
        entry = (await deliver(mail(subject), rcpt_to=[ALICE])).entries[0].id
        await db.delete_forever(pool, account_id=accounts[ALICE], entry_id=entry)
    await pool.execute("UPDATE expunged SET expunged_at = now() - interval '31 days' WHERE uid = 1")

    done = await maintenance.run_once(pool, trash_days=30, vanished_days=30)

    assert done.expunge_records == 1
    assert [tuple(r) for r in await pool.fetch("SELECT uid, modseq FROM expunged")] == [(2, 5)]
    forgotten = await pool.fetchval(
        "SELECT forgotten_modseq FROM folders WHERE account_id = $1 AND id = 'inbox'",
        accounts[ALICE],
    )
    assert forgotten == 3
