"""Issue 16's address kinds through the whole stack: subaddresses and aliases over SMTP.

The alias is made with ``python -m mailstore alias add`` in the mail store's own
environment, as an operator would; the mail goes through our SMTP gateway, RabbitMQ
and the mail store's consumer into PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from urllib.parse import quote

import pytest

from smtplib_common import replies
from smtplib_common.client import SMTPClient
from smtplib_common.errors import SMTPRecipientsRefused
from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "a long enough test password"


async def add_alias(stack: LocalStack | None, alias: str, *targets: str) -> None:
    if stack is None:
        pytest.skip("the alias command needs the mail store's environment (a local stack)")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mailstore",
        "alias",
        "add",
        alias,
        *targets,
        env=stack.services["mailstore"].env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert out.decode() == f"{alias} -> {', '.join(sorted(targets))}\n"


async def alice_and_bob(mailstore: MailstoreAPI, domain: str) -> tuple[str, str, str]:
    """A fresh tag and two new accounts named with it."""
    tag = uuid.uuid4().hex[:10]
    alice, bob = f"alice{tag}@{domain}", f"bob{tag}@{domain}"
    await mailstore.create_account(alice, PASSWORD)
    await mailstore.create_account(bob, PASSWORD)
    return tag, alice, bob


async def inbox_raws(mailstore: MailstoreAPI, address: str, count: int) -> list[bytes]:
    """The raw messages of ``address``'s Inbox once it holds ``count``, oldest first."""
    found = await mailstore.wait_for(address, count)
    raws = []
    for summary in reversed(found):
        status, raw = await mailstore.call(
            "GET", f"/v1/accounts/{quote(address)}/messages/{summary['id']}/raw"
        )
        assert status == 200
        raws.append(raw)
    return raws


async def test_a_subaddress_and_an_alias_of_two_accounts_make_one_entry_each(
    stack: LocalStack | None, endpoints: Endpoints, mailstore: MailstoreAPI
) -> None:
    tag, alice, bob = await alice_and_bob(mailstore, endpoints.domain)
    team = f"team{tag}@{endpoints.domain}"
    await add_alias(stack, team, alice, bob)
    alice_tagged = f"alice{tag}+news@{endpoints.domain}"

    async with SMTPClient(*endpoints.smtp) as client:
        both = await client.send_message(
            "someone@example.org", [alice_tagged, team, alice], "To all", "one\n"
        )
        alias_only = await client.send_message("someone@example.org", [team], "Team", "two\n")
        tagged_only = await client.send_message(
            "someone@example.org", [alice_tagged], "Tagged", "three\n"
        )

    assert list(both.accepted) == [alice_tagged, team, alice]
    assert list(alias_only.accepted) == [team]
    assert list(tagged_only.accepted) == [alice_tagged]
    alice_raws = await inbox_raws(mailstore, alice, 3)
    bob_raws = await inbox_raws(mailstore, bob, 2)
    # One entry per account and message: Alice, named by her own address in the first
    # message, gets it once and without Delivered-To; Bob through the alias.
    assert len(await mailstore.folder(alice)) == 3
    assert len(await mailstore.folder(bob)) == 2
    assert not alice_raws[0].startswith(b"Delivered-To:")
    assert b"Subject: To all" in alice_raws[0]
    assert alice_raws[1].startswith(f"Delivered-To: {team}\r\n".encode())
    assert alice_raws[2].startswith(f"Delivered-To: {alice_tagged}\r\n".encode())
    assert bob_raws[0].startswith(f"Delivered-To: {team}\r\n".encode())
    assert b"Subject: To all" in bob_raws[0]
    assert bob_raws[1].startswith(f"Delivered-To: {team}\r\n".encode())


async def test_unknown_addresses_are_still_550_5_1_1(
    endpoints: Endpoints, mailstore: MailstoreAPI
) -> None:
    tag = uuid.uuid4().hex[:10]
    unknown = [f"nobody{tag}@{endpoints.domain}", f"nobody{tag}+x@{endpoints.domain}"]
    async with SMTPClient(*endpoints.smtp) as client:
        with pytest.raises(SMTPRecipientsRefused) as caught:
            await client.send_message("someone@example.org", unknown, "x", "y")
    for address in unknown:
        response = caught.value.refused[address]
        assert (response.code, response.status, response.text) == (
            replies.MAILBOX_UNAVAILABLE.code,
            replies.MAILBOX_UNAVAILABLE.status,
            replies.MAILBOX_UNAVAILABLE.text,
        )


async def test_an_account_submits_from_an_alias_it_belongs_to(
    stack: LocalStack | None, endpoints: Endpoints, mailstore: MailstoreAPI
) -> None:
    tag, alice, bob = await alice_and_bob(mailstore, endpoints.domain)
    info = f"info{tag}@{endpoints.domain}"
    await add_alias(stack, info, alice)
    message = f"From: Info <{info}>\r\nTo: {bob}\r\nSubject: From info\r\n\r\nhi\r\n".encode()

    async with SMTPClient(*endpoints.submission, username=alice, password=PASSWORD) as client:
        await client.send_raw(info, [bob], message)

    (received,) = await mailstore.wait_for(bob, 1)
    (sent,) = await mailstore.wait_for(alice, 1, folder="sent")
    assert received["from"]["address"] == sent["from"]["address"] == info
