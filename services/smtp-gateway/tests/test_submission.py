"""The submission listener (RFC 6409): AUTH, sender ownership, the web principal.

``AUTH=`` on MAIL carries the mailbox as xtext (RFC 4954 §5), without angle brackets:
``MAIL FROM:<alice@localpost.test> AUTH=alice@localpost.test``.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme

from smtp_gateway.handler import WEB_PRINCIPAL
from smtp_gateway.keys import LISTENERS, METRICS
from smtp_gateway.settings import Config, TLSFiles
from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import ServerConfig

if TYPE_CHECKING:
    from conftest import Broker, FakeMailstore, Gateway, LineClient, StartGateway

    Connect = Callable[[int], Awaitable[LineClient]]

ALICE = "alice@localpost.test"
ALICE_PASSWORD = "alice-password-123"
BOB = "bob@localpost.test"


async def test_mail_without_auth_is_530(gateway: Gateway, connect: Connect) -> None:
    client = await connect(gateway.submission_port)
    await client.ehlo()

    assert await client.command(f"MAIL FROM:<{ALICE}>") == replies.AUTH_REQUIRED


async def test_wrong_password_is_535(gateway: Gateway, connect: Connect) -> None:
    client = await connect(gateway.submission_port)
    await client.ehlo()

    assert await client.auth_plain(ALICE, "not-her-password") == replies.AUTH_FAILED


async def test_wrong_web_secret_is_535_without_asking_the_directory(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore
) -> None:
    client = await connect(gateway.submission_port)
    await client.ehlo()

    assert await client.auth_plain(WEB_PRINCIPAL, "x" * 40) == replies.AUTH_FAILED
    assert mailstore.lookups == []


async def test_auth_while_the_directory_fails_is_454(
    gateway: Gateway, connect: Connect, mailstore: FakeMailstore
) -> None:
    mailstore.failing = True
    client = await connect(gateway.submission_port)
    await client.ehlo()

    assert await client.auth_plain(ALICE, ALICE_PASSWORD) == replies.TEMP_AUTH_FAILURE
    assert unavailable(gateway, "unavailable") == 1


@pytest.mark.parametrize(
    ("throttle_trusted", "expected"),
    [(False, replies.AUTH_SUCCEEDED), (True, replies.AUTH_THROTTLED)],
    ids=["trusted-network-spared", "throttle-trusted"],
)
async def test_the_gateways_own_auth_throttle_spares_trusted_networks_unless_told(
    start_gateway: StartGateway,
    config: Config,
    connect: Connect,
    throttle_trusted: bool,
    expected: Reply,
) -> None:
    # 127.0.0.1 is in LOCALPOST_TRUSTED_NETWORKS; the library throttles an address after
    # 10 failures in 15 minutes (LOCALPOST_THROTTLE_TRUSTED=1 keeps that for it too).
    limit = ServerConfig().auth_throttle_failures
    assert limit is not None
    gateway = await start_gateway(dataclasses.replace(config, throttle_trusted=throttle_trusted))

    async def fail(times: int) -> None:
        client = await connect(gateway.submission_port)
        await client.ehlo()
        for _ in range(times):
            assert await client.auth_plain(ALICE, "not-her-password") == replies.AUTH_FAILED

    await asyncio.gather(*(fail(2) for _ in range(limit // 2)))
    client = await connect(gateway.submission_port)
    await client.ehlo()

    assert await client.auth_plain(ALICE, ALICE_PASSWORD) == expected


SlowLogin = Callable[..., Awaitable[tuple["Gateway", Reply]]]


@pytest.fixture
def slow_login(
    start_gateway: StartGateway, config: Config, connect: Connect, mailstore: FakeMailstore
) -> SlowLogin:
    """``await slow_login(delay, directory_timeout=…, auth_timeout=…)``: the gateway with
    these budgets, and its answer to Alice's AUTH when each login check takes ``delay``."""

    async def login(
        delay: float, *, directory_timeout: float, auth_timeout: float
    ) -> tuple[Gateway, Reply]:
        mailstore.verify_delay = delay
        gateway = await start_gateway(
            dataclasses.replace(
                config, directory_timeout=directory_timeout, auth_timeout=auth_timeout
            )
        )
        client = await connect(gateway.submission_port)
        await client.ehlo()
        return gateway, await client.auth_plain(ALICE, ALICE_PASSWORD)

    return login


async def test_login_check_slower_than_the_lookup_timeout_still_succeeds(
    slow_login: SlowLogin,
) -> None:
    # The defect: bcrypt on a loaded machine outlasted the mailbox lookup's timeout,
    # which AUTH shared, and a correct password got 454.
    gateway, reply = await slow_login(0.8, directory_timeout=0.3, auth_timeout=5.0)

    assert reply == replies.AUTH_SUCCEEDED
    registry = gateway.app[METRICS].registry
    assert registry.get_sample_value("localpost_gateway_auth_verify_seconds_count") == 1
    assert registry.get_sample_value("localpost_gateway_auth_verify_seconds_sum") >= 0.8
    assert unavailable(gateway, "timeout") == 0


