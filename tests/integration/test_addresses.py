"""Issue 16's address kinds through the whole stack: subaddresses, aliases, lists and
catch-alls over SMTP.

Aliases, lists and catch-alls are made with ``python -m mailstore alias|list|catchall``
in the mail store's own environment, as an operator would; the mail goes through our
SMTP gateway, RabbitMQ and the mail store's consumer into PostgreSQL. The list policy
replies are read with Python's own smtplib, a client we did not write.
"""

from __future__ import annotations

import asyncio
import smtplib
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


async def mailstore_command(stack: LocalStack | None, *args: str) -> str:
    """``python -m mailstore ARGS`` in the mail store's environment; its stdout."""
    if stack is None:
        pytest.skip(f"the {args[0]} command needs the mail store's environment (a local stack)")
    return await stack.mailstore_command(*args)


async def add_alias(stack: LocalStack | None, alias: str, *targets: str) -> None:
    out = await mailstore_command(stack, "alias", "add", alias, *targets)
    assert out == f"{alias} -> {', '.join(sorted(targets))}\n"


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


# -- lists and catch-alls ---------------------------------------------------------------------


def rcpt_replies(server: tuple[str, int], sender: str, *recipients: str) -> list[tuple[int, str]]:
    """Each RCPT's reply on the delivery port to Python's smtplib, after MAIL ``sender``."""
    with smtplib.SMTP(*server, timeout=20) as client:
        client.ehlo("client.example.org")
        code, _ = client.mail(sender)
        assert code == 250
        return [
            (code, text.decode())
            for code, text in (client.rcpt(recipient) for recipient in recipients)
        ]


async def make_list(stack: LocalStack | None, address: str, policy: str, *members: str) -> None:
    await mailstore_command(stack, "list", "create", address, "--policy", policy)
    out = await mailstore_command(stack, "list", "add", address, *members)
    assert out == f"{address} ({policy}) -> {', '.join(sorted(members))}\n"


async def test_lists_deliver_once_per_member_with_list_fields_by_their_policy(
    stack: LocalStack | None, endpoints: Endpoints, mailstore: MailstoreAPI
) -> None:
    tag, alice, bob = await alice_and_bob(mailstore, endpoints.domain)
    carol, dave = f"carol{tag}@{endpoints.domain}", f"dave{tag}@{endpoints.domain}"
    for address in (carol, dave):
        await mailstore.create_account(address, PASSWORD)
    team, devs = f"team{tag}@{endpoints.domain}", f"devs{tag}@{endpoints.domain}"
    staff, public = f"staff{tag}@{endpoints.domain}", f"public{tag}@{endpoints.domain}"
    # team: alice, bob and devs; devs: carol and team again (a loop).
    await make_list(stack, devs, "members", carol, alice)
    await make_list(stack, team, "members", alice, bob, devs)
    await mailstore_command(stack, "list", "add", devs, team)
    await make_list(stack, staff, "local", carol)
    await make_list(stack, public, "anyone", bob, carol)

    outside = await asyncio.to_thread(
        rcpt_replies, endpoints.smtp, "stranger@example.org", team, staff, public
    )
    null_sender = await asyncio.to_thread(rcpt_replies, endpoints.smtp, "", team, public)
    refused = (550, f"5.7.1 {replies.SENDER_NOT_AUTHORIZED.text}")
    assert outside == [refused, refused, (250, outside[2][1])]
    assert null_sender == [refused, (250, null_sender[1][1])]

    # A member posts to team, once through devs too: everyone else gets one copy.
    async with SMTPClient(*endpoints.submission, username=alice, password=PASSWORD) as client:
        posted = await client.send_message(alice, [team], "To the team", "hello\n")
    assert list(posted.accepted) == [team]
    # Dave is no member of team, but one of our accounts: staff takes him.
    async with SMTPClient(*endpoints.submission, username=dave, password=PASSWORD) as client:
        with pytest.raises(SMTPRecipientsRefused) as caught:
            await client.send_message(dave, [team], "Let me in", "x\n")
        to_staff = await client.send_message(dave, [staff], "To staff", "y\n")
    response = caught.value.refused[team]
    assert (response.code, response.status) == (550, "5.7.1")
    assert list(to_staff.accepted) == [staff]

    (bob_copy,) = await inbox_raws(mailstore, bob, 1)
    carol_copies = await inbox_raws(mailstore, carol, 2)
    for raw in (bob_copy, carol_copies[0]):
        assert raw.startswith(
            f"Delivered-To: {team}\r\nList-Id: <team{tag}.{endpoints.domain}>\r\n"
            f"List-Post: <mailto:{team}>\r\n".encode()
        )
        assert b"Subject: To the team" in raw
    assert carol_copies[1].startswith(f"Delivered-To: {staff}\r\nList-Id:".encode())
    # The sender has it in Sent, not in the Inbox; nobody has it twice.
    assert await mailstore.wait_for(alice, 1, folder="sent")
    assert await mailstore.folder(alice) == []
    assert len(await mailstore.folder(bob)) == 1
    assert len(await mailstore.folder(carol)) == 2
    assert await mailstore.folder(dave) == []


async def test_a_catch_all_takes_unknown_addresses_of_its_domain(
    stack: LocalStack | None, endpoints: Endpoints, mailstore: MailstoreAPI
) -> None:
    tag, alice, _ = await alice_and_bob(mailstore, endpoints.domain)
    caught, after = f"sales{tag}@{endpoints.domain}", f"after{tag}@{endpoints.domain}"
    await mailstore_command(stack, "catchall", "set", endpoints.domain, alice)
    try:
        accepted = await asyncio.to_thread(
            rcpt_replies, endpoints.smtp, "someone@example.org", caught
        )
        async with SMTPClient(*endpoints.smtp) as client:
            await client.send_message("someone@example.org", [caught], "Caught", "hi\n")
    finally:
        out = await mailstore_command(stack, "catchall", "unset", endpoints.domain)
    refused = await asyncio.to_thread(rcpt_replies, endpoints.smtp, "someone@example.org", after)

    assert accepted[0][0] == 250
    assert out == f"{endpoints.domain} catch-all off\n"
    (raw,) = await inbox_raws(mailstore, alice, 1)
    assert raw.startswith(f"Delivered-To: {caught}\r\n".encode())
    unavailable = replies.MAILBOX_UNAVAILABLE
    assert refused == [(unavailable.code, f"{unavailable.status} {unavailable.text}")]
