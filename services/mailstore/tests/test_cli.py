"""``python -m mailstore admin ...`` and ``reset-password``, run as the operator runs
them: a subprocess with the service's environment, against a real database."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import sys
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from mailstore import db
from mailstore.migrations import apply_migrations
from mailstore.testing import with_database

ALICE, BOB = "alice@localpost.test", "bob@localpost.test"


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def environ(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "LOCALPOST_DEV": "1",
        "DATABASE_URL": database_url,
        "LOCALPOST_DOMAIN": "localpost.test,other.test",
        "LOCALPOST_WEB_URL": "https://mail.localpost.test",
    }


@pytest.fixture
async def accounts(pool: Any) -> None:
    for address in (ALICE, BOB):
        await db.create_account(pool, address=address, name=address[:5], password_hash="x")


async def mailstore(environ: dict[str, str], *args: str) -> Outcome:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mailstore",
        *args,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return Outcome(process.returncode, out.decode(), err.decode())


async def test_grant_list_and_revoke_the_admin_role(
    environ: dict[str, str], accounts: None
) -> None:
    assert (await mailstore(environ, "admin", "list")).out == ""

    granted = await mailstore(environ, "admin", "grant", "Bob@LocalPost.test")
    assert granted.code == 0, granted.err
    assert "bob@localpost.test is now an administrator" in granted.err
    assert (await mailstore(environ, "admin", "grant", ALICE)).code == 0
    assert (await mailstore(environ, "admin", "grant", ALICE)).code == 0  # twice is fine
    assert (await mailstore(environ, "admin", "list")).out == f"{ALICE}\n{BOB}\n"

    revoked = await mailstore(environ, "admin", "revoke", ALICE)
    assert revoked.code == 0, revoked.err
    assert (await mailstore(environ, "admin", "list")).out == f"{BOB}\n"


async def test_disable_and_enable_an_account(
    environ: dict[str, str], accounts: None, pool: Any
) -> None:
    disabled = await mailstore(environ, "admin", "disable", ALICE)
    assert disabled.code == 0, disabled.err
    assert f"{ALICE} is disabled" in disabled.err
    assert await pool.fetchval(
        "SELECT disabled_at IS NOT NULL FROM accounts WHERE address = $1", ALICE
    )
    assert not await pool.fetchval(
        "SELECT disabled_at IS NOT NULL FROM accounts WHERE address = $1", BOB
    )

    enabled = await mailstore(environ, "admin", "enable", ALICE)
    assert enabled.code == 0, enabled.err
    assert not await pool.fetchval(
        "SELECT disabled_at IS NOT NULL FROM accounts WHERE address = $1", ALICE
    )


async def test_quota_sets_an_accounts_own_limit_and_returns_it_to_the_default(
    environ: dict[str, str], accounts: None, pool: Any
) -> None:
    async def own() -> int | None:
        value: int | None = await pool.fetchval(
            "SELECT quota FROM accounts WHERE address = $1", ALICE
        )
        return value

    environ = {**environ, "LOCALPOST_DEFAULT_QUOTA": "1GiB"}
    outcome = await mailstore(environ, "admin", "quota", ALICE, "2GiB")
    assert outcome.code == 0, outcome.err
    assert outcome.out == f"{ALICE} holds 0 bytes, a limit of {2 * 1024**3} bytes\n"
    assert await own() == 2 * 1024**3

    outcome = await mailstore(environ, "admin", "quota", ALICE, "default")
    assert (
        outcome.out
        == f"{ALICE} holds 0 bytes, a limit of {1024**3} bytes (LOCALPOST_DEFAULT_QUOTA)\n"
    )
    assert await own() is None

    bad = await mailstore(environ, "admin", "quota", ALICE, "lots")
    assert bad.code == 2
    assert "not a size" in bad.err
    missing = await mailstore(environ, "admin", "quota", "nobody@localpost.test", "1MB")
    assert (missing.code, missing.out) == (1, "")
    assert "no account has the address" in missing.err


@pytest.mark.parametrize(
    "address", ["nobody@localpost.test", "", "alice", "a\x7fb@localpost.test", "x" * 5000]
)
async def test_an_address_with_no_account_is_a_clear_error(
    environ: dict[str, str], accounts: None, address: str
) -> None:
    commands = [("admin", action, address) for action in ("grant", "revoke", "disable", "enable")]
    for command in (*commands, ("reset-password", address)):
        outcome = await mailstore(environ, *command)
        assert outcome.code == 1
        assert "no account has the address" in outcome.err
        assert outcome.out == ""
        assert "Traceback" not in outcome.err


async def test_a_missing_database_is_a_clear_error(environ: dict[str, str]) -> None:
    missing = with_database(environ["DATABASE_URL"], "localpost_never_created")
    outcome = await mailstore({**environ, "DATABASE_URL": missing}, "admin", "list")
    assert outcome.code == 1
    assert "the database DATABASE_URL names does not exist" in outcome.err
    assert "Traceback" not in outcome.err


async def test_a_database_older_than_the_command_is_a_clear_error(
    environ: dict[str, str],
) -> None:
    # Migrated up to 0013 only: the schema of a mail store from before migration 0015.
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"mailstore_cli_old_{secrets.token_hex(6)}"
    con = await asyncpg.connect(server)
    await db.create_database(con, name=name)
    try:
        pool = await asyncpg.create_pool(with_database(server, name), min_size=1, max_size=1)
        try:
            await apply_migrations(pool, upto=13)
        finally:
            await pool.close()
        outcome = await mailstore(
            {**environ, "DATABASE_URL": with_database(server, name)}, "admin", "list"
        )
    finally:
        await db.drop_database(con, name=name)
        await con.close()
    assert outcome.code == 1
    assert "schema is older than this command" in outcome.err
    assert "Traceback" not in outcome.err


async def test_an_unreachable_database_is_a_clear_error(environ: dict[str, str]) -> None:
    # Port 9 (discard) on loopback: nothing listens there.
    outcome = await mailstore(
        {**environ, "DATABASE_URL": "postgresql://user:hunter2secret@127.0.0.1:9/x"},
        "admin",
        "list",
    )
    assert outcome.code == 1
    assert "cannot use the database" in outcome.err
    assert "hunter2secret" not in outcome.err


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("admin",), "required: ACTION"),
        (("admin", "promote", ALICE), "invalid choice"),
        (("admin", "grant"), "required: ADDRESS"),
        (("reset-password", ALICE, "--hours", "0"), "1-168"),
        (("reset-password", ALICE, "--hours", "1e3"), "1-168"),
        (("reset-password", ALICE, "--base-url", "javascript:alert(1)"), "http or https"),
        (("frobnicate",), "invalid choice"),
    ],
)
async def test_usage_errors_exit_2(
    environ: dict[str, str], args: tuple[str, ...], problem: str
) -> None:
    outcome = await mailstore(environ, *args)
    assert outcome.code == 2
    assert problem in outcome.err


async def test_a_configuration_error_names_its_variable(environ: dict[str, str]) -> None:
    outcome = await mailstore({**environ, "LOCALPOST_WEB_URL": "ftp://x"}, "admin", "list")
    assert outcome.code == 2
    assert "LOCALPOST_WEB_URL" in outcome.err


async def test_reset_password_prints_a_one_time_link_whose_hash_alone_is_stored(
    environ: dict[str, str], accounts: None, pool: Any
) -> None:
    outcome = await mailstore(environ, "reset-password", ALICE.upper())
    assert outcome.code == 0, outcome.err
    link = outcome.out.strip()
    assert link.startswith("https://mail.localpost.test/reset/")
    secret = link.rpartition("/")[2]
    assert len(secret) >= 43
    assert "works once" in outcome.err

    row = await pool.fetchrow(
        "SELECT token_hash, expires_at - created_at AS valid FROM password_resets"
    )
    assert row["token_hash"] == hashlib.sha256(secret.encode()).digest()
    assert row["valid"].total_seconds() == 24 * 3600


async def test_a_new_link_replaces_the_earlier_one_and_base_url_and_hours_apply(
    environ: dict[str, str], accounts: None, pool: Any
) -> None:
    first = (await mailstore(environ, "reset-password", ALICE)).out.strip()
    second = await mailstore(
        environ, "reset-password", ALICE, "--base-url", "http://10.0.0.5:8080/", "--hours", "2"
    )
    assert second.code == 0, second.err
    link = second.out.strip()
    assert link.startswith("http://10.0.0.5:8080/reset/")
    assert link.rpartition("/")[2] != first.rpartition("/")[2]

    rows = await pool.fetch(
        "SELECT token_hash, expires_at - created_at AS valid FROM password_resets"
    )
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(link.rpartition("/")[2].encode()).digest()
    assert rows[0]["valid"].total_seconds() == 2 * 3600
