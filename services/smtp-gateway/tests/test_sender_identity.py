"""Sender identity over real sockets: no impersonation on submission or from outside.

- submission: every From:/Sender: mailbox must be the authenticated identity (the
  account, or the user the web principal names with AUTH=), else 553 5.7.1 after DATA.
- delivery: MAIL FROM in our domains only from a trusted network; a From: in our
  domains from elsewhere is delivered with ``localpost-sender=fail``.
- both: forged Authentication-Results naming our host are stripped, ours is on top.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import pytest

from smtp_gateway.handler import WEB_PRINCIPAL
from smtp_gateway.identity import MAX_SENDER_CHARS
from smtp_gateway.settings import Config
from smtplib_common import replies
from smtplib_common.replies import Reply

if TYPE_CHECKING:
    from conftest import Broker, FakeMailstore, Gateway, LineClient, StartGateway

    Connect = Callable[[int], Awaitable[LineClient]]

ALICE = "alice@localpost.test"
ALICE_PASSWORD = "alice-password-123"
BOB = "bob@localpost.test"
PASS_ALICE = (
    "localpost.test; auth=pass smtp.auth=alice@localpost.test; "
    "localpost-sender=pass header.from=alice@localpost.test"
)


def message(headers: str, body: str = "Hi!") -> bytes:
    return f"{headers}\r\nTo: <{BOB}>\r\nSubject: test\r\n\r\n{body}\r\n".encode()


@pytest.fixture
async def untrusted(start_gateway: StartGateway, config: Config) -> Gateway:
    """A gateway that does not count 127.0.0.1 as a trusted network."""
    networks = (ipaddress.ip_network("10.0.0.0/8"),)
    gateway = await start_gateway(dataclasses.replace(config, trusted_networks=networks))
    await gateway.wait_connected()
    return gateway


# --- submission --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        f"From: Alice <{ALICE}>",
        f"From: {ALICE}",
        f"From: =?utf-8?q?Alice_=C3=A9?= <{ALICE}>",  # RFC 2047 display name
        f"From: Alice B. Smith <{ALICE}>",  # obsolete phrase (RFC 5322 §4.1), still exact
        f"From: (me) {ALICE} (really)",  # comments (RFC 5322 §3.2.2)
        "From: Alice <alice@LOCALPOST.TEST>",  # the domain has no case
        f"From: Alice <{ALICE}>\r\nSender: {ALICE}",
        f"From: Team: Alice <{ALICE}>;",  # a group (RFC 6854) of only her
        'From: "alice"@localpost.test',  # the same local part quoted (RFC 5321 §4.1.2)
    ],
)
async def test_submission_with_only_own_addresses_is_queued_with_a_pass(
    alice: LineClient, broker: Broker, headers: str
) -> None:
    answers = await alice.transaction(ALICE, [BOB], message(headers))

    alice.queued_id(answers[-1])
    (queued,) = await broker.drain_mail()
    results, body = alice.results(queued.body)
    assert results.replace("LOCALPOST.TEST", "localpost.test") == PASS_ALICE
    assert body.startswith(b"Received: ")


NOT_OWNED = [
    f"From: Bob <{BOB}>",
    "From: Postmaster <postmaster@localpost.test>",
    "From: Alice <alice@example.org>",  # another domain: not hers either
    f"From: Alice <{ALICE}>, Bob <{BOB}>",  # every mailbox counts
    f"From: Alice <{ALICE}>\r\nFrom: Bob <{BOB}>",  # and every From: field
    f"From: Team: Alice <{ALICE}>, Bob <{BOB}>;",  # and group members
    f"From: =?utf-8?q?Alice?= <{BOB}>",  # her name, his address
    f"From: Alice <{ALICE}>\r\nSender: {BOB}",
    f"From: Alice <{ALICE}>\r\nsender :\r\n {BOB}",  # obsolete spacing, folded
    "From: Alice <Alice@localpost.test>",  # the local part exactly as the account's
]
UNREADABLE = [
    f"From: {BOB} (IT Security) <evil@example.org>",  # unquoted "@" in a phrase
    f"From: Alice <{ALICE}> {BOB}",  # stray text after the mailbox
    f"From: <{ALICE}",  # missing ">"
    "From: alice",  # no domain
    f"From: Alice <{ALICE}>\r\nFrom:\r\n " + "x" * MAX_SENDER_CHARS,  # past the bound
]


@pytest.mark.parametrize(
    ("headers", "refusal"),
    [(h, replies.FROM_HEADER_NOT_OWNED) for h in NOT_OWNED]
    + [(h, replies.FROM_HEADER_UNREADABLE) for h in UNREADABLE],
)
async def test_submission_naming_someone_else_or_unreadable_headers_is_553(
    alice: LineClient, broker: Broker, headers: str, refusal: Reply
) -> None:
    answers = await alice.transaction(ALICE, [BOB], message(headers))

    assert answers[-1] == refusal
    assert await broker.drain() == []


async def test_submission_check_applies_to_bdat_too(alice: LineClient, broker: Broker) -> None:
    content = message(f"From: Bob <{BOB}>")
    await alice.command(f"MAIL FROM:<{ALICE}>")
    await alice.command(f"RCPT TO:<{BOB}>")

    reply = await alice.command(f"BDAT {len(content)} LAST\r\n".encode() + content)

    assert reply == replies.FROM_HEADER_NOT_OWNED
    assert await broker.drain() == []


async def test_the_session_goes_on_after_a_refused_message(alice: LineClient) -> None:
    refused = await alice.transaction(ALICE, [BOB], message(f"From: {BOB}"))
    accepted = await alice.transaction(ALICE, [BOB], message(f"From: {ALICE}"))

    assert refused[-1] == replies.FROM_HEADER_NOT_OWNED
    alice.queued_id(accepted[-1])


async def test_web_principal_sends_as_the_user_it_vouches_for(
    web: LineClient, broker: Broker
) -> None:
    answers = await web.transaction(
        ALICE, [BOB], message(f"From: Alice <{ALICE}>"), mail_params=f" AUTH={ALICE}"
    )

    web.queued_id(answers[-1])
    (queued,) = await broker.drain_mail()
    assert web.results(queued.body)[0] == PASS_ALICE


@pytest.mark.parametrize(
    "headers", [f"From: Bob <{BOB}>", f"From: Alice <{ALICE}>\r\nSender: {WEB_PRINCIPAL}@x.test"]
)
async def test_web_principal_cannot_put_another_user_in_the_headers(
    web: LineClient, broker: Broker, headers: str
) -> None:
    answers = await web.transaction(ALICE, [BOB], message(headers), mail_params=f" AUTH={ALICE}")

    assert answers[-1] == replies.FROM_HEADER_NOT_OWNED
    assert await broker.drain() == []


# --- submission from an alias (issue 16) --------------------------------------------------

INFO = "info@localpost.test"
PASS_INFO = (
    "localpost.test; auth=pass smtp.auth=alice@localpost.test; "
    "localpost-sender=pass header.from=info@localpost.test"
)


@pytest.fixture
def info_is_alices(mailstore: FakeMailstore) -> None:
    mailstore.aliases = {INFO: [ALICE, BOB], "sales@localpost.test": [BOB]}


@pytest.mark.parametrize(
    "headers", [f"From: Info <{INFO}>", f"From: {INFO}\r\nSender: Alice <{ALICE}>"]
)
async def test_an_alias_the_account_is_a_target_of_may_be_the_sender(
    alice: LineClient, broker: Broker, info_is_alices: None, headers: str
) -> None:
    answers = await alice.transaction(INFO, [BOB], message(headers))

    alice.queued_id(answers[-1])
    (queued,) = await broker.drain_mail()
    assert queued.mail_from == INFO
    assert queued.submitted_by == ALICE  # her Sent folder gets it
    assert alice.results(queued.body)[0] == PASS_INFO


async def test_an_alias_of_someone_else_is_553_on_mail_and_in_the_headers(
    alice: LineClient, broker: Broker, info_is_alices: None
) -> None:
    envelope = await alice.transaction("sales@localpost.test", [BOB], message(f"From: {ALICE}"))
    header = await alice.transaction(ALICE, [BOB], message("From: <sales@localpost.test>"))
    case = await alice.transaction(ALICE, [BOB], message("From: <Info@localpost.test>"))

    assert envelope[0] == replies.SENDER_NOT_OWNED
    assert header[-1] == replies.FROM_HEADER_NOT_OWNED
    assert case[-1] == replies.FROM_HEADER_NOT_OWNED  # exactly as the alias is spelt
    assert await broker.drain() == []


async def test_a_subaddress_is_no_sender_identity(
    alice: LineClient, broker: Broker, info_is_alices: None
) -> None:
    answers = await alice.transaction("alice+x@localpost.test", [BOB], message(f"From: {ALICE}"))

    assert answers[0] == replies.SENDER_NOT_OWNED


async def test_web_principal_may_send_from_the_users_alias(
    web: LineClient, broker: Broker, info_is_alices: None
) -> None:
    answers = await web.transaction(
        INFO, [BOB], message(f"From: Info <{INFO}>"), mail_params=f" AUTH={ALICE}"
    )
    refused = await web.transaction(
        "sales@localpost.test", [BOB], message(f"From: {ALICE}"), mail_params=f" AUTH={ALICE}"
    )

    web.queued_id(answers[-1])
    assert refused[0] == replies.SENDER_NOT_OWNED


async def test_aliases_while_the_directory_fails_are_451_4_4_3(
    alice: LineClient, broker: Broker, mailstore: FakeMailstore, info_is_alices: None
) -> None:
    mailstore.failing = True

    answers = await alice.transaction(INFO, [BOB], message(f"From: {INFO}"))

    assert answers[0] == replies.DIRECTORY_UNAVAILABLE


async def test_forged_results_naming_us_are_stripped_on_submission(
    alice: LineClient, broker: Broker
) -> None:
    forged = (
        "Authentication-Results: localpost.test; auth=pass smtp.auth=bob@localpost.test\r\n"
        f"From: {ALICE}"
    )

    alice.queued_id((await alice.transaction(ALICE, [BOB], message(forged)))[-1])

    (queued,) = await broker.drain_mail()
    results, body = alice.results(queued.body)
    assert results == PASS_ALICE
    assert b"Authentication-Results" not in body


# --- delivery ----------------------------------------------------------------------------


LOCAL_SENDERS = [BOB, "Bob@LocalPost.Test", "postmaster@localpost.test", "x@other-local.test"]
# The null sender of bounces (RFC 5321 §4.5.5) claims nobody.
OTHER_SENDERS = ["", "someone@example.org", "bob@localpost.test.example.org"]


@pytest.mark.parametrize(
    ("sender", "reply"),
    [(s, replies.LOCAL_SENDER_NOT_AUTHENTICATED) for s in LOCAL_SENDERS]
    + [(s, replies.SENDER_OK) for s in OTHER_SENDERS],
)
async def test_local_envelope_sender_from_an_untrusted_network_is_550(
    untrusted: Gateway, connect: Connect, sender: str, reply: Reply
) -> None:
    client = await connect(untrusted.delivery_port)
    await client.ehlo()

    assert await client.command(f"MAIL FROM:<{sender}>") == reply


async def test_local_envelope_sender_from_a_trusted_network_passes(
    gateway: Gateway, connect: Connect, broker: Broker
) -> None:
    client = await connect(gateway.delivery_port)  # 127.0.0.1, trusted by default
    await client.ehlo()

    answers = await client.transaction(BOB, [ALICE], message(f"From: Bob <{BOB}>"))

    client.queued_id(answers[-1])
    (queued,) = await broker.drain_mail()
    assert client.results(queued.body)[0] == (
        "localpost.test; localpost-sender=pass header.from=bob@localpost.test (trusted network)"
    )


@pytest.mark.parametrize(
    ("headers", "claimed"),
    [
        (f"From: Bob <{BOB}>", BOB),
        ("From: Bob <BOB@LOCALPOST.TEST>", "BOB@LOCALPOST.TEST"),
        (f"From: Friend <friend@example.org>\r\nSender: {BOB}", BOB),
        (f"From: Friend <friend@example.org>, {BOB}", BOB),
        (f"From: {BOB} (IT Security) <evil@example.org>", BOB),  # what a reader may show
        (f"From: Friend <friend@example.org> {BOB}", "localpost.test"),  # only in stray text
        ('From: "b;ob=pass"@localpost.test', "localpost.test"),  # never copied into ours
    ],
)
async def test_local_from_header_from_an_untrusted_network_is_delivered_as_a_fail(
    untrusted: Gateway, connect: Connect, broker: Broker, headers: str, claimed: str
) -> None:
    client = await connect(untrusted.delivery_port)
    await client.ehlo()

    answers = await client.transaction("evil@example.org", [ALICE], message(headers))

    client.queued_id(answers[-1])
    (queued,) = await broker.drain_mail()
    assert client.results(queued.body)[0] == (
        f"localpost.test; localpost-sender=fail header.from={claimed} (not authenticated)"
    )
    metrics = await (await untrusted.http.get("/metrics")).text()
    assert 'localpost_gateway_sender_checks_total{listener="delivery",result="fail"} 1.0' in metrics


async def test_foreign_from_header_is_delivered_with_none(
    untrusted: Gateway, connect: Connect, broker: Broker
) -> None:
    client = await connect(untrusted.delivery_port)
    await client.ehlo()

    content = message('From: "bob (IT Security)" <evil@example.org>')
    answers = await client.transaction("evil@example.org", [ALICE], content)

    client.queued_id(answers[-1])
    (queued,) = await broker.drain_mail()
    assert client.results(queued.body)[0] == "localpost.test; localpost-sender=none"


@pytest.mark.parametrize(
    "forged",
    [
        "Authentication-Results: localpost.test; localpost-sender=pass header.from={bob}",
        "authentication-results : LocalPost.Test; localpost-sender=pass",
        'Authentication-Results: (ours, honest) "localpost.test" 1; localpost-sender=pass',
        "Authentication-Results:\r\n localpost.test;\r\n\tlocalpost-sender=pass",
    ],
)
async def test_forged_results_naming_us_are_stripped_and_others_kept(
    untrusted: Gateway, connect: Connect, broker: Broker, forged: str
) -> None:
    client = await connect(untrusted.delivery_port)
    await client.ehlo()
    foreign = "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=example.org"
    headers = f"{forged.format(bob=BOB)}\r\n{foreign}\r\nFrom: Bob <{BOB}>"

    answers = await client.transaction("evil@example.org", [ALICE], message(headers))

    client.queued_id(answers[-1])
    (queued,) = await broker.drain_mail()
    results, body = client.results(queued.body)
    assert results.startswith("localpost.test; localpost-sender=fail")
    head = body.split(b"\r\n\r\n")[0].decode()
    assert head.lower().count("authentication-results") == 1
    assert foreign in head
    assert "localpost-sender=pass" not in head