async def test_login_check_past_the_auth_budget_is_454_and_counted(
    slow_login: SlowLogin,
) -> None:
    gateway, reply = await slow_login(0.6, directory_timeout=5.0, auth_timeout=0.2)

    assert reply == replies.TEMP_AUTH_FAILURE
    assert unavailable(gateway, "timeout") == 1


def unavailable(gateway: Gateway, reason: str) -> float:
    """localpost_gateway_auth_checks_unavailable_total{reason=...}, 0 when never counted."""
    registry = gateway.app[METRICS].registry
    name = "localpost_gateway_auth_checks_unavailable_total"
    return registry.get_sample_value(name, {"reason": reason}) or 0.0


async def test_authzid_for_someone_else_is_refused(gateway: Gateway, connect: Connect) -> None:
    client = await connect(gateway.submission_port)
    await client.ehlo()
    token = base64.b64encode(f"{BOB}\0{ALICE}\0{ALICE_PASSWORD}".encode()).decode()

    assert await client.command(f"AUTH PLAIN {token}") == replies.AUTH_FAILED


async def test_own_mail_is_queued_with_submitted_by(alice: LineClient, broker: Broker) -> None:
    answers = await alice.transaction(ALICE, [BOB], alice.message())

    message_id = alice.queued_id(answers[-1])
    (queued,) = await broker.drain()
    assert queued.message_id == message_id
    assert queued.headers["x-localpost-mail-from"] == ALICE
    assert queued.headers["x-localpost-submitted-by"] == ALICE
    assert b" with ESMTPA id " in queued.body.split(b"\r\n\r\n")[0]


async def test_sender_is_compared_without_case(alice: LineClient) -> None:
    assert await alice.command("MAIL FROM:<Alice@LocalPost.test>") == replies.SENDER_OK


async def test_spoofed_mail_from_is_553(alice: LineClient) -> None:
    for sender in (BOB, "alice@example.org", ""):
        assert await alice.command(f"MAIL FROM:<{sender}>") == replies.SENDER_NOT_OWNED, sender


async def test_user_may_not_act_for_another_with_auth_param(alice: LineClient) -> None:
    reply = await alice.command(f"MAIL FROM:<{BOB}> AUTH={BOB}")
    assert reply == replies.SENDER_NOT_OWNED
    reply = await alice.command(f"MAIL FROM:<{ALICE}> AUTH={BOB}")
    assert reply == replies.SENDER_NOT_OWNED


async def test_user_may_name_themself_with_auth_param(alice: LineClient) -> None:
    assert await alice.command(f"MAIL FROM:<{ALICE}> AUTH={ALICE}") == replies.SENDER_OK


async def test_submission_does_not_relay(alice: LineClient) -> None:
    await alice.command(f"MAIL FROM:<{ALICE}>")

    assert await alice.command("RCPT TO:<friend@example.org>") == replies.RELAY_DENIED
    assert await alice.command("RCPT TO:<nobody@localpost.test>") == replies.MAILBOX_UNAVAILABLE


async def test_web_principal_sends_for_the_user_it_names(web: LineClient, broker: Broker) -> None:
    answers = await web.transaction(ALICE, [BOB], web.message(), mail_params=f" AUTH={ALICE}")

    message_id = web.queued_id(answers[-1])
    (queued,) = await broker.drain()
    assert queued.message_id == message_id
    assert queued.headers["x-localpost-mail-from"] == ALICE
    assert queued.headers["x-localpost-submitted-by"] == ALICE


@pytest.mark.parametrize(
    "mail",
    [
        f"MAIL FROM:<{ALICE}>",  # no AUTH=
        f"MAIL FROM:<{ALICE}> AUTH=<>",
        f"MAIL FROM:<{ALICE}> AUTH=<{ALICE}>",  # not xtext (RFC 4954 §5): names "<...>"
        f"MAIL FROM:<{ALICE}> AUTH={BOB}",  # MAIL FROM is not the named user
        "MAIL FROM:<ghost@localpost.test> AUTH=ghost@localpost.test",  # no such mailbox
        "MAIL FROM:<ann@example.org> AUTH=ann@example.org",  # not a local user
    ],
)
async def test_web_principal_without_an_existing_auth_user_is_553(
    web: LineClient, mail: str
) -> None:
    assert await web.command(mail) == replies.SENDER_NOT_OWNED


async def test_web_principal_while_the_directory_fails_is_451(
    web: LineClient, mailstore: FakeMailstore
) -> None:
    mailstore.failing = True

    reply = await web.command(f"MAIL FROM:<{ALICE}> AUTH={ALICE}")

    assert reply == replies.DIRECTORY_UNAVAILABLE


# --- plaintext AUTH only from trusted networks ---------------------------------------------


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[TLSFiles, ssl.SSLContext]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    files = TLSFiles(cert=tmp_path / "tls.crt", key=tmp_path / "tls.key")
    cert.private_key_and_cert_chain_pem.write_to_path(str(files.cert))
    cert.private_key_pem.write_to_path(str(files.key))
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return files, client


@pytest.fixture
async def untrusted(
    start_gateway: StartGateway, config: Config, tls_files: tuple[TLSFiles, ssl.SSLContext]
) -> Gateway:
    """A gateway with STARTTLS that does not trust 127.0.0.1 with plaintext AUTH."""
    gateway = await start_gateway(
        dataclasses.replace(
            config,
            tls=tls_files[0],
            trusted_networks=(ipaddress.ip_network("10.0.0.0/8"),),
        )
    )
    await gateway.wait_connected()
    return gateway


async def test_plaintext_auth_from_an_untrusted_network_needs_starttls(
    untrusted: Gateway,
    connect: Connect,
    tls_files: tuple[TLSFiles, ssl.SSLContext],
    broker: Broker,
) -> None:
    client = await connect(untrusted.submission_port)
    ehlo = await client.ehlo()
    assert "STARTTLS" in ehlo.text.split("\n")
    assert not any(line.startswith("AUTH") for line in ehlo.text.split("\n"))
    assert await client.auth_plain(ALICE, ALICE_PASSWORD) == replies.AUTH_NEEDS_TLS

    assert await client.command("STARTTLS") == replies.READY_FOR_TLS
    await client.starttls(tls_files[1])
    await client.ehlo()
    assert await client.auth_plain(ALICE, ALICE_PASSWORD) == replies.AUTH_SUCCEEDED
    answers = await client.transaction(ALICE, [BOB], client.message())

    client.queued_id(answers[-1])
    (queued,) = await broker.drain()
    assert b" with ESMTPSA id " in queued.body.split(b"\r\n\r\n")[0]


# --- implicit TLS (RFC 8314 §3.3, SUBMISSIONS_PORT) ----------------------------------------


async def test_submissions_port_is_opened_only_with_tls_files(gateway: Gateway) -> None:
    assert gateway.app[LISTENERS].submissions is None


async def test_implicit_tls_submission_takes_auth_login_and_keeps_the_sender_rules(
    untrusted: Gateway,
    tls_files: tuple[TLSFiles, ssl.SSLContext],
    broker: Broker,
    connect: Callable[..., Awaitable[LineClient]],
) -> None:
    # 127.0.0.1 is not trusted here: AUTH is offered because TLS is already up.
    client = await connect(untrusted.submissions_port, tls=tls_files[1])
    ehlo = (await client.ehlo()).text.split("\n")
    # TLS is already up: no STARTTLS (RFC 3207 §4.2), and AUTH is offered at once,
    # LOGIN included, which is all Outlook sends.
    assert "STARTTLS" not in ehlo
    assert "AUTH PLAIN LOGIN" in ehlo
    assert await client.command("AUTH LOGIN") == Reply(334, None, "VXNlcm5hbWU6")
    assert (await client.command(base64.b64encode(ALICE.encode()).decode())).code == 334
    reply = await client.command(base64.b64encode(ALICE_PASSWORD.encode()).decode())
    assert reply == replies.AUTH_SUCCEEDED

    # The submission port's rules hold here too: another sender is refused ...
    spoofed = await client.transaction(BOB, [BOB], client.message())
    assert spoofed[0].code == 553, spoofed
    # ... and one's own mail is queued once, marked as authenticated over TLS.
    answers = await client.transaction(ALICE, [BOB], client.message())
    client.queued_id(answers[-1])
    (queued,) = await broker.drain()
    assert b" with ESMTPSA id " in queued.body.split(b"\r\n\r\n")[0]


async def test_a_lists_policy_is_checked_against_the_logged_in_account_not_mail_from(
    alice: LineClient, mailstore: FakeMailstore
) -> None:
    mailstore.aliases["info@localpost.test"] = [ALICE]
    mailstore.lists["team@localpost.test"] = {ALICE}
    mailstore.lists["board@localpost.test"] = {BOB}

    await alice.command("MAIL FROM:<info@localpost.test>")
    team = await alice.command("RCPT TO:<team@localpost.test>")
    board = await alice.command("RCPT TO:<board@localpost.test>")

    assert team.code == 250
    assert board == replies.SENDER_NOT_AUTHORIZED
    assert mailstore.senders == [ALICE, ALICE]
